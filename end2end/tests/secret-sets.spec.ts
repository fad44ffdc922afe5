import {
  test,
  expect,
  problems,
  login,
  createSet,
  uniqueSet,
  hasJs,
  islandsReady,
  sameValues,
  recordResponses,
  apiToken,
} from '../fixtures/app';
import { ACCOUNT } from '../fixtures/env';

// The seven forms from the product rules and the `.env` forms (export, a reference to
// an earlier key, an escaped `$`), with the values they must store.
const PASTE = [
  'SIMPLE=value',
  'KEY="value with spaces"',
  '"KEY2=value with spaces"',
  'EQ=value=with=equals',
  `'QUOTED=value "quoted" here'`,
  'ESCAPED="value \\"quoted\\" here"',
  `WIN='C:\\path\\to\\dir'`,
  '# a comment line',
  'MULTI="first line',
  'second line  "',
  'LEAKCHECK="pw-7Hq2 Zx9!\\$HOME"',
  "export EXPORTED='from a .env file' # exported",
  'REF="${SIMPLE}-ref"',
].join('\n');
const EXPECTED: Record<string, string> = {
  SIMPLE: 'value',
  KEY: 'value with spaces',
  KEY2: 'value with spaces',
  EQ: 'value=with=equals',
  QUOTED: 'value "quoted" here',
  ESCAPED: 'value "quoted" here',
  WIN: 'C:\\path\\to\\dir',
  MULTI: 'first line\nsecond line  ',
  LEAKCHECK: 'pw-7Hq2 Zx9!$HOME',
  EXPORTED: 'from a .env file',
  REF: 'value-ref',
};
const ROW_VALUE = 'row-secret-Vb83 with = and " and trailing  ';

test('create a set, add a row, paste pairs, unset a key and delete the set', async ({ page, request }) => {
  const responses = recordResponses(page);
  await login(page);
  const set = uniqueSet('app');
  await createSet(page, set);
  await expect(page.getByText('This set has no keys yet.')).toBeVisible();

  // One row through the key/value form; the value field is masked.
  await page.getByLabel('Key', { exact: true }).fill('DATABASE_URL');
  const value = page.getByLabel('Value', { exact: true });
  await value.fill(ROW_VALUE);
  await expect(value).toHaveAttribute('type', 'password');
  if (hasJs()) {
    await expect(page.getByText('new key')).toBeVisible();
    await page.getByRole('button', { name: 'Show' }).click();
    await expect(value).toHaveAttribute('type', 'text');
  }
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByRole('status')).toHaveText(`Saved "${set}": added DATABASE_URL.`);
  await islandsReady(page);
  const keys = page.getByRole('table', { name: 'Keys' });
  await expect(keys).toContainText('DATABASE_URL');

  // Paste: preview first (with JavaScript), then an atomic save.
  await page.getByLabel('Paste KEY=value lines').fill(PASTE);
  if (hasJs()) {
    await expect(page.locator('.preview')).toHaveText(
      `Will add ${Object.keys(EXPECTED).join(', ')}.`,
    );
  }
  await page.getByRole('button', { name: 'Save pasted pairs' }).click();
  await expect(page.getByRole('status')).toHaveText(
    `Saved "${set}": added ${Object.keys(EXPECTED).join(', ')}.`,
  );
  await islandsReady(page);
  for (const k of Object.keys(EXPECTED)) {
    await expect(keys.getByRole('cell', { name: k, exact: true })).toBeVisible();
  }

  // Byte-exact storage: the server finds each stored value equal to the intended one.
  const intended = { ...EXPECTED, DATABASE_URL: ROW_VALUE };
  expect((await sameValues(request, set, intended)).sort()).toEqual(Object.keys(intended).sort());

  // Updating an existing key through the rows form.
  await page.getByLabel('Key', { exact: true }).fill('SIMPLE');
  if (hasJs()) await expect(page.getByText('replaces the current value')).toBeVisible();
  await page.getByLabel('Value', { exact: true }).fill('changed');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByRole('status')).toHaveText(`Saved "${set}": updated SIMPLE.`);
  await islandsReady(page);

  // Unset one key (with JavaScript the first click asks to confirm).
  await page.getByRole('button', { name: 'Unset SIMPLE' }).click();
  if (hasJs()) await page.getByRole('button', { name: 'Confirm unset SIMPLE' }).click();
  await expect(page.getByRole('status')).toHaveText(`Unset SIMPLE from "${set}".`);
  await expect(keys.getByRole('cell', { name: 'SIMPLE', exact: true })).toHaveCount(0);
  await expect(keys.getByRole('cell', { name: 'KEY', exact: true })).toBeVisible();
  await islandsReady(page);

  // Delete the set, confirming by name.
  const del = page.getByRole('button', { name: 'Delete set' });
  if (hasJs()) await expect(del).toBeDisabled();
  await page.getByLabel(`Type "${set}" to confirm`).fill(set);
  await del.click();
  await page.waitForURL('**/secrets');
  await expect(page.getByRole('status')).toHaveText(`Deleted secret set "${set}".`);
  await expect(page.getByRole('link', { name: set })).toHaveCount(0);

  // No value ever came back from the server, in any page, script or JSON answer.
  const seen = await responses();
  for (const v of [ROW_VALUE.trim(), EXPECTED.LEAKCHECK, EXPECTED.WIN, 'first line\nsecond']) {
    expect(seen.includes(v), `value ${JSON.stringify(v)} appeared in a response`).toBe(false);
  }
});

test('invalid input is flagged while typing and refused by the server in the same words', async ({ page }) => {
  await login(page);
  const set = uniqueSet('bad');
  await createSet(page, set);
  const keyRule = 'key "DB URL": keys may contain only letters, digits, "_" and "-"';
  const wordRule = 'line 2, word 2: expected KEY=value but this word has no "="';

  // A bad key in the rows form.
  await page.getByLabel('Key', { exact: true }).fill('DB URL');
  await page.getByLabel('Value', { exact: true }).fill('x');
  if (hasJs()) await expect(page.locator('.field-error')).toHaveText(keyRule);
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(problems(page).filter({ hasText: keyRule })).toBeVisible();
  await islandsReady(page);

  // Unparsable paste: the good pair on line 1 must not be saved either.
  // Line 4 names a variable a shell would take from its environment: refused by line.
  await page.getByLabel('Paste KEY=value lines').fill('GOOD=1\nBAD=value with spaces\n"DB URL=x"\nDIR=$HOME/x');
  const homeRule = 'line 4: `$HOME` is not set earlier in this text';
  if (hasJs()) {
    await expect(problems(page).filter({ hasText: wordRule })).toBeVisible();
    await expect(problems(page).filter({ hasText: 'line 3: ' + keyRule })).toBeVisible();
    await expect(problems(page).filter({ hasText: homeRule })).toBeVisible();
  }
  await page.getByRole('button', { name: 'Save pasted pairs' }).click();
  await expect(problems(page).filter({ hasText: wordRule })).toBeVisible();
  await expect(problems(page).filter({ hasText: 'line 3: ' + keyRule })).toBeVisible();
  await expect(problems(page).filter({ hasText: homeRule })).toBeVisible();
  await page.goto(`/secrets/${set}`);
  await expect(page.getByText('This set has no keys yet.')).toBeVisible();

  // A set name that breaks the rule.
  await page.goto('/secrets');
  await islandsReady(page);
  await page.getByLabel('Set name').fill('Bad Name');
  const nameRule = 'set name "Bad Name": names may contain only lowercase letters, digits and "-"';
  if (hasJs()) await expect(problems(page).filter({ hasText: nameRule })).toBeVisible();
  await page.getByRole('button', { name: 'Create set' }).click();
  await expect(problems(page).filter({ hasText: nameRule })).toBeVisible();

  // An error only the server can know: the name is taken. With JavaScript the island
  // shows it in place and keeps the input; without, the page comes back with it.
  await page.goto('/secrets');
  await islandsReady(page);
  await page.getByLabel('Set name').fill(set);
  await page.getByRole('button', { name: 'Create set' }).click();
  const taken = `a secret set named "${set}" already exists`;
  await expect(problems(page).filter({ hasText: taken })).toBeVisible();
  // Either way the message never travels in the URL.
  expect(new URL(page.url()).search).toBe('');
  if (hasJs()) await expect(page.getByLabel('Set name')).toHaveValue(set);
});

test('a save from a page that is out of date is refused, not merged', async ({ page, request }) => {
  await login(page);
  const set = uniqueSet('stale');
  await createSet(page, set);
  // Someone else changes the set after this page was loaded.
  const res = await request.put(`/api/v1/orgs/${ACCOUNT.org}/secrets/${set}`, {
    headers: { Authorization: `Bearer ${apiToken()}` },
    data: { secrets: [{ key: 'THEIRS', value: 'x' }] },
  });
  expect(res.status()).toBe(200);
  await page.getByLabel('Paste KEY=value lines').fill('MINE=1');
  await page.getByRole('button', { name: 'Save pasted pairs' }).click();
  const msg = `secret set "${set}" changed since you loaded it (revision 0, now 1); reload it and try again`;
  await expect(problems(page).filter({ hasText: msg })).toBeVisible();
  await page.goto(`/secrets/${set}`);
  const keys = page.getByRole('table', { name: 'Keys' });
  await expect(keys.getByRole('cell', { name: 'THEIRS', exact: true })).toBeVisible();
  await expect(keys.getByRole('cell', { name: 'MINE', exact: true })).toHaveCount(0);
});

test('a missing set answers 404 with a way back', async ({ page }) => {
  await login(page);
  const res = await page.goto('/secrets/does-not-exist');
  expect(res?.status()).toBe(404);
  await expect(page.getByText('secret set "does-not-exist" not found')).toBeVisible();
  await expect(page.getByRole('link', { name: 'Back to secret sets' })).toBeVisible();
});

test('the sets list searches by name, and the search survives paging', async ({ page, request }) => {
  const stem = uniqueSet('findme');
  for (const n of ['a', 'b']) {
    const res = await request.put(`/api/v1/orgs/${ACCOUNT.org}/secrets/${stem}-${n}`, {
      headers: { Authorization: `Bearer ${apiToken()}` },
      data: { secrets: [{ key: 'K', value: 'v' }] },
    });
    expect(res.status()).toBe(201);
  }
  await login(page, `/orgs/${ACCOUNT.org}/secrets`);
  await page.getByLabel('Search sets by name').fill(stem.toUpperCase());
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  const table = page.getByRole('table', { name: 'Secret sets' });
  await expect(table.getByRole('link')).toHaveText([`${stem}-a`, `${stem}-b`]);
  expect(new URL(page.url()).searchParams.get('q')).toBe(stem.toUpperCase());
  await expect(page.getByLabel('Search sets by name')).toHaveValue(stem.toUpperCase());
  await page.getByRole('link', { name: 'Show all sets' }).click();
  await expect(page.getByLabel('Search sets by name')).toHaveValue('');
  await page.getByLabel('Search sets by name').fill('no such set');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page.getByText('No set name contains "no such set".')).toBeVisible();
});
