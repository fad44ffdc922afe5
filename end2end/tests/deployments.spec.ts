import { test, expect, login, hasJs, islandsReady, recordResponses, uniqueSet, apiToken, problems } from '../fixtures/app';
import { ACCOUNT } from '../fixtures/env';

test('deploy with a set, change the set, see "needs redeploy", redeploy', async ({ page, request }) => {
  const responses = recordResponses(page);
  const auth = { Authorization: `Bearer ${apiToken()}` };
  const set = uniqueSet('env');
  const pull = uniqueSet('pull');
  const name = uniqueSet('agent');
  const value = 'deploy-value-Qx81 "quoted" \\ $HOME';
  let res = await request.put(`/api/v1/orgs/${ACCOUNT.org}/secrets/${set}`, {
    headers: auth,
    data: { secrets: [{ key: 'API_KEY', value }, { key: 'MODE', value: 'one' }] },
  });
  expect(res.status()).toBe(201);
  res = await request.post(`/api/v1/orgs/${ACCOUNT.org}/image-pull-secrets`, {
    headers: auth,
    data: { name: pull, registry: 'ghcr.io', username: 'bot', password: 'pull-pw-91' },
  });
  expect(res.status()).toBe(201);

  await login(page, '/deployments');
  await page.getByRole('link', { name: 'New deployment' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('New deployment');
  await islandsReady(page);
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Image', { exact: true }).fill('ghcr.io/acme/agent:1');
  await page.getByLabel('Secret set').selectOption(set);
  await page.getByLabel('Image pull secret').selectOption(pull);
  await page.getByLabel('Max agents').fill('3');
  await page.getByRole('button', { name: 'Create and deploy' }).click();
  await expect(page.getByRole('status').filter({ hasText: `Created deployment "${name}" (revision 1).` })).toBeVisible();
  const token = (await page.getByLabel('Runtime token', { exact: true }).inputValue()).trim();
  expect(token).toMatch(/^ckd_/);
  const env = page.getByRole('table', { name: 'Environment' });
  await expect(env.getByRole('cell', { name: 'API_KEY', exact: true })).toBeVisible();

  // The pull secret lists the deployment that uses it.
  await page.goto('/image-pull-secrets');
  await expect(
    page.getByRole('table', { name: 'Image pull secrets' }).getByRole('row').filter({ hasText: pull }),
  ).toContainText(name);
  await page.goBack();

  // The agent's view: exactly the set's values.
  let runtime = await request.get('/api/v1/runtime/env', { headers: { Authorization: `Bearer ${token}` } });
  expect(await runtime.json()).toEqual({ revision: 1, env: { API_KEY: value, MODE: 'one' } });

  // The token is shown once only.
  await page.reload();
  await expect(page.getByLabel('Runtime token', { exact: true })).toHaveCount(0);

  // Change the set in the dashboard: it warns who is affected, then the deployment needs a redeploy.
  await page.goto(`/secrets/${set}`);
  await expect(page.getByText(`Saving a change here affects ${name}`)).toBeVisible();
  await islandsReady(page);
  await page.getByLabel('Paste KEY=value lines').fill('MODE=two');
  await page.getByRole('button', { name: 'Save pasted pairs' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'updated MODE' })).toBeVisible();
  await expect(page.getByText('Used by 1 deployment, 1 needs redeploy.')).toBeVisible();

  await page.goto('/deployments');
  const row = page.getByRole('table', { name: 'Deployments' }).getByRole('row').filter({ hasText: name });
  await expect(row).toContainText('needs redeploy');
  await row.getByRole('link', { name }).click();
  await expect(page.getByText('changed MODE')).toBeVisible();
  runtime = await request.get('/api/v1/runtime/env', { headers: { Authorization: `Bearer ${token}` } });
  expect((await runtime.json()).env.MODE).toBe('one');

  await islandsReady(page);
  await page.getByRole('button', { name: `Redeploy ${name}` }).click();
  if (hasJs()) await page.getByRole('button', { name: `Confirm redeploy ${name}` }).click();
  await expect(page.getByRole('status').filter({ hasText: `Redeployed "${name}" as revision 2.` })).toBeVisible();
  await expect(page.locator('.facts .badge')).toHaveText('up to date');
  runtime = await request.get('/api/v1/runtime/env', { headers: { Authorization: `Bearer ${token}` } });
  expect(await runtime.json()).toEqual({ revision: 2, env: { API_KEY: value, MODE: 'two' } });

  // A set in use cannot be deleted; the deployment can, and then the set can.
  await islandsReady(page);
  await page.getByRole('button', { name: `Delete deployment ${name}` }).click();
  if (hasJs()) await page.getByRole('button', { name: `Confirm delete deployment ${name}` }).click();
  await expect(page.getByRole('status')).toHaveText(`Deleted deployment "${name}".`);

  const seen = await responses();
  for (const secret of [value, 'pull-pw-91', 'deploy-value-Qx81']) {
    expect(seen.includes(secret), `${secret} appeared in a page response`).toBe(false);
  }
});

test('a deployment that names a missing set is refused and nothing is created', async ({ page }) => {
  await login(page, '/new-deployment');
  await islandsReady(page);
  const name = uniqueSet('ghost');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByText('Or paste a pcc-deploy.toml').click();
  await page.getByLabel('pcc-deploy.toml').fill(`image = "x"\nsecret_set = "no-such-set"\nreplicas = 2\n`);
  await page.getByRole('button', { name: 'Create and deploy' }).click();
  await expect(problems(page).filter({ hasText: 'unknown field `replicas`' })).toBeVisible();
  await page.goto('/deployments');
  await expect(page.getByRole('link', { name })).toHaveCount(0);
});
