import { test, expect, login, hasJs, islandsReady, recordResponses, uniqueSet, problems } from '../fixtures/app';

test('create, refuse to overwrite, replace and delete an image pull secret', async ({ page }) => {
  const responses = recordResponses(page);
  await login(page, '/secrets');
  await page.getByRole('link', { name: 'Image pull secrets' }).click();
  await expect(page.getByRole('heading', { name: 'Image pull secrets' })).toBeVisible();
  await islandsReady(page);
  const name = uniqueSet('reg');
  const password = 'ghp-Xy7 pull-secret-password';

  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Registry', { exact: true }).fill('ghcr.io');
  await page.getByLabel('Username', { exact: true }).fill('robot');
  await page.getByLabel('Password or token').fill(password);
  await expect(page.getByLabel('Password or token')).toHaveAttribute('type', 'password');
  await page.getByRole('button', { name: 'Create pull secret' }).click();
  await expect(page.getByRole('status')).toHaveText(`Created image pull secret "${name}".`);
  const table = page.getByRole('table', { name: 'Image pull secrets' });
  const row = table.getByRole('row').filter({ hasText: name });
  await expect(row).toContainText('ghcr.io');
  await expect(row).toContainText('robot');
  await islandsReady(page);

  // The same name again is refused: pull secrets are immutable.
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Registry', { exact: true }).fill('quay.io');
  await page.getByLabel('Username', { exact: true }).fill('other');
  await page.getByLabel('Password or token').fill('x');
  await page.getByRole('button', { name: 'Create pull secret' }).click();
  await expect(problems(page).filter({ hasText: 'cannot be changed: delete it and create it again' })).toBeVisible();

  // Replace: new credentials in one confirmed step.
  await page.getByRole('link', { name: `Replace ${name}` }).click();
  await islandsReady(page);
  await expect(page.getByRole('heading', { name: `Replace "${name}"` })).toBeVisible();
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue(name);
  await page.getByLabel('Registry', { exact: true }).fill('quay.io');
  await page.getByLabel('Username', { exact: true }).fill('new-robot');
  await page.getByLabel('Password or token').fill('second-password-77');
  await page.getByLabel(`Delete the current credentials of "${name}" and use these`).check();
  await page.getByRole('button', { name: 'Replace pull secret' }).click();
  await expect(page.getByRole('status')).toHaveText(`Replaced image pull secret "${name}".`);
  await expect(row).toContainText('quay.io');
  await expect(row).toContainText('new-robot');
  await islandsReady(page);

  // Delete (with JavaScript the first click asks to confirm).
  await page.getByRole('button', { name: `Delete ${name}` }).click();
  if (hasJs()) await page.getByRole('button', { name: `Confirm delete ${name}` }).click();
  await expect(page.getByRole('status')).toHaveText(`Deleted image pull secret "${name}".`);
  await expect(table.getByRole('row').filter({ hasText: name })).toHaveCount(0);

  const seen = await responses();
  for (const secret of [password, 'second-password-77']) {
    expect(seen.includes(secret), `${secret} appeared in a response`).toBe(false);
  }
});

test('pull secret fields are checked as you type and by the server', async ({ page }) => {
  await login(page, '/image-pull-secrets');
  await islandsReady(page);
  await page.getByLabel('Name', { exact: true }).fill('Bad Name');
  await page.getByLabel('Registry', { exact: true }).fill('not a host');
  await page.getByLabel('Username', { exact: true }).fill('us:er');
  await page.getByLabel('Password or token').fill('pw');
  const nameRule = 'pull secret name "Bad Name": names may contain only lowercase letters, digits and "-"';
  const hostRule = 'registry "not a host": expected a host name such as ghcr.io or registry.example.com:5000';
  if (hasJs()) {
    await expect(problems(page).filter({ hasText: nameRule })).toBeVisible();
    await expect(problems(page).filter({ hasText: hostRule })).toBeVisible();
  }
  await page.getByRole('button', { name: 'Create pull secret' }).click();
  await expect(problems(page).filter({ hasText: nameRule })).toBeVisible();
  await expect(problems(page).filter({ hasText: hostRule })).toBeVisible();
  await expect(problems(page).filter({ hasText: 'username "us:er"' })).toBeVisible();
});
