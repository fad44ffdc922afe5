import { test, expect, login, islandsReady, hasJs, apiToken } from '../fixtures/app';
import { ACCOUNT } from '../fixtures/env';

function uniqueEmail(label: string): string {
  return `${label}-${test.info().project.name}-${Date.now().toString(36)}@example.com`;
}

test('an invited person joins with a new password, as a viewer, and has a personal workspace', async ({
  page,
  browser,
}) => {
  await login(page, '/secrets');
  await page.goto(`/orgs/${ACCOUNT.org}/members`);
  const email = uniqueEmail('invitee');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Role', { exact: true }).selectOption('viewer');
  await page.getByRole('button', { name: 'Create invitation' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Invited ${email} as viewer` })).toBeVisible();
  const link = (await page.getByLabel('Invitation link').inputValue()).trim();
  expect(link).toMatch(/\/invite\/cki_/);
  await page.reload();
  await expect(page.getByLabel('Invitation link')).toHaveCount(0);
  await expect(page.getByRole('table', { name: 'Pending invitations' })).toContainText(email);

  // The invitee, in a browser of their own.
  const context = await browser.newContext({
    baseURL: test.info().project.use.baseURL,
    javaScriptEnabled: hasJs(),
  });
  const guest = await context.newPage();
  await guest.goto(link);
  await expect(guest.getByText(`${email} is invited to join "${ACCOUNT.org}" as viewer.`)).toBeVisible();
  await guest.getByLabel('Choose a password').fill('a-long-enough-password');
  await guest.getByRole('button', { name: 'Create account and join' }).click();
  await guest.waitForURL(`**/orgs/${ACCOUNT.org}/secrets`);
  await expect(guest.getByRole('status')).toContainText(`Welcome to "${ACCOUNT.org}"`);
  await expect(guest.locator('.who-email')).toHaveText(email);
  // A viewer sees the sets but no way to change them.
  await expect(guest.getByRole('heading', { name: 'Secret sets' })).toBeVisible();
  await expect(guest.getByRole('heading', { name: 'New secret set' })).toHaveCount(0);
  // The link works once.
  await guest.goto(link);
  await expect(guest.getByText('already used, has expired or does not exist')).toBeVisible();
  // The personal workspace is theirs to change.
  await guest.goto(`/orgs/${ACCOUNT.org}/secrets`);
  await guest.locator('summary', { hasText: ACCOUNT.org }).click();
  await guest.getByRole('link', { name: /\(personal\)/ }).click();
  await guest.waitForURL(/\/orgs\/invitee-.*-personal\/secrets$/);
  await expect(guest.getByRole('heading', { name: 'New secret set' })).toBeVisible();
  await context.close();

  // The owner sees the new member and makes them a member.
  await page.goto(`/orgs/${ACCOUNT.org}/members`);
  const row = page.getByRole('row').filter({ hasText: email });
  await row.getByLabel(`Role of ${email}`, { exact: true }).selectOption('member');
  await row.getByRole('button', { name: `Save role of ${email}` }).click();
  await expect(page.getByRole('status')).toHaveText(`${email} is now member.`);

  // ... and the audit log says so, with who did it.
  await page.goto(`/orgs/${ACCOUNT.org}/audit?action=member.`);
  const log = page.getByRole('table', { name: 'Audit log' });
  await expect(log.getByRole('row').filter({ hasText: `member:${email}` }).filter({ hasText: 'member.role' })).toContainText(
    ACCOUNT.email,
  );
  await expect(log.getByRole('row').filter({ hasText: 'member.join' }).filter({ hasText: email })).toHaveCount(1);
});

test('an API token is shown once, works with the REST API and stops when revoked', async ({ page, request }) => {
  await login(page, '/secrets');
  await page.goto(`/orgs/${ACCOUNT.org}/tokens`);
  await islandsReady(page);
  const name = `laptop-${test.info().project.name}-${Date.now().toString(36)}`;
  await page.getByLabel('Name').fill(name);
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = (await page.getByLabel('API token', { exact: true }).inputValue()).trim();
  expect(token).toMatch(/^ckr_/);
  const whoami = () => request.get('/api/v1/whoami', { headers: { Authorization: `Bearer ${token}` } });
  expect((await (await whoami()).json()).org).toBe(ACCOUNT.org);
  await page.reload();
  await expect(page.getByLabel('API token', { exact: true })).toHaveCount(0);
  const row = page.getByRole('row').filter({ hasText: name });
  await expect(row).toContainText('owner');
  await islandsReady(page);
  await row.getByRole('button', { name: `Revoke ${name}` }).click();
  if (hasJs()) await row.getByRole('button', { name: `Confirm revoke ${name}` }).click();
  await expect(page.getByRole('status')).toHaveText('Revoked the API token; it no longer works.');
  expect((await whoami()).status()).toBe(401);
  // The e2e suite's own token is untouched.
  const mine = await request.get('/api/v1/whoami', { headers: { Authorization: `Bearer ${apiToken()}` } });
  expect(mine.status()).toBe(200);
});

test("another organization's pages answer 404", async ({ page }) => {
  await login(page, '/secrets');
  const res = await page.goto('/orgs/someone-elses-org/secrets');
  expect(res!.status()).toBe(404);
  await expect(page.getByText('organization "someone-elses-org" not found')).toBeVisible();
});
