// WCAG 2.2 AA through axe-core: every page, signed out and in, in every role's view,
// the states that appear only after an action, the dark scheme and a 320 px window.
// Each project runs it twice: with JavaScript (hydrated islands) and without.
// The tests that visit every page get four minutes: without JavaScript each check opens
// a second browser context (see fixtures/a11y.ts), and on two cores that takes 1.6 to
// 2 minutes per test.
//
// What the no-JavaScript project adds to the JavaScript one is only the islands' markup
// before they run, and that does not depend on the role, the colour scheme or the window
// (a role decides whether an island is there, not what it renders). So without
// JavaScript axe checks every page as the owner, who gets every island, and the states
// after an action; the other roles, the dark scheme and axe at 320 px run with
// JavaScript. The 320 px reflow check runs in both (controls hidden until the islands
// run change what fits on a line).
import { test, expect, login, hasJs, uniqueSet, problems, apiToken } from '../fixtures/app';
import { ACCOUNT } from '../fixtures/env';
import { api, expectAccessible, expectNoSidewaysScroll, personWithRole, settled } from '../fixtures/a11y';
import type { APIRequestContext, Page } from '@playwright/test';

test.describe.configure({ mode: 'parallel' });

const org = (path: string) => `/orgs/${ACCOUNT.org}${path}`;

interface Seeded {
  set: string;
  prot: string;
  pull: string;
  dep: string;
}

/** A set used by a deployment that needs a redeploy, a protected set, a pull secret. */
async function seed(request: APIRequestContext): Promise<Seeded> {
  const s = {
    set: uniqueSet('a11y'),
    prot: uniqueSet('a11y-prot'),
    pull: uniqueSet('a11y-pull'),
    dep: uniqueSet('a11y-agent'),
  };
  await api(request, 'put', `/secrets/${s.set}`, {
    secrets: [
      { key: 'DATABASE_URL', value: 'postgres://db/app' },
      { key: 'API_KEY', value: 'k-1' },
    ],
  });
  await api(request, 'put', `/secrets/${s.prot}`, { secrets: [{ key: 'TOKEN', value: 't-1' }] });
  await api(request, 'patch', `/secrets/${s.prot}`, { protected: true });
  await api(request, 'post', '/image-pull-secrets', { name: s.pull, registry: 'ghcr.io', username: 'bot', password: 'pull-pw-1' });
  await api(request, 'put', `/deployments/${s.dep}`, {
    image: 'ghcr.io/acme/agent:1',
    secret_set: s.set,
    image_credentials: s.pull,
  });
  // A deleted set, for the recently deleted list.
  const gone = uniqueSet('a11y-gone');
  await api(request, 'put', `/secrets/${gone}`, { secrets: [{ key: 'OLD', value: 'o-1' }] });
  await api(request, 'delete', `/secrets/${gone}`);
  // The set changes after the deploy, so the deployment needs a redeploy.
  await api(request, 'put', `/secrets/${s.set}`, {
    secrets: [
      { key: 'DATABASE_URL', value: 'postgres://db/app' },
      { key: 'API_KEY', value: 'k-2' },
    ],
  });
  return s;
}

/** Every page of an organization a signed-in person can open. */
/** Every page of the organization; `belowAdmin`: compared sides a member or viewer may
 * compare (a comparison with a protected set is for admins). */
function orgPages(s: Seeded, belowAdmin = false): [string, string][] {
  return [
    ['sets list', org('/secrets')],
    ['set page', org(`/secrets/${s.set}`)],
    ['protected set page', org(`/secrets/${s.prot}`)],
    ['set history with a comparison', org(`/secret-versions/${s.set}?a=1&b=now`)],
    ['set version with its restore preview', org(`/secret-versions/${s.set}/1`)],
    ['restoring one key', org(`/secret-versions/${s.set}/1?key=API_KEY`)],
    ['recently deleted sets', org('/deleted-secrets')],
    ['two sets compared', org(`/secrets-compare?a=${s.set}&b=${belowAdmin ? `${s.set}@1` : s.prot}`)],
    ['find a value', org('/secrets-find')],
    ['pull secrets', org('/image-pull-secrets')],
    ['deployments list', org('/deployments')],
    ['deployment page', org(`/deployments/${s.dep}`)],
    ['new deployment', org('/new-deployment')],
    ['members', org('/members')],
    ['API tokens', org('/tokens')],
    ['audit log', org('/audit')],
    ['account', org('/account')],
    ['new organization', org('/new-organization')],
  ];
}

async function visitAll(page: Page, pages: [string, string][], view: string) {
  for (const [name, url] of pages) {
    const res = await page.goto(url);
    expect(res?.status(), `${name} (${view})`).toBeLessThan(400);
    await expectAccessible(page, `${name} (${view})`);
  }
}

test('the check itself fails on a page with a serious finding', async ({ page }) => {
  await page.goto('/login');
  await settled(page);
  await page.evaluate(() => {
    const p = document.createElement('p');
    p.textContent = 'pale text';
    p.style.color = '#c8c8c8';
    p.style.background = '#ffffff';
    document.querySelector('main')!.append(p);
  });
  await expect(expectAccessible(page, 'a page with pale text')).rejects.toThrow(/color-contrast \(serious\)/);
});

test('signed out: sign-in, setup and invitation links', async ({ page, request }) => {
  // (A refused sign-in is checked in auth.spec.ts: every failed sign-in counts against
  // this machine's address, and the suite keeps well under the limit.)
  await page.goto('/login');
  await expectAccessible(page, 'sign-in');

  await page.goto('/setup?code=not-a-code');
  await expectAccessible(page, 'setup link refused');
  await page.goto('/invite/cki_not-an-invitation');
  await expectAccessible(page, 'invitation link refused');
  const invite = await api(request, 'post', '/invites', {
    email: `a11y-guest-${test.info().project.name}-${Date.now().toString(36)}@example.com`,
    role: 'viewer',
  });
  await page.goto(new URL(invite.invite_url, 'http://x').pathname);
  await expectAccessible(page, 'invitation for a new account');
});

test('owner: every page of an organization', async ({ page, request }) => {
  test.setTimeout(240_000);
  const s = await seed(request);
  await login(page, '/secrets');
  await visitAll(page, orgPages(s), 'owner');
  await page.locator('.switcher summary').click();
  await expect(page.getByRole('link', { name: 'New organization…' })).toBeVisible();
  await expectAccessible(page, 'the workspace switcher, open');
  await page.goto(org(`/image-pull-secrets?replace=${s.pull}`));
  await expectAccessible(page, 'replace a pull secret');
  await page.goto(org('/audit?action=no-such-action'));
  await expectAccessible(page, 'audit log with no matches');
  await page.goto(org('/secrets/no-such-set'));
  await expectAccessible(page, 'a missing set');
  expect((await page.goto('/no-such-page'))?.status()).toBe(404);
  await expectAccessible(page, 'a missing page');
});

test('owner: empty lists of a new organization', async ({ page, request }) => {
  const name = uniqueSet('a11y-empty');
  const res = await request.post('/api/v1/orgs', {
    headers: { Authorization: `Bearer ${apiToken()}` },
    data: { name },
  });
  expect(res.status()).toBe(201);
  await login(page, '/secrets');
  for (const path of ['/secrets', '/image-pull-secrets', '/deployments', '/tokens']) {
    await page.goto(`/orgs/${name}${path}`);
    await expect(page.locator('.empty').first()).toBeVisible();
    await expectAccessible(page, `empty ${path}`);
  }
});

test('owner: states that appear after an action', async ({ page, request }) => {
  test.setTimeout(240_000);
  const s = await seed(request);
  await login(page, '/secrets');
  const setPage = org(`/secrets/${s.set}`);

  // A refused save: the errors under the form (JS) or at the top of the page (no JS).
  await page.goto(setPage);
  await settled(page);
  await page.getByLabel('Key', { exact: true }).fill('BAD KEY');
  if (hasJs()) await expectAccessible(page, 'a key refused as it is typed');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(problems(page).filter({ hasText: 'BAD KEY' }).first()).toBeVisible();
  await expectAccessible(page, 'a refused save');

  // The paste preview (JS) and pasted pairs that do not parse.
  await page.goto(setPage);
  await settled(page);
  await page.getByLabel('Paste KEY=value lines').fill('NEW_ONE=1\nAPI_KEY=3');
  if (hasJs()) {
    await expect(page.locator('#paste-preview')).toHaveText('Will add NEW_ONE and update API_KEY.');
    await expectAccessible(page, 'the paste preview');
  }
  await page.getByLabel('Paste KEY=value lines').fill('=nothing\nok line');
  await page.getByRole('button', { name: 'Save pasted pairs' }).click();
  await expect(problems(page).filter({ hasText: 'line 1' }).first()).toBeVisible();
  await expectAccessible(page, 'pasted pairs refused');

  // An armed confirmation (JS: the first press asks for a second).
  if (hasJs()) {
    await page.getByRole('button', { name: 'Unset API_KEY' }).click();
    await expect(page.getByRole('button', { name: 'Confirm unset API_KEY' })).toBeVisible();
    await expectAccessible(page, 'an armed confirmation');
  }

  // Credentials shown once: an API token, an invitation link, a runtime token.
  await page.goto(org('/tokens'));
  await settled(page);
  await page.getByLabel('Name').fill(uniqueSet('a11y-token'));
  await page.getByRole('button', { name: 'Create token' }).click();
  await expect(page.getByLabel('API token', { exact: true })).toHaveValue(/^ckr_/);
  await expectAccessible(page, 'a new API token');

  await page.goto(org('/members'));
  await page.getByLabel('Email').fill(`a11y-inv-${test.info().project.name}-${Date.now().toString(36)}@example.com`);
  await page.getByRole('button', { name: 'Create invitation' }).click();
  await expect(page.getByLabel('Invitation link')).toHaveValue(/\/invite\/cki_/);
  await expectAccessible(page, 'a new invitation link');

  await page.goto(org(`/deployments/${s.dep}`));
  await settled(page);
  await page.getByRole('button', { name: `Rotate runtime token of ${s.dep}` }).click();
  if (hasJs()) await page.getByRole('button', { name: `Confirm rotate runtime token of ${s.dep}` }).click();
  await expect(page.getByLabel('Runtime token', { exact: true })).toHaveValue(/^ckd_/);
  await expectAccessible(page, 'a new runtime token');

  // A refused plain form (no island): the account page's password change.
  await page.goto(org('/account'));
  await page.getByLabel('Current password').fill('not-the-password');
  await page.getByLabel('New password').fill('another-long-password');
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(problems(page)).toBeVisible();
  await expectAccessible(page, 'a refused password change');
});

for (const role of ['admin', 'member', 'viewer'] as const) {
  test(`${role}: every page as a ${role} sees it`, async ({ browser, request }) => {
    test.skip(!hasJs(), 'a role changes no island markup: the owner run checks it without JavaScript (see the top)');
    test.setTimeout(240_000);
    const s = await seed(request);
    const context = await personWithRole(browser, request, role);
    const page = await context.newPage();
    await visitAll(page, orgPages(s, role !== 'admin'), role);
    await context.close();
  });
}

test('dark colour scheme: every page and the credential and error states', async ({ page, request }) => {
  test.setTimeout(240_000);
  await page.emulateMedia({ colorScheme: 'dark' });
  const s = await seed(request);
  await login(page, '/secrets');
  // Without JavaScript: the no-JS error and credential states below, in the dark scheme.
  if (hasJs()) await visitAll(page, orgPages(s), 'dark');
  await page.goto(org(`/secrets/${s.set}`));
  await settled(page);
  await page.getByLabel('Key', { exact: true }).fill('BAD KEY');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(problems(page).filter({ hasText: 'BAD KEY' }).first()).toBeVisible();
  await expectAccessible(page, 'a refused save (dark)');
  await page.goto(org('/tokens'));
  await page.getByLabel('Name').fill(uniqueSet('a11y-dark'));
  await page.getByRole('button', { name: 'Create token' }).click();
  await expect(page.getByLabel('API token', { exact: true })).toHaveValue(/^ckr_/);
  await expectAccessible(page, 'a new API token (dark)');
  // The scheme really changed: the page background is dark.
  const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  expect(bg).toBe('rgb(13, 17, 23)');
});

test('320 px wide (and 200 % zoom of 640 px): nothing scrolls sideways, nothing is lost', async ({ page, request }) => {
  test.setTimeout(240_000);
  await page.setViewportSize({ width: 320, height: 720 });
  const s = await seed(request);
  await page.goto('/login');
  await expectNoSidewaysScroll(page, 'sign-in');
  await login(page, '/secrets');
  for (const [name, url] of orgPages(s)) {
    await page.goto(url);
    await settled(page);
    await expectNoSidewaysScroll(page, `${name} at 320 px`);
    if (hasJs()) await expectAccessible(page, `${name} at 320 px`);
  }
  // The open workspace menu fits phones of every width, too.
  for (const width of [320, 375, 414, 600]) {
    await page.setViewportSize({ width, height: 720 });
    await page.goto(org('/secrets'));
    await page.locator('.switcher summary').click();
    await expect(page.getByRole('link', { name: 'New organization…' })).toBeVisible();
    await expectNoSidewaysScroll(page, `the open workspace menu at ${width} px`);
  }
});
