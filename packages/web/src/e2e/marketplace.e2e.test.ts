// End-to-end: the built page in Debian's Chromium (playwright-core), against the real service on an embedded
// store, on loopback. Screenshots of the main screens go to packages/web/docs/screenshots/.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAUTH_APP, publishLoopbackConnector, startLoopbackProviders, type LoopbackProviders } from './loopback-connectors.ts';
import { startServiceWithPage, type ServiceWithPage } from './service.ts';

const CHROMIUM = process.env.BOS_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const REQUIRED = process.env.BOS_REQUIRE_SERVICES === '1';
const WEB_DIR = fileURLToPath(new URL('../..', import.meta.url));
// The committed screenshots are refreshed only on request, so an ordinary test run leaves the tree clean.
const SHOTS = process.env.BOS_UPDATE_SCREENSHOTS === '1' ? path.join(WEB_DIR, 'docs', 'screenshots') : mkdtempSync(path.join(tmpdir(), 'bos-shots-'));

// The tenant's own connectors, published in the setup, whose hosts are loopback servers of the suite.
const ITEMS = 'acme-items';
const CRM = 'acme-crm';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** Runs axe-core in the page; returns serious and critical violations as readable lines. */
async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  // A full-page capture of a scrolled page would paint the sticky header mid-page.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.mouse.move(0, 0);
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
}

describe.skipIf(!HAVE_CHROMIUM && !REQUIRED)(`marketplace page in Chromium (${HAVE_CHROMIUM ? CHROMIUM : `skipped: ${CHROMIUM} not found; apt-get install chromium`})`, () => {
  let svc: ServiceWithPage;
  let loopback: LoopbackProviders;
  let context: BrowserContext;
  let page: Page;
  let key: string;
  let userDataDir: string;
  const visited: string[] = [];
  // Every URL the main frame requested as a navigation, redirect hops included (framenavigated sees only the last).
  const navigations: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    if (!HAVE_CHROMIUM) throw new Error(`BOS_REQUIRE_SERVICES=1 but ${CHROMIUM} is missing; install it with apt-get install chromium`);
    const { build } = await import('vite');
    const distDir = mkdtempSync(path.join(tmpdir(), 'bos-web-build-'));
    await build({ configFile: path.join(WEB_DIR, 'vite.config.ts'), root: WEB_DIR, logLevel: 'warn', build: { outDir: distDir, emptyOutDir: true, sourcemap: false } });
    loopback = await startLoopbackProviders();
    // Loopback egress only in this test service, so the tenant's connectors reach the suite's mock APIs.
    svc = await startServiceWithPage({ distDir, allowLoopbackEgress: true, env: { BOS_OAUTH_APPS: JSON.stringify({ [CRM]: OAUTH_APP }) } });
    loopback.allowRedirect(svc.url);
    key = await svc.createTenant('acme');
    await publishLoopbackConnector(svc, key, { name: ITEMS, baseUrl: `${loopback.itemsApi.url}/v2` });
    const { authorizeUrl, tokenUrl, revokeUrl } = loopback.oauth;
    await publishLoopbackConnector(svc, key, { name: CRM, baseUrl: `${loopback.oauthApi.url}/v2`, oauth: { authorizationUrl: authorizeUrl, tokenUrl, revokeUrl, scopes: ['items'] } });
    userDataDir = mkdtempSync(path.join(tmpdir(), 'bos-web-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 860 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(15_000);
    page.on('framenavigated', (f) => f === page.mainFrame() && visited.push(f.url()));
    page.on('request', (r) => r.isNavigationRequest() && r.frame() === page.mainFrame() && navigations.push(r.url()));
    page.on('console', (m) => m.type() === 'error' && !/Failed to load resource/.test(m.text()) && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    await svc?.close();
    await loopback?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it('browses the catalogue: cards, facets with counts, sort and page in the URL', async () => {
    await page.goto(`${svc.url}/`);
    await page.getByRole('heading', { name: /3 connectors/ }).waitFor();
    expect(await page.locator('.card').count()).toBe(3);
    expect(await page.locator('.card', { hasText: 'Stripe' }).getByText('Verified').count()).toBe(1);
    const facet = page.getByRole('button', { name: /payments/ });
    expect(await facet.textContent()).toContain('1');
    await facet.click();
    await page.getByRole('heading', { name: /1 connector$/ }).waitFor();
    await page.getByLabel('Sort by').selectOption('newest');
    await page.waitForURL(/category=payments&sort=newest/);
    expect(await page.locator('.card h3').allTextContents()).toEqual(['Stripe']);
    // The URL alone restores the screen.
    await page.goto(`${svc.url}/?category=messaging`);
    await page.getByRole('heading', { name: /1 connector$/ }).waitFor();
    expect(await page.locator('.card h3').allTextContents()).toEqual(['Slack']);
    await page.goto(`${svc.url}/`);
    await page.getByRole('heading', { name: /3 connectors/ }).waitFor();
    await shot(page, 'browse');
    expect(await seriousViolations(page)).toEqual([]);
  }, 60_000);

  it('type-ahead suggestions are a keyboard-navigable combobox', async () => {
    const box = page.getByRole('combobox', { name: 'Search connectors' });
    await box.fill('str');
    const list = page.getByRole('listbox', { name: 'Suggestions' });
    await list.getByRole('option', { name: /Stripe/ }).waitFor();
    expect(await box.getAttribute('aria-expanded')).toBe('true');
    await box.press('Escape');
    expect(await box.getAttribute('aria-expanded')).toBe('false');
    await box.fill('stri');
    await list.getByRole('option', { name: /Stripe/ }).waitFor();
    await box.press('ArrowDown');
    const active = await box.getAttribute('aria-activedescendant');
    expect(active).toBeTruthy();
    expect(await page.locator(`[id="${active}"]`).getAttribute('aria-selected')).toBe('true');
    await box.press('Enter');
    await page.waitForURL(/\/listing\//);
    await page.getByRole('heading', { level: 1, name: 'Stripe' }).waitFor();
  }, 60_000);

  it('shows the connector page: auth, permissions, hosts, actions with parameters, versions, reviews', async () => {
    await page.getByRole('heading', { name: 'Authentication' }).waitFor();
    expect(await page.locator('main').textContent()).toContain('api.stripe.com');
    await page.locator('summary', { hasText: 'Create Customer' }).click();
    await page.getByRole('table', { name: 'Parameters of createCustomer' }).waitFor();
    await page.getByRole('heading', { name: 'Versions' }).waitFor();
    await page.getByRole('cell', { name: '1.0.0' }).or(page.getByRole('rowheader', { name: '1.0.0' })).first().waitFor();
    await page.getByText('No reviews yet').waitFor();
    await page.getByRole('link', { name: 'Sign in to install' }).waitFor();
    await shot(page, 'connector');
    expect(await seriousViolations(page)).toEqual([]);
  }, 60_000);

  it('signs in with a tenant API key kept out of the URL', async () => {
    await page.getByRole('link', { name: 'Sign in to install' }).click();
    await page.getByLabel('API key').fill('bos_wrong');
    await page.getByRole('button', { name: 'Sign in' }).last().click();
    await page.getByText('does not accept this key').waitFor();
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).last().click();
    await page.waitForURL(/\/installed$/);
    await page.getByText('Nothing installed yet').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
  }, 60_000);

  it('installs Stripe and connects it with an API key that is never echoed back', async () => {
    await page.goto(`${svc.url}/?q=stripe`);
    await page.locator('.card', { hasText: 'Stripe' }).getByRole('link').click();
    await page.getByRole('button', { name: 'Install Stripe' }).click();
    const secret = page.getByLabel(/Secret key/);
    await secret.waitFor();
    expect(await secret.getAttribute('type')).toBe('password');
    await secret.fill('sk_test_e2e_secret_value');
    await shot(page, 'connect');
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Save and connect' }).click();
    await page.getByText('is connected').waitFor();
    expect(await page.content()).not.toContain('sk_test_e2e_secret_value');
    const conns = await svc.app.inject({ url: '/connections', headers: { authorization: `Bearer ${key}` } });
    expect(conns.json().items).toHaveLength(1);
    expect(conns.body).not.toContain('sk_test_e2e_secret_value');
  }, 60_000);

  it('lists installed connectors with connection status, test and uninstall confirmation', async () => {
    await page.getByRole('link', { name: 'Manage installed' }).click();
    await page.getByRole('heading', { name: 'Installed connectors' }).waitFor();
    const item = page.locator('.installed', { hasText: 'Stripe' });
    await item.getByText('Connected').waitFor();
    await item.getByRole('button', { name: 'Test connection' }).click();
    // The made-up key cannot work against Stripe (refused, or unreachable here): the reason shows and the badge follows.
    await item.getByText(/The test failed: \S+/).waitFor();
    await item.getByText(/^(Error|Needs re-auth)$/).waitFor();
    expect(await item.getByText('Connected', { exact: true }).count()).toBe(0);
    await item.getByRole('button', { name: 'Uninstall' }).click();
    await item.getByRole('alertdialog').getByText('Uninstall Stripe?').waitFor();
    await shot(page, 'installed');
    expect(await seriousViolations(page)).toEqual([]);
    await item.getByRole('button', { name: 'Cancel' }).click();
    expect(await item.getByRole('alertdialog').count()).toBe(0);
  }, 60_000);

  it('generates the action form from its JSON Schema and checks input before running', async () => {
    await page.locator('.installed', { hasText: 'Stripe' }).getByRole('link', { name: 'Try an action' }).click();
    await page.getByRole('heading', { name: /Try an action: Stripe/ }).waitFor();
    await page.getByLabel('Action').selectOption('createCustomer');
    await page.getByRole('group', { name: 'Parameters' }).waitFor();
    expect(await page.getByRole('group', { name: 'Parameters' }).locator('.field').count()).toBeGreaterThan(1);
    await page.getByLabel(/^Email/).fill('jenny@example.com');
    await page.getByLabel(/^Metadata/).fill('{"plan": ');
    const usageItems = async () => (await svc.app.inject({ url: '/usage?groupBy=connector', headers: { authorization: `Bearer ${key}` } })).json().items as unknown[];
    // Usage is written in batches: flush what earlier tests ran (the connection test) before taking the baseline.
    await svc.flushUsage();
    const executions = await usageItems();
    await page.getByRole('button', { name: 'Run action' }).click();
    await page.getByRole('alert').getByText('Fix 1 field above').waitFor();
    await page.getByText(/Metadata is not valid JSON/).waitFor();
    expect(await page.getByLabel(/^Metadata/).getAttribute('aria-invalid')).toBe('true');
    await page.locator('.result').getByText('Run the action to see its result here').waitFor();
    await svc.flushUsage();
    // Nothing ran: the page stopped the bad input.
    expect(await usageItems()).toEqual(executions);
    expect(await seriousViolations(page)).toEqual([]);
  }, 60_000);

  it('searches, opens, installs and connects a connector with an API key, and tests the connection against its API', async () => {
    await page.goto(`${svc.url}/`);
    const box = page.getByRole('combobox', { name: 'Search connectors' });
    await box.fill('acme items');
    await page.getByRole('listbox', { name: 'Suggestions' }).getByRole('option', { name: /Acme Items/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Acme Items' }).waitFor();
    // Its one permitted host is the loopback API, and the page says so.
    expect(await page.locator('main').textContent()).toContain(new URL(loopback.itemsApi.url).host);
    await page.getByRole('button', { name: 'Install Acme Items' }).click();
    const secret = page.getByLabel(/API token/);
    await secret.waitFor();
    expect(await secret.getAttribute('type')).toBe('password');
    await secret.fill(loopback.apiKey);
    await page.getByRole('button', { name: 'Save and connect' }).click();
    await page.getByText('is connected').waitFor();
    expect(await page.content()).not.toContain(loopback.apiKey);
    const before = loopback.itemsApi.requests.length;
    const conn = page.locator('.panel .conn-list li', { hasText: 'Acme Items account' });
    await conn.getByRole('button', { name: 'Test connection' }).click();
    await conn.getByText('The connection works').waitFor();
    await conn.getByText('Connected', { exact: true }).waitFor();
    // The test request reached the API with the key the host added from the vault.
    expect(loopback.itemsApi.requests.slice(before)).toMatchObject([{ method: 'GET', path: '/v2/items', status: 200, headers: { authorization: `Token ${loopback.apiKey}` } }]);
    expect(await page.content()).not.toContain(loopback.apiKey);
    expect(await seriousViolations(page)).toEqual([]);
  }, 60_000);

  it('runs an action against the loopback API: the host adds the key, the page shows the JSON result', async () => {
    await page.locator('.panel').getByRole('link', { name: 'Try an action' }).first().click();
    await page.getByRole('heading', { name: 'Try an action: Acme Items' }).waitFor();
    await page.getByLabel('Action').selectOption('createItem');
    await page.getByLabel(/^Name/).fill('Widget');
    const before = loopback.itemsApi.requests.length;
    await page.getByRole('button', { name: 'Run action' }).click();
    await page.locator('.result').getByText(/Succeeded/).waitFor();
    const shown = await page.getByLabel('Result data (JSON)').innerText();
    expect(JSON.parse(shown)).toEqual({ id: 'i_42', name: 'Widget', updatedAt: '2026-01-02T00:00:00Z' });
    const calls = loopback.itemsApi.requests.slice(before);
    expect(calls).toMatchObject([{ method: 'POST', path: '/v2/items', status: 201, body: { name: 'Widget' }, headers: { authorization: `Token ${loopback.apiKey}` } }]);
    expect(await page.content()).not.toContain(loopback.apiKey);
    await shot(page, 'try-action');
    expect(await seriousViolations(page)).toEqual([]);
  }, 60_000);

  it('sees the successful execution in usage for that connector', async () => {
    await svc.flushUsage();
    await page.goto(`${svc.url}/activity`);
    const row = page.getByRole('row', { name: new RegExp(ITEMS) });
    await row.waitFor();
    // Executions and errors: the connection test and the action run, both succeeded.
    expect((await row.locator('td').allInnerTexts()).slice(0, 2).map((t) => t.trim())).toEqual(['2', '0']);
    const byAction = (await svc.app.inject({ url: '/usage?groupBy=action', headers: { authorization: `Bearer ${key}` } })).json() as { items: { key: string; executions: number; errors: number }[] };
    expect(byAction.items.filter((i) => i.key.startsWith(`${ITEMS}.`)).sort((a, b) => a.key.localeCompare(b.key))).toMatchObject([
      { key: `${ITEMS}.authenticate`, executions: 1, errors: 0 },
      { key: `${ITEMS}.createItem`, executions: 1, errors: 0 },
    ]);
  }, 60_000);

  it('upgrades an installed connector to a newer version it was offered', async () => {
    await publishLoopbackConnector(svc, key, { name: ITEMS, baseUrl: `${loopback.itemsApi.url}/v2`, version: '0.2.0' });
    await page.goto(`${svc.url}/installed`);
    const item = page.locator('li.installed').filter({ has: page.getByRole('link', { name: 'Acme Items' }) });
    await item.getByText('v0.2.0 available').waitFor();
    await item.getByRole('button', { name: 'Upgrade to v0.2.0' }).click();
    await item.getByText(/^v0\.2\.0 · installed/).waitFor();
    expect(await item.getByRole('button', { name: /Upgrade to/ }).count()).toBe(0);
    const installs = (await svc.app.inject({ url: '/installations', headers: { authorization: `Bearer ${key}` } })).json() as { items: { displayName: string; version: string }[] };
    expect(installs.items.find((i) => i.displayName === 'Acme Items')?.version).toBe('0.2.0');
    expect(await seriousViolations(page)).toEqual([]);
  }, 60_000);

  it('shows usage for the selected period as a chart', async () => {
    await page.goto(`${svc.url}/activity`);
    await page.getByRole('heading', { name: 'Executions per day' }).waitFor();
    await page.getByRole('button', { name: 'Last 30 days' }).click();
    expect(await page.getByRole('button', { name: 'Last 30 days' }).getAttribute('aria-pressed')).toBe('true');
    await page.getByRole('img', { name: /Executions per day/ }).waitFor();
    expect(await page.locator('.chart-bar').count()).toBe(30);
    await shot(page, 'usage');
    expect(await seriousViolations(page)).toEqual([]);
  }, 60_000);

  it('connects an OAuth2 account: to the local provider, back through /oauth/callback, connected, and the test works', async () => {
    await page.goto(`${svc.url}/?q=${CRM}`);
    await page.locator('.card', { hasText: 'Acme Crm' }).getByRole('link').click();
    await page.getByRole('heading', { level: 1, name: 'Acme Crm' }).waitFor();
    await page.getByRole('button', { name: 'Install Acme Crm' }).click();
    const connect = page.getByRole('button', { name: 'Connect with Acme Crm' });
    await connect.waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    const hop = navigations.length;
    const issued = loopback.oauth.issued.length;
    await connect.click();
    await page.waitForURL(/\/installed\?connected=/);
    // The browser went to the provider, which approved and sent it to the service's callback with a code.
    const hops = navigations.slice(hop).map((u) => new URL(u));
    expect(hops.some((u) => `${u.origin}${u.pathname}` === loopback.oauth.authorizeUrl && u.searchParams.get('code_challenge_method') === 'S256')).toBe(true);
    expect(hops.some((u) => u.origin === svc.url && u.pathname === '/oauth/callback' && u.searchParams.has('code') && u.searchParams.has('state'))).toBe(true);
    expect(loopback.oauth.issued.slice(issued)).toMatchObject([{ clientId: OAUTH_APP.client_id, grant: 'authorization_code', scope: 'items' }]);
    const token = loopback.oauth.issued.at(-1)!.accessToken;

    const connectionId = new URL(page.url()).searchParams.get('connected');
    await page.getByRole('status').getByText('Account connected').waitFor();
    const item = page.locator('.installed', { hasText: 'Acme Crm' });
    await item.getByText('Connected', { exact: true }).waitFor();
    const listed = (await svc.app.inject({ url: '/connections', headers: { authorization: `Bearer ${key}` } })).json() as { items: { id: string; connector: string; status: string }[] };
    expect(listed.items.filter((c) => c.connector === CRM)).toMatchObject([{ id: connectionId, status: 'ok' }]);
    await shot(page, 'oauth-connected');
    expect(await seriousViolations(page)).toEqual([]);

    const before = loopback.oauthApi.requests.length;
    await item.getByRole('button', { name: 'Test connection' }).click();
    await item.getByText('The connection works').waitFor();
    // The API accepted the provider's access token, which the host took from the vault.
    expect(loopback.oauthApi.requests.slice(before)).toMatchObject([{ method: 'GET', path: '/v2/items', status: 200, headers: { authorization: `Bearer ${token}` } }]);
    expect(await page.content()).not.toContain(token);
    expect(visited.filter((u) => u.includes(token))).toEqual([]);
  }, 60_000);

  it('comes back from a denied OAuth consent to a notice, and no connection is made', async () => {
    // The simulated user clicks "Deny": the authorize request is answered by the provider whose user never consents.
    const provider = new URL(loopback.oauth.authorizeUrl);
    const isAuthorize = (u: URL) => u.origin === provider.origin && u.pathname === provider.pathname;
    await page.route(isAuthorize, async (route) => {
      const denied = await route.fetch({ url: `${loopback.denyingOauth.authorizeUrl}${new URL(route.request().url()).search}`, maxRedirects: 0 });
      await route.fulfill({ response: denied });
    });
    try {
      await page.goto(`${svc.url}/?q=${CRM}`);
      await page.locator('.card', { hasText: 'Acme Crm' }).getByRole('link').click();
      await page.getByRole('button', { name: 'Connect another account' }).click();
      const hop = navigations.length;
      const issued = loopback.oauth.issued.length + loopback.denyingOauth.issued.length;
      await page.getByRole('button', { name: 'Connect with Acme Crm' }).click();
      await page.waitForURL(/\/installed\?oauth_error=AUTH_FAILED$/);
      const callback = navigations.slice(hop).map((u) => new URL(u)).find((u) => u.origin === svc.url && u.pathname === '/oauth/callback');
      expect(callback?.searchParams.get('error')).toBe('access_denied');
      expect(callback?.searchParams.get('state')).toBeTruthy();
      expect(callback?.searchParams.has('code')).toBe(false);
      await page.getByRole('alert').getByText(/The account was not connected \(the provider refused the sign-in or the grant\)/).waitFor();
      expect(loopback.oauth.issued.length + loopback.denyingOauth.issued.length).toBe(issued);
      const listed = (await svc.app.inject({ url: '/connections', headers: { authorization: `Bearer ${key}` } })).json() as { items: { connector: string }[] };
      expect(listed.items.filter((c) => c.connector === CRM)).toHaveLength(1);
      await shot(page, 'oauth-denied');
      expect(await seriousViolations(page)).toEqual([]);
    } finally {
      await page.unroute(isAuthorize);
    }
  }, 60_000);

  it('shows the review queue', async () => {
    await page.goto(`${svc.url}/review`);
    await page.getByRole('heading', { name: 'Review queue' }).waitFor();
    await page.getByText(/The queue is empty|Nothing waits for review|Automated checks/).first().waitFor();
  }, 60_000);

  it('a publisher submits a connector, a reviewer approves it with a note, the publisher sees it approved', async () => {
    // Imported by a computed specifier: the CLI code behind it is typechecked by the root config, not under this DOM one.
    const support = new URL('../../../server/src/publishing/test-support.ts', import.meta.url).href;
    const { scaffoldConnector, packConnector } = (await import(support)) as { scaffoldConnector(name: string): Promise<string>; packConnector(dir: string): Promise<Buffer> };
    const tgz = await packConnector(await scaffoldConnector('acme-notes'));
    const created = await svc.app.inject({ method: 'POST', url: '/marketplace/submissions', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/gzip' }, payload: tgz });
    expect(created.statusCode, created.body).toBe(201);
    // The reviewer signs in with the platform key (all roles).
    await page.goto(`${svc.url}/installed`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto(`${svc.url}/signin`);
    await page.getByLabel('API key').fill(svc.adminKey);
    await page.getByRole('button', { name: 'Sign in' }).last().click();
    await page.waitForURL(/\/installed$/);
    await page.getByRole('link', { name: 'Review', exact: true }).click();
    const card = page.locator('.submission', { hasText: 'acme-notes' });
    await card.getByText('Automated checks').waitFor();
    await shot(page, 'review');
    expect(await seriousViolations(page)).toEqual([]);
    await card.getByLabel('Note to the publisher').fill('Looks good: hosts and permissions match the description.');
    await card.getByRole('button', { name: 'Approve and publish' }).click();
    await page.getByText('The queue is empty').waitFor();
    // The publisher sees the decision.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.goto(`${svc.url}/signin`);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).last().click();
    await page.waitForURL(/\/installed$/);
    await page.getByRole('link', { name: 'Publishing' }).click();
    const mine = page.locator('.submission', { hasText: 'acme-notes' });
    await mine.getByText('approved', { exact: true }).waitFor();
    await mine.getByText(/Looks good/).waitFor();
    // The first screen only: the suite's own fixture connectors are listed below it.
    await shot(page, 'publisher', false);
  }, 120_000);

  it('fits a phone-width screen (375 px) without horizontal scrolling', async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    for (const [url, name] of [
      ['/', 'phone-browse'],
      ['/installed', 'phone-installed'],
    ] as const) {
      await page.goto(`${svc.url}${url}`);
      await page.locator(url === '/' ? '.card' : '.installed').first().waitFor();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, url).toBeLessThanOrEqual(0);
      await shot(page, name);
    }
    expect(await seriousViolations(page)).toEqual([]);
    await page.setViewportSize({ width: 1280, height: 860 });
  }, 60_000);

  it('signs out, forgets the key, and never put it in a URL', async () => {
    await page.goto(`${svc.url}/installed`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in' }).first().waitFor();
    expect(await page.evaluate(() => window.sessionStorage.getItem('bos.apiKey'))).toBeNull();
    expect(visited.filter((u) => u.includes(key))).toEqual([]);
    expect(consoleErrors.join('\n')).toBe('');
  }, 60_000);
});
