import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyAuth, BasicAuth, OAuth2Auth, defineAction, defineConnector } from '../index.ts';
import { applyAuth } from './apply-auth.ts';
import { generateDocs } from './docs.ts';
import { encodeForm } from './form.ts';
import { createLocalTransport } from './local-transport.ts';
import { buildAuthorizeUrl, createPkcePair } from './oauth2.ts';
import { runAction } from './run.ts';
import { fillTemplate, isHostAllowed, resolveUrl } from './url.ts';
import { validateManifest, validateValue } from './validate.ts';

const createCustomer = defineAction({
  name: 'createCustomer',
  description: 'Create a customer',
  params: { email: { type: 'string', format: 'email', required: true }, name: { type: 'string' } },
  output: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
  async execute(params, ctx) {
    return (await ctx.http.post<{ id: string }>('/customers', params)).data;
  },
});

const acme = defineConnector({
  name: 'acme',
  version: '1.0.0',
  category: 'crm',
  baseUrl: 'https://{tenant}.acme.test/api',
  auth: new ApiKeyAuth({ name: 'X-Api-Key', fields: { tenant: { type: 'string', label: 'Account' } } }),
  actions: [createCustomer],
});

describe('validateManifest', () => {
  it('accepts a well-formed manifest', () => {
    expect(validateManifest(acme.manifest)).toEqual({ ok: true, issues: [] });
  });

  it('names the JSON path of a broken params schema', () => {
    const broken = structuredClone(acme.manifest) as unknown as { actions: { params: { properties: { email: { type: string } } } }[] };
    broken.actions[0]!.params.properties.email.type = 'strang';
    const { ok, issues } = validateManifest(broken);
    expect(ok).toBe(false);
    expect(issues.map((i) => i.path)).toContain('/actions/0/params/properties/email/type');
  });

  it('finds duplicate names, unknown placeholders and bad versions', () => {
    const m = structuredClone(acme.manifest);
    m.version = '1.0';
    m.actions.push(structuredClone(m.actions[0]!));
    m.baseUrl = 'https://{shop}.acme.test';
    const paths = validateManifest(m).issues.map((i) => `${i.path} ${i.rule}`);
    expect(paths).toEqual(expect.arrayContaining(['/version pattern', '/actions/1/name duplicate-name', '/baseUrl unknown-placeholder']));
  });
});

describe('validateValue', () => {
  it('reports missing, unknown and mistyped fields by path', () => {
    const schema = acme.manifest.actions[0]!.params;
    const { issues } = validateValue(schema, { name: 3, extra: true });
    expect(issues).toEqual(expect.arrayContaining([
      { path: '/email', message: 'is required', rule: 'required' },
      { path: '/extra', message: 'is not an allowed field (unknown property)', rule: 'additionalProperties' },
      { path: '/name', message: 'must be string', rule: 'type' },
    ]));
  });
});

describe('URL templating and declared hosts', () => {
  it('fills host placeholders with single labels only', () => {
    expect(fillTemplate('https://{shop}.myshopify.com/x/{id}', { shop: 'Acme', id: 'a/b' })).toBe('https://acme.myshopify.com/x/a%2Fb');
    expect(() => fillTemplate('https://{shop}.myshopify.com/', { shop: 'evil.com/x' })).toThrow(/single host label/);
    expect(() => fillTemplate('https://{shop}.myshopify.com/', {})).toThrow(/needs the connection field "shop"/);
  });

  it('refuses . and .. as path values, which would walk up the base path', () => {
    const m = { name: 'x', baseUrl: 'https://api.example.com/v1/accounts/{account}', hosts: ['api.example.com'] };
    expect(() => resolveUrl(m, { account: '..' }, '/items')).toThrow(/cannot be "\.\." in a URL path/);
    expect(resolveUrl(m, { account: 'a b' }, '/items').pathname).toBe('/v1/accounts/a%20b/items');
  });

  it('matches wildcards on exactly one label and ports only when declared', () => {
    expect(isHostAllowed('files.slack.com', ['*.slack.com'])).toBe(true);
    expect(isHostAllowed('a.b.slack.com', ['*.slack.com'])).toBe(false);
    expect(isHostAllowed('slack.com', ['*.slack.com'])).toBe(false);
    expect(isHostAllowed('api.example.com:8443', ['api.example.com'])).toBe(false);
    expect(isHostAllowed('api.example.com:8443', ['api.example.com:8443'])).toBe(true);
    const m = { name: 'x', baseUrl: 'https://api.example.com', hosts: ['api.example.com'] };
    expect(() => resolveUrl(m, {}, 'https://api.example.com:8443/x')).toThrow(/may not call api.example.com:8443/);
  });

  it('refuses hosts the manifest does not declare', () => {
    expect(resolveUrl(acme.manifest, { tenant: 't1' }, '/customers').toString()).toBe('https://t1.acme.test/api/customers');
    expect(() => resolveUrl(acme.manifest, { tenant: 't1' }, 'https://attacker.example/steal')).toThrow(/may not call attacker.example/);
    expect(() => resolveUrl(acme.manifest, { tenant: 't1' }, 'file:///etc/passwd')).toThrow(/may only call http\(s\) URLs/);
  });
});

describe('applyAuth', () => {
  const base = () => ({ url: new URL('https://x.test/a'), headers: { 'x-api-key': 'forged-by-connector' } });
  it('replaces headers the connector tried to set', () => {
    const out = applyAuth(base(), new ApiKeyAuth({ name: 'X-Api-Key', prefix: 'Key ' }).toSpec(), { apiKey: 's3cret' });
    expect(out.headers).toEqual({ 'X-Api-Key': 'Key s3cret' });
  });
  it('supports query keys, basic and oauth2 token headers', () => {
    expect(applyAuth(base(), new ApiKeyAuth({ in: 'query', name: 'key' }).toSpec(), { apiKey: 'k' }).url.search).toBe('?key=k');
    expect(applyAuth(base(), new BasicAuth().toSpec(), { username: 'u', password: 'p' }).headers.Authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    const shopify = new OAuth2Auth({ clientId: 'c', tokenHeader: { name: 'X-Shopify-Access-Token', prefix: '' } }).toSpec();
    expect(applyAuth(base(), shopify, { accessToken: 'shpat' }).headers['X-Shopify-Access-Token']).toBe('shpat');
  });
  it('refuses an auth type it does not know instead of sending the request bare', () => {
    expect(() => applyAuth(base(), { type: 'digest' } as never, {})).toThrow(/Unknown auth type "digest"/);
  });
  it('fails clearly without the credential', () => {
    expect(() => applyAuth(base(), new ApiKeyAuth({ name: 'X' }).toSpec(), {})).toThrow(/no API key/);
  });
});

describe('encodeForm', () => {
  it('encodes nested objects and arrays Stripe-style', () => {
    expect(decodeURIComponent(encodeForm({ email: 'a@b.c', metadata: { plan: 'pro' }, items: [{ price: 'p1' }], skip: undefined, clear: null })))
      .toBe('email=a@b.c&metadata[plan]=pro&items[0][price]=p1&clear=');
  });
});

describe('OAuth2 helpers', () => {
  it('builds an authorize URL with PKCE, scopes and templated host', () => {
    const pkce = createPkcePair();
    const spec = new OAuth2Auth({ clientId: 'config.client_id', scopes: ['a', 'b'], scopeSeparator: ',', authorizationUrl: 'https://{shop}.myshopify.com/admin/oauth/authorize', tokenUrl: 'https://{shop}.myshopify.com/t' }).toSpec();
    const url = new URL(buildAuthorizeUrl({ spec, redirectUri: 'https://app/cb', state: 's1', codeChallenge: pkce.challenge, fields: { shop: 'acme' }, config: { client_id: 'cid' } }));
    expect(url.host).toBe('acme.myshopify.com');
    expect(Object.fromEntries(url.searchParams)).toMatchObject({ client_id: 'cid', scope: 'a,b', state: 's1', code_challenge: pkce.challenge, code_challenge_method: 'S256' });
    expect(() => buildAuthorizeUrl({ spec, redirectUri: 'x', state: 's', fields: { shop: 'acme' } })).toThrow(/platform config "client_id"/);
  });
});

describe('createLocalTransport and runAction against a loopback API', () => {
  let server: Server;
  let origin: string;
  const seen: { url: string; headers: IncomingMessage['headers']; body: string }[] = [];
  let validToken = 'old-token';
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        seen.push({ url: req.url ?? '', headers: req.headers, body });
        if (req.url === '/token') {
          validToken = 'new-token';
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 'new-token', expires_in: 3600 }));
        } else if (req.url === '/me') {
          const ok = req.headers.authorization === `Bearer ${validToken}`;
          res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(JSON.stringify(ok ? { me: 1 } : { error: 'expired' }));
        } else if (req.url === '/customers') {
          const parsed = JSON.parse(body) as { email: string };
          res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(parsed.email === 'bad@out.put' ? { nope: 1 } : { id: 'cus_1' }));
        } else res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('runs an action with host-applied credentials and validated output', async () => {
    const out = await runAction(acme, 'createCustomer', { email: 'a@b.co' }, { credentials: { apiKey: 'k-123', fields: { tenant: 't1' } }, baseUrlOverride: origin });
    expect(out).toEqual({ id: 'cus_1' });
    expect(seen.at(-1)?.headers['x-api-key']).toBe('k-123');
  });

  it('maps absolute next-page URLs under the base URL onto the same simulator paths', async () => {
    const c = defineConnector({
      name: 'pager',
      version: '1.0.0',
      baseUrl: 'https://{tenant}.acme.test/api/v2',
      auth: new ApiKeyAuth({ name: 'X-Api-Key', fields: { tenant: { type: 'string', label: 'Account' } } }),
      actions: [defineAction({ name: 'next', description: 'follow a link', async execute(_p, ctx) { return (await ctx.http.get('https://t1.acme.test/api/v2/customers?page=2', { throwOnError: false })).status; } })],
    });
    const before = seen.length;
    await runAction(c, 'next', {}, { credentials: { apiKey: 'k', fields: { tenant: 't1' } }, baseUrlOverride: origin });
    expect(seen.slice(before).map((s) => s.url)).toEqual(['/customers?page=2']);
  });

  it('rejects bad params before sending anything, and bad output after', async () => {
    const before = seen.length;
    await expect(runAction(acme, 'createCustomer', { email: 'not-an-email' }, { credentials: { apiKey: 'k' }, baseUrlOverride: origin })).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/email' });
    expect(seen.length).toBe(before);
    await expect(runAction(acme, 'createCustomer', { email: 'bad@out.put' }, { credentials: { apiKey: 'k', fields: { tenant: 't' } }, baseUrlOverride: origin })).rejects.toMatchObject({ code: 'INVALID_OUTPUT', path: '/id' });
  });

  it('refreshes an OAuth2 token on 401 and retries once', async () => {
    const c = defineConnector({
      name: 'oauthy',
      version: '1.0.0',
      baseUrl: origin,
      auth: new OAuth2Auth({ clientId: 'cid', clientSecret: 'sec', tokenUrl: `${origin}/token`, authorizationUrl: `${origin}/auth` }),
      actions: [defineAction({ name: 'me', description: 'who am I', async execute(_p, ctx) { return (await ctx.http.get('/me')).data; } })],
    });
    const updates: unknown[] = [];
    const transport = createLocalTransport({ manifest: c.manifest, credentials: { accessToken: 'old-token-expired', refreshToken: 'r1' }, onCredentials: (cr) => { updates.push(cr); } });
    validToken = 'something-else';
    await expect(c.executeAction('me', {}, { transport })).resolves.toEqual({ me: 1 });
    expect(updates).toHaveLength(1);
    expect(updates[0]).toMatchObject({ accessToken: 'new-token', refreshToken: 'r1' });
    const tokenCall = seen.find((s) => s.url === '/token');
    expect(new URLSearchParams(tokenCall?.body)).toEqual(new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'r1', client_id: 'cid', client_secret: 'sec' }));
  });
});

describe('generateDocs', () => {
  it('documents auth, actions with params and outputs', () => {
    const md = generateDocs(acme.manifest);
    expect(md).toContain('# Acme');
    expect(md).toContain('### Create Customer (`createCustomer`)');
    expect(md).toContain('| `email` | string (email) | yes |');
    expect(md).toContain('`X-Api-Key` header');
  });
});
