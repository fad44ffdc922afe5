import { test, expect, login, uniqueSet, apiToken, recordResponses } from '../fixtures/app';
import { ACCOUNT } from '../fixtures/env';
import type { APIRequestContext } from '@playwright/test';

const auth = () => ({ Authorization: `Bearer ${apiToken()}` });

async function put(request: APIRequestContext, set: string, pairs: Record<string, string>) {
  const secrets = Object.entries(pairs).map(([key, value]) => ({ key, value }));
  const res = await request.put(`/api/v1/orgs/${ACCOUNT.org}/secrets/${set}`, { headers: auth(), data: { secrets } });
  expect(res.ok()).toBe(true);
}

test('two sets are compared from the sets list and from a set, without a value', async ({ page, request }) => {
  const staging = uniqueSet('cmp-staging');
  const prod = uniqueSet('cmp-prod');
  await put(request, staging, { SAME: 'cmp-same-value', DIFF: 'cmp-staging-value', ONLY_STAGING: 'cmp-1' });
  await put(request, prod, { SAME: 'cmp-same-value', DIFF: 'cmp-prod-value', ONLY_PROD: 'cmp-2' });
  const seen = recordResponses(page);
  await login(page, `/orgs/${ACCOUNT.org}/secrets`);
  await page.getByRole('link', { name: 'Compare two sets' }).click();
  await page.waitForURL('**/secrets-compare');
  await page.getByLabel('Compare', { exact: true }).fill(staging);
  await page.getByLabel('with', { exact: true }).fill(prod);
  await page.getByRole('button', { name: 'Compare' }).click();
  await page.waitForURL(/secrets-compare\?a=/);
  const result = page.getByRole('region', { name: `${staging} compared with ${prod}` });
  await expect(result.getByRole('list', { name: `Only in ${staging}` })).toHaveText('ONLY_STAGING');
  await expect(result.getByRole('list', { name: `Only in ${prod}` })).toHaveText('ONLY_PROD');
  await expect(result.getByRole('list', { name: 'Different value' })).toHaveText('DIFF');
  await expect(result.getByRole('list', { name: 'Same value' })).toHaveText('SAME');

  // From a set's page the first side is filled in.
  await page.goto(`/orgs/${ACCOUNT.org}/secrets/${prod}`);
  await page.getByRole('link', { name: `Compare ${prod} with another set or a deployment` }).click();
  await expect(page.getByLabel('Compare', { exact: true })).toHaveValue(prod);
  await page.getByLabel('with', { exact: true }).fill(`${prod}@1`);
  await page.getByRole('button', { name: 'Compare' }).click();
  await expect(page.getByText(`${prod} and ${prod} version 1 hold the same keys with the same values.`)).toBeVisible();

  const text = await seen();
  for (const value of ['cmp-same-value', 'cmp-staging-value', 'cmp-prod-value']) expect(text).not.toContain(value);
});

test('an admin finds every place a leaked value lives and follows a link to it', async ({ page, request }) => {
  const set = uniqueSet('leak');
  const copy = uniqueSet('leak-copy');
  const leaked = `leaked-${Date.now().toString(36)}-value`;
  await put(request, set, { API_KEY: leaked });
  await put(request, copy, { COPY: leaked });
  const seen = recordResponses(page);
  await login(page, `/orgs/${ACCOUNT.org}/secrets`);
  await page.getByRole('link', { name: 'Find where a value is used' }).click();
  await page.waitForURL('**/secrets-find');
  await page.getByLabel('Value to find').fill(leaked);
  await page.getByRole('button', { name: 'Find' }).click();
  await expect(page.getByText('Found in 4 places.')).toBeVisible();
  const places = page.getByRole('table', { name: 'Places' });
  await expect(places.getByRole('link', { name: set, exact: true })).toBeVisible();
  await expect(places.getByRole('link', { name: `${copy} version 1` })).toBeVisible();
  await places.getByRole('link', { name: copy, exact: true }).click();
  await page.waitForURL(`**/secrets/${copy}`);
  // Shown once: a reload of the find page shows the empty form again.
  await page.goto(`/orgs/${ACCOUNT.org}/secrets-find`);
  await expect(page.getByRole('table', { name: 'Places' })).toHaveCount(0);
  expect(await seen()).not.toContain(leaked);
});
