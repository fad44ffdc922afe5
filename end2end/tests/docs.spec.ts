import path from 'node:path';
import { test, expect, login, createSet, uniqueSet, hasJs, islandsReady, apiToken } from '../fixtures/app';
import { ACCOUNT } from '../fixtures/env';

// `make e2e` runs the server with a retention other than the default, so these words
// can only pass if the page reads the configuration in force.
const DAYS = Number(process.env.CLOAKROOM_DELETED_SET_DAYS ?? '30');

test('the delete card says where a deleted set goes and for how long it can be restored', async ({ page }) => {
  await login(page);
  const set = uniqueSet('gone');
  await createSet(page, set);
  const card = page.locator('section.danger-zone');
  await expect(card.getByRole('heading', { name: 'Delete this set' })).toBeVisible();
  await expect(card).toContainText(
    `Moves the set, its values and its history to Recently deleted, where it can be restored for ${DAYS} days. ` +
      'After that it is purged, and that cannot be undone.',
  );
  // Deleting can be undone; only the purge cannot.
  await expect(card).not.toContainText('This cannot be undone');
  await expect(card.getByRole('link', { name: 'Recently deleted' })).toHaveAttribute(
    'href',
    `/orgs/${ACCOUNT.org}/deleted-secrets`,
  );

  await page.getByLabel(`Type "${set}" to confirm`).fill(set);
  await page.getByRole('button', { name: 'Delete set' }).click();
  await page.waitForURL('**/secrets');
  await page.goto(`/orgs/${ACCOUNT.org}/deleted-secrets`);
  await expect(page.getByRole('row').filter({ hasText: set })).toBeVisible();
});

test('the history page offers to compare the previous version with now', async ({ page, request }) => {
  const set = uniqueSet('versions');
  for (const body of ['A=1\nB=2', 'A=1\nB=3']) {
    const res = await request.put(`/api/v1/orgs/${ACCOUNT.org}/secrets/${set}`, {
      headers: { Authorization: `Bearer ${apiToken()}`, 'Content-Type': 'text/plain' },
      data: body,
    });
    expect(res.ok()).toBe(true);
  }
  await login(page);
  await page.goto(`/orgs/${ACCOUNT.org}/secret-versions/${set}`);
  const a = page.getByLabel('Compare', { exact: true });
  const values = await a.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  // "now", the newest version (what the set holds now), then the one before it.
  expect(values.length).toBeGreaterThanOrEqual(3);
  await expect(a).toHaveValue(values[2]);
  await expect(page.getByLabel('with', { exact: true })).toHaveValue('now');
  await page.getByRole('button', { name: 'Compare', exact: true }).click();
  // The last change, not "the same keys with the same values".
  await expect(page.locator('.compare-summary')).toHaveText(/1 different, 1 the same\./);
});

// The README's picture of the set page, taken by the suite so that it shows the page
// as it is. Once, with JavaScript (what most people see).
test('the set page as the README shows it', async ({ page, request }) => {
  test.skip(!hasJs(), 'one picture is enough');
  const set = `payments-api-${Date.now().toString(36)}`;
  const res = await request.put(`/api/v1/orgs/${ACCOUNT.org}/secrets/${set}`, {
    headers: { Authorization: `Bearer ${apiToken()}`, 'Content-Type': 'text/plain' },
    data: [
      'DATABASE_URL="postgres://payments@db.internal/payments"',
      'STRIPE_API_KEY=sk_test_not_a_real_key',
      'SESSION_SECRET=change-me',
      'LOG_LEVEL=info',
      'FEATURE_FLAGS="checkout-v2,refunds"',
    ].join('\n'),
  });
  expect(res.ok()).toBe(true);
  await page.setViewportSize({ width: 1100, height: 900 });
  await login(page);
  await page.goto(`/orgs/${ACCOUNT.org}/secrets/${set}`);
  await islandsReady(page);
  await expect(page.getByRole('heading', { name: set })).toBeVisible();
  await page.screenshot({
    path: path.resolve(__dirname, '../../docs/images/secret-set.png'),
    fullPage: false,
  });
});
