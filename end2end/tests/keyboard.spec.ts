// Keyboard-only use: after page.goto, every step is Tab, Shift+Tab, Enter, Space,
// Escape, arrow keys or typing. Focus must be visible wherever it lands, land on the
// problems after a refused form, and stay put when an island re-renders. Each project
// runs these with JavaScript and without.
import { test, expect, login, hasJs, uniqueSet, problems } from '../fixtures/app';
import { ACCOUNT } from '../fixtures/env';
import { api, settled } from '../fixtures/a11y';
import type { Locator, Page } from '@playwright/test';

const org = (path: string) => `/orgs/${ACCOUNT.org}${path}`;

async function isFocused(target: Locator): Promise<boolean> {
  return target.evaluate((el) => el === document.activeElement);
}

/** What has the focus, for failure messages. */
async function focusedNow(page: Page): Promise<string> {
  return page.evaluate(() => (document.activeElement?.outerHTML ?? 'nothing').slice(0, 160));
}

/**
 * The focused element shows a focus ring of at least 2 px whose colour stands out
 * at least 3:1 from the background behind it (WCAG 2.4.7 and 1.4.11).
 */
async function expectFocusVisible(page: Page) {
  const problem = await page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return 'nothing is focused';
    const cs = getComputedStyle(el);
    const what = el.outerHTML.slice(0, 120);
    if (cs.outlineStyle === 'none' || parseFloat(cs.outlineWidth) < 2) {
      return `${what} is focused without a visible ring`;
    }
    const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number);
    const lum = (c: number[]) => {
      const [r, g, b] = c.slice(0, 3).map((v) => {
        const x = v / 255;
        return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    // The ring sits outside the element: compare it with the first opaque background
    // of the element's ancestors.
    let bg = [255, 255, 255];
    for (let p = el.parentElement; p; p = p.parentElement) {
      const c = rgb(getComputedStyle(p).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) {
        bg = c;
        break;
      }
    }
    const [a, b] = [lum(rgb(cs.outlineColor)), lum(bg)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    return ratio >= 3 ? '' : `${what}: focus ring ${cs.outlineColor} on ${bg} is only ${ratio.toFixed(2)}:1`;
  });
  expect(problem).toBe('');
}

/** Presses Tab (or Shift+Tab) until `target` has the focus, checking the ring at every stop. */
async function tabTo(page: Page, target: Locator, back = false) {
  await expect(target).toBeVisible();
  for (let i = 0; i < 120; i++) {
    // Every stop a key press reached (where the focus starts may be the page itself).
    const focused = await page.evaluate(() => document.activeElement !== document.body);
    if (focused && i > 0) await expectFocusVisible(page);
    if (await isFocused(target)) {
      await expectFocusVisible(page);
      return;
    }
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`${target} never got the focus by ${back ? 'Shift+Tab' : 'Tab'}`);
}

/** Chooses an option of the focused `<select>` with the arrow keys. */
async function arrowTo(page: Page, select: Locator, value: string) {
  for (const key of ['ArrowDown', 'ArrowUp']) {
    for (let i = 0; i < 60; i++) {
      if ((await select.inputValue()) === value) return;
      await page.keyboard.press(key);
    }
  }
  expect(await select.inputValue()).toBe(value);
}

/** Tabbing into a one-time credential selects all of it, so Ctrl+C copies it whole. */
async function expectSelectedWhole(page: Page, field: Locator) {
  await tabTo(page, field);
  const sel = await field.evaluate((el: HTMLInputElement) => [el.selectionStart, el.selectionEnd, el.value.length]);
  expect(sel[0]).toBe(0);
  expect(sel[1]).toBe(sel[2]);
  expect(sel[2]).toBeGreaterThan(10);
}

// The suite's failed sign-ins are in auth.spec.ts (which also checks that the focus
// lands on the problem): every failure counts against this machine's address.
test('sign in from the keyboard, skip the navigation, see where you are', async ({ page }) => {
  await page.goto('/login?next=/secrets');
  await settled(page);
  await tabTo(page, page.getByLabel('Email'));
  await page.keyboard.type(ACCOUNT.email);
  await page.keyboard.press('Tab');
  expect(await isFocused(page.getByLabel('Password'))).toBe(true);
  await expectFocusVisible(page);
  await page.keyboard.type(ACCOUNT.password);
  await page.keyboard.press('Enter');
  await page.waitForURL('**/orgs/*/secrets');

  // The first Tab on a page offers to skip the navigation; Enter moves into the page.
  await page.goto(org('/secrets'));
  await settled(page);
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to main content' });
  expect(await isFocused(skip), await focusedNow(page)).toBe(true);
  await expect(skip).toBeInViewport();
  await expectFocusVisible(page);
  await page.keyboard.press('Enter');
  expect(await isFocused(page.locator('main'))).toBe(true);
  // The navigation marks the page being shown.
  await expect(page.getByRole('navigation', { name: 'Main' }).locator('[aria-current="page"]')).toHaveText('Secret sets');
  // The workspace switcher opens with Enter; its links show their rings on its panel.
  await tabTo(page, page.locator('.switcher summary'), true);
  await page.keyboard.press('Enter');
  await tabTo(page, page.getByRole('link', { name: 'New organization…' }));
});

test('create a set, add keys in the row editor, paste pairs and unset a key: keyboard only', async ({ page }) => {
  test.setTimeout(90_000);
  const set = uniqueSet('kbd');
  await login(page, '/secrets');
  await settled(page);
  await tabTo(page, page.getByLabel('Set name'));
  await page.keyboard.type(set);
  await page.keyboard.press('Enter');
  await page.waitForURL(`**/secrets/${set}`);
  await expect(page.getByRole('status')).toHaveText(`Created secret set "${set}".`);
  await settled(page);

  // The row editor: a wrong key is explained as it is typed, and linked to its field.
  const firstKey = page.locator('#row-0-key');
  await tabTo(page, firstKey);
  await page.keyboard.type('BAD KEY');
  if (hasJs()) {
    await expect(firstKey).toHaveAttribute('aria-invalid', 'true');
    const note = await firstKey.getAttribute('aria-describedby');
    await expect(page.locator(`#${note!.split(' ')[0]}`)).toContainText('BAD KEY');
  }
  await page.keyboard.press('Control+A');
  await page.keyboard.type('FIRST_KEY');
  await page.keyboard.press('Tab');
  expect(await isFocused(page.locator('#row-0-value'))).toBe(true);
  await page.keyboard.type('first value');
  let expected = 'added FIRST_KEY';
  if (hasJs()) {
    // "Add row" puts the focus in the new row; removing a row gives it to the row before.
    await tabTo(page, page.getByRole('button', { name: 'Add row' }));
    await page.keyboard.press('Enter');
    await expect.poll(() => isFocused(page.locator('#row-1-key'))).toBe(true);
    await page.keyboard.type('SECOND');
    await page.keyboard.press('Tab');
    await page.keyboard.type('two');
    await tabTo(page, page.getByRole('button', { name: 'Add row' }));
    await page.keyboard.press('Space');
    await expect.poll(() => isFocused(page.locator('#row-2-key'))).toBe(true);
    await page.keyboard.type('THIRD');
    await tabTo(page, page.getByRole('button', { name: 'Remove row' }).nth(2));
    await page.keyboard.press('Enter');
    await expect(page.locator('#row-2-key')).toHaveCount(0);
    await expect.poll(() => isFocused(page.locator('#row-1-key'))).toBe(true);
    await expectFocusVisible(page);
    expected = 'added FIRST_KEY, SECOND';
  }
  await tabTo(page, page.getByRole('button', { name: 'Save', exact: true }));
  await page.keyboard.press('Enter');
  await expect(page.getByRole('status')).toHaveText(`Saved "${set}": ${expected}.`);
  await settled(page);

  // A refused save: the focus lands on the problems.
  await tabTo(page, page.locator('#row-0-key'));
  await page.keyboard.type('BAD KEY');
  await page.keyboard.press('Tab');
  await page.keyboard.type('x');
  await tabTo(page, page.getByRole('button', { name: 'Save', exact: true }));
  await page.keyboard.press('Enter');
  const refused = problems(page).filter({ hasText: 'BAD KEY' });
  await expect(refused).toBeVisible();
  await expect.poll(() => isFocused(refused)).toBe(true);
  await expectFocusVisible(page);
  if (!hasJs()) await settled(page);

  // Paste pairs; with JavaScript the preview is read out (it describes the field).
  const paste = page.getByLabel('Paste KEY=value lines');
  await tabTo(page, paste);
  await page.keyboard.type('PASTED_A=1');
  await page.keyboard.press('Enter');
  await page.keyboard.type('PASTED_B="two words"');
  if (hasJs()) {
    await expect(page.locator('#paste-preview')).toHaveText('Will add PASTED_A, PASTED_B.');
    expect(await paste.getAttribute('aria-describedby')).toContain('paste-preview');
  }
  await tabTo(page, page.getByRole('button', { name: 'Save pasted pairs' }));
  await page.keyboard.press('Enter');
  await expect(page.getByRole('status')).toHaveText(`Saved "${set}": added PASTED_A, PASTED_B.`);
  await settled(page);

  // Unset through the confirmation: Enter arms it, Escape takes it back, the focus
  // stays on the same button throughout.
  const unset = page.getByRole('button', { name: 'Unset PASTED_A' });
  await tabTo(page, unset);
  if (hasJs()) {
    await page.keyboard.press('Enter');
    const confirm = page.getByRole('button', { name: 'Confirm unset PASTED_A' });
    await expect(confirm).toBeVisible();
    expect(await isFocused(confirm)).toBe(true);
    await page.keyboard.press('Escape');
    await expect(unset).toBeVisible();
    expect(await isFocused(unset)).toBe(true);
    await page.keyboard.press('Enter');
    await expect(confirm).toBeVisible();
  }
  await page.keyboard.press('Enter');
  await expect(page.getByRole('status')).toHaveText(`Unset PASTED_A from "${set}".`);
});

test('deploy from the keyboard and copy the runtime token', async ({ page, request }) => {
  const set = uniqueSet('kbd-env');
  const pull = uniqueSet('kbd-pull');
  const name = uniqueSet('kbd-agent');
  await api(request, 'put', `/secrets/${set}`, { secrets: [{ key: 'MODE', value: 'one' }] });
  await api(request, 'post', '/image-pull-secrets', { name: pull, registry: 'ghcr.io', username: 'bot', password: 'pw-1' });
  await login(page, '/secrets');
  await page.goto(org('/new-deployment'));
  await settled(page);
  await tabTo(page, page.getByLabel('Name', { exact: true }));
  await page.keyboard.type(name);
  await page.keyboard.press('Tab');
  await page.keyboard.type('ghcr.io/acme/agent:1');
  await page.keyboard.press('Tab');
  const setPicker = page.getByLabel('Secret set');
  expect(await isFocused(setPicker)).toBe(true);
  await arrowTo(page, setPicker, set);
  await page.keyboard.press('Tab');
  await arrowTo(page, page.getByLabel('Image pull secret'), pull);
  await tabTo(page, page.getByRole('button', { name: 'Create and deploy' }));
  await page.keyboard.press('Enter');
  await expect(page.getByRole('status').filter({ hasText: `Created deployment "${name}" (revision 1).` })).toBeVisible();
  await expectSelectedWhole(page, page.getByLabel('Runtime token', { exact: true }));
});

test('invite someone from the keyboard and copy the link', async ({ page }) => {
  const email = `kbd-${test.info().project.name}-${Date.now().toString(36)}@example.com`;
  await login(page, '/secrets');
  await page.goto(org('/members'));
  await settled(page);
  await tabTo(page, page.getByLabel('Email'));
  await page.keyboard.type(email);
  await page.keyboard.press('Tab');
  const role = page.getByLabel('Role', { exact: true });
  expect(await isFocused(role)).toBe(true);
  await arrowTo(page, role, 'viewer');
  await tabTo(page, page.getByRole('button', { name: 'Create invitation' }));
  await page.keyboard.press('Enter');
  await expect(page.getByRole('status').filter({ hasText: `Invited ${email} as viewer` })).toBeVisible();
  await expectSelectedWhole(page, page.getByLabel('Invitation link'));
});
