import { test, expect, login, islandsReady, hasJs, problems } from '../fixtures/app';
import { ACCOUNT } from '../fixtures/env';
import { expectAccessible } from '../fixtures/a11y';

test('pages require a session and send you back where you were going', async ({ page }) => {
  await page.goto('/secrets');
  await expect(page).toHaveURL(/\/login\?next=%2Fsecrets|\/login\?next=\/secrets/);
  await expect(page.getByRole('heading', { name: 'Sign in to Cloakroom' })).toBeVisible();
  await login(page, '/secrets');
  await expect(page.getByRole('heading', { name: 'Secret sets' })).toBeVisible();
  await expect(page.locator('.who-email')).toHaveText(ACCOUNT.email);
  await expect(page.locator('.who-org')).toHaveText(ACCOUNT.org);
});

test('a wrong password is refused with a generic message', async ({ page }) => {
  await page.goto('/login');
  await islandsReady(page);
  await page.getByLabel('Email').fill(ACCOUNT.email);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(problems(page)).toHaveText('wrong email or password');
  // The focus lands on the problem (moved by the island, or `autofocus` without JS).
  await expect.poll(() => problems(page).evaluate((el) => el === document.activeElement)).toBe(true);
  await expectAccessible(page, 'a refused sign-in');
  await expect(page).toHaveURL(/\/login/);
  expect((await page.context().cookies()).find((c) => c.name === 'cloakroom_session')).toBeUndefined();
});

test('the session cookie is HttpOnly and SameSite=Strict, and sign out ends it', async ({ page }) => {
  await login(page);
  const cookie = (await page.context().cookies()).find((c) => c.name === 'cloakroom_session');
  expect(cookie?.httpOnly).toBe(true);
  expect(cookie?.sameSite).toBe('Strict');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  // The old cookie value no longer opens a page, even if replayed.
  await page.context().addCookies([{ ...cookie!, expires: -1 }]);
  await page.goto('/secrets');
  await expect(page).toHaveURL(/\/login/);
});

test('pages carry a nonce-based CSP; the islands run under it and injected scripts do not', async ({
  page,
  cspViolations,
}) => {
  const res = await page.goto('/login');
  const csp = res!.headers()['content-security-policy'];
  expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]{22,}' 'wasm-unsafe-eval'/);
  expect(csp).not.toContain('unsafe-inline');
  // Signing in, then the islands of the page it leads to hydrate under this policy (the
  // fixture fails the test on any violation it reports).
  await login(page);
  await islandsReady(page);
  if (!hasJs()) return;
  const ran = await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__injected = true';
    document.body.appendChild(s);
    return (window as unknown as { __injected?: boolean }).__injected === true;
  });
  expect(ran).toBe(false);
  await expect.poll(() => cspViolations.length).toBeGreaterThan(0);
  cspViolations.length = 0;
});
