import { test, expect, login, islandsReady, problems } from '../fixtures/app';
import { ACCOUNT } from '../fixtures/env';
import { freshServer, type FreshServer } from '../fixtures/fresh-server';
import { expectAccessible } from '../fixtures/a11y';

// A new instance prints a one-time link; only it opens the page that creates the owner
// and the first organization. Each project (JS on, JS off) claims a server of its own.
let server: FreshServer;
test.beforeAll(async () => {
  server = await freshServer();
});
test.afterAll(() => server?.stop());

test('a new instance is claimed only through its one-time setup link', async ({ page }) => {
  // Without the code (or with a wrong one) there is nothing to fill in.
  for (const url of [`${server.base}/setup`, `${server.base}/setup?code=guessed`]) {
    const res = await page.goto(url);
    expect(res!.status()).toBe(403);
    await expect(problems(page)).toContainText('this setup link is not valid');
    await expect(page.getByLabel('Your email')).toHaveCount(0);
  }
  // The printed link opens the form; bad input keeps it usable.
  await page.goto(server.setupLink);
  await expectAccessible(page, 'the setup page');
  await page.getByLabel('Your email').fill('founder@example.com');
  await page.getByLabel('Password (at least 10 characters)').fill('founder-password-1');
  await page.getByLabel('Organization name').fill('Not A Name');
  await page.getByRole('button', { name: 'Create owner and organization' }).click();
  await expect(problems(page)).toContainText('organization name');
  await expectAccessible(page, 'a refused setup');
  await page.getByLabel('Your email').fill('founder@example.com');
  await page.getByLabel('Password (at least 10 characters)').fill('founder-password-1');
  await page.getByLabel('Organization name').fill('founders');
  await page.getByRole('button', { name: 'Create owner and organization' }).click();
  await page.waitForURL(`${server.base}/orgs/founders/secrets`);
  await expect(page.getByRole('status')).toContainText('Cloakroom is set up: you own "founders"');
  await expect(page.locator('.who-email')).toHaveText('founder@example.com');
  // Used once: the same link is dead now.
  const again = await page.goto(server.setupLink);
  expect(again!.status()).toBe(403);
  await expect(page.getByLabel('Your email')).toHaveCount(0);
});

test('anyone signed in creates an organization from the workspace switcher', async ({ page }) => {
  await login(page);
  const name = `made-${test.info().project.name}-${Date.now().toString(36)}`;
  await page.locator('.switcher summary').click();
  await page.getByRole('link', { name: 'New organization…' }).click();
  await page.getByLabel('Organization name').fill(name);
  await page.getByRole('button', { name: 'Create organization' }).click();
  await page.waitForURL(`**/orgs/${name}/secrets`);
  await expect(page.getByRole('status')).toHaveText(`Created organization "${name}": you are its owner.`);
  await expect(page.locator('.who-org')).toHaveText(name);
  await expect(page.locator('.switcher .badge').first()).toHaveText('owner');
});

test('a crafted sign-in link never leaves this site', async ({ page, baseURL }) => {
  for (const next of ['/\t/evil.example/', '//evil.example/', '/%2F/evil.example/', '/\\evil.example/', 'https://evil.example/']) {
    await page.context().clearCookies();
    await page.goto(`/login?next=${encodeURIComponent(next)}`);
    await islandsReady(page);
    await page.getByLabel('Email').fill(ACCOUNT.email);
    await page.getByLabel('Password').fill(ACCOUNT.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname.endsWith('/secrets'));
    expect(new URL(page.url()).origin, next).toBe(new URL(baseURL!).origin);
  }
});
