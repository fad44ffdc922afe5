import { defineConfig } from '@playwright/test';

// Debian's Chromium, never a downloaded browser.
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: './tests',
  globalSetup: './fixtures/global-setup.ts',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 2,
  retries: 0,
  // The JSON report lets `make e2e` prove that tests ran and passed (a failed build
  // inside `cargo leptos end-to-end` must not look like success).
  reporter: [['list'], ['json', { outputFile: '.state/results.json' }]],
  use: {
    baseURL: process.env.BASE_URL ?? 'http://127.0.0.1:3000',
    // Recording a trace (DOM snapshots and screenshots at every step) costs every test,
    // passing or not; `PW_TRACE=1` turns it on to debug a failure locally.
    trace: process.env.PW_TRACE ? 'retain-on-failure' : 'off',
    launchOptions: {
      executablePath,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  // Every spec runs twice: hydrated islands, and plain server-rendered forms.
  projects: [
    { name: 'js', use: { javaScriptEnabled: true } },
    { name: 'nojs', use: { javaScriptEnabled: false } },
  ],
});
