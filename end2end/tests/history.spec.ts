import { test, expect, login, uniqueSet, hasJs, islandsReady, restSet, apiToken, recordResponses } from '../fixtures/app';
import { ACCOUNT } from '../fixtures/env';
import type { APIRequestContext } from '@playwright/test';

// Values that must never reach a page about history.
const V1_A = 'hist-a x y';
const V1_B = 'hist-b a=b';
const V2_A = 'hist-a changed';

const auth = () => ({ Authorization: `Bearer ${apiToken()}` });

async function put(request: APIRequestContext, set: string, pairs: Record<string, string>) {
  const secrets = Object.entries(pairs).map(([key, value]) => ({ key, value }));
  const res = await request.put(`/api/v1/orgs/${ACCOUNT.org}/secrets/${set}`, { headers: auth(), data: { secrets } });
  expect(res.ok()).toBe(true);
}

/** Version 1 {A, B}, version 2 without B, version 3 with A changed. */
async function seedHistory(request: APIRequestContext, set: string) {
  await put(request, set, { A: V1_A, B: V1_B });
  const res = await request.delete(`/api/v1/orgs/${ACCOUNT.org}/secrets/${set}/B`, { headers: auth() });
  expect(res.status()).toBe(204);
  await put(request, set, { A: V2_A });
}

test('the history lists versions and compares two of them, never showing a value', async ({ page, request }) => {
  const set = uniqueSet('hist');
  await seedHistory(request, set);
  const seen = recordResponses(page);
  await login(page, `/orgs/${ACCOUNT.org}/secrets/${set}`);
  await page.getByRole('link', { name: `Versions of ${set}` }).click();
  await page.waitForURL(`**/secret-versions/${set}`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(`History of ${set}`);
  const rows = page.getByRole('table', { name: 'Versions' }).getByRole('row');
  await expect(rows).toHaveCount(4);
  await expect(rows.nth(1)).toContainText('changed A');
  await expect(rows.nth(2)).toContainText('removed B');
  await expect(rows.nth(3)).toContainText('added A, B');
  await expect(rows.nth(1)).toContainText(ACCOUNT.email);

  // Version 1 against the set now.
  await page.getByLabel('Compare', { exact: true }).selectOption('1');
  await page.getByLabel('with', { exact: true }).selectOption('now');
  await page.getByRole('button', { name: 'Compare' }).click();
  await page.waitForURL(/a=1&b=now/);
  const result = page.getByRole('region', { name: `${set} version 1 compared with ${set} now` });
  await expect(result.getByRole('list', { name: `Only in ${set} version 1` })).toHaveText('B');
  await expect(result.getByRole('list', { name: 'Different value' })).toHaveText('A');
  await expect(result.locator('.compare-summary')).toHaveText(
    `1 only in ${set} version 1, 0 only in ${set} now, 1 different, 0 the same.`,
  );

  // Two versions: 2 and 3 differ only in A's value.
  await page.getByLabel('Compare', { exact: true }).selectOption('2');
  await page.getByLabel('with', { exact: true }).selectOption('3');
  await page.getByRole('button', { name: 'Compare' }).click();
  await page.waitForURL(/a=2&b=3/);
  const second = page.getByRole('region', { name: `${set} version 2 compared with ${set} version 3` });
  await expect(second.getByRole('list', { name: 'Different value' })).toHaveText('A');
  await expect(second.locator('.compare-summary')).toHaveText(
    `0 only in ${set} version 2, 0 only in ${set} version 3, 1 different, 0 the same.`,
  );

  const text = await seen();
  for (const value of [V1_A, V1_B, V2_A]) expect(text).not.toContain(value);
});

test('one key is restored from an old version after its preview', async ({ page, request }) => {
  const set = uniqueSet('restore');
  await seedHistory(request, set);
  const before = await restSet(request, set);
  await login(page, `/orgs/${ACCOUNT.org}/secret-versions/${set}`);
  await page.getByRole('link', { name: 'Version 1', exact: true }).click();
  await page.waitForURL(`**/secret-versions/${set}/1`);
  const keys = page.getByRole('table', { name: 'Keys of this version' });
  const keyRow = (k: string) => keys.getByRole('row').filter({ has: page.getByRole('cell', { name: k, exact: true }) });
  await expect(keyRow('B')).toContainText('not in the set');
  await expect(keyRow('A')).toContainText('different value');

  await keyRow('B').getByRole('link', { name: 'Restore B…' }).click();
  await page.waitForURL(/key=B/);
  const preview = page.getByRole('region', { name: 'Restore B from version 1' });
  await expect(preview.getByRole('listitem')).toHaveText(['adds back B']);
  await islandsReady(page);
  await preview.getByRole('button', { name: `Restore B from version 1 of ${set}` }).click();
  if (hasJs()) await preview.getByRole('button', { name: `Confirm restore B from version 1 of ${set}` }).click();
  await page.waitForURL(`**/secrets/${set}`);
  await expect(page.getByRole('status')).toContainText(`Restored "${set}" from version 1 as version 4: added back B.`);

  const after = await restSet(request, set);
  const print = (s: typeof after, k: string) => s.keys.find((x) => x.key === k)?.fingerprint;
  expect(print(after, 'A')).toBe(print(before, 'A'));
  const v1 = await (await request.get(`/api/v1/orgs/${ACCOUNT.org}/secret-versions/${set}/1`, { headers: auth() })).json();
  expect(print(after, 'B')).toBe(v1.keys.find((k: { key: string }) => k.key === 'B').fingerprint);
});

test('a deleted set is restored from the recently deleted list', async ({ page, request }) => {
  const set = uniqueSet('undel');
  await put(request, set, { K: 'undelete me' });
  const before = await restSet(request, set);
  const res = await request.delete(`/api/v1/orgs/${ACCOUNT.org}/secrets/${set}`, { headers: auth() });
  expect(res.status()).toBe(204);

  await login(page, `/orgs/${ACCOUNT.org}/secrets`);
  await page.getByRole('link', { name: 'Recently deleted sets' }).click();
  await page.waitForURL('**/deleted-secrets');
  const row = page.getByRole('row').filter({ hasText: set });
  await expect(row).toContainText(ACCOUNT.email);
  await row.getByRole('button', { name: `Restore ${set}` }).click();
  await page.waitForURL(`**/secrets/${set}`);
  await expect(page.getByRole('status')).toHaveText(`Restored secret set "${set}" with its keys and history.`);
  const after = await restSet(request, set);
  const prints = (s: typeof after) => s.keys.map((k) => [k.key, k.fingerprint]);
  expect(prints(after)).toEqual(prints(before));
});
