// Exports the demo connector, loads the built CommonJS nodes the way n8n does (require + class by file name) and
// drives them with n8n-shaped contexts against a loopback API: actions, continue-on-fail, the webhook lifecycle
// with its signature check, and polling with dedupe. n8n-workflow is replaced by a small stand-in exposing the
// error classes; the real n8n runs the package in scripts/n8n-e2e.ts, and the lint test typechecks it against the real types.
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import demo from '../fixtures/demo-connector.ts';
import { bundleConnectorEntry } from './build.ts';
import { exportN8nPackage } from './export-package.ts';

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const WORKFLOW_STUB = `
class NodeOperationError extends Error { constructor(node, message, options = {}) { super(typeof message === 'string' ? message : message.message); this.name = 'NodeOperationError'; this.options = options; } }
class NodeApiError extends Error { constructor(node, response, options = {}) { super(options.message || response.message); this.name = 'NodeApiError'; this.httpCode = options.httpCode; this.options = options; } }
module.exports = { NodeOperationError, NodeApiError, NodeConnectionTypes: { Main: 'main' } };
`;

type Json = Record<string, unknown>;

let server: Server;
let base = '';
const requests: Recorded[] = [];
let dir = '';
let work = '';
let nodes: Record<string, new () => Json> = {};
let credential: Json = {};

function fillCredentialTemplate(template: string, creds: Json): string {
  const t = template.startsWith('=') ? template.slice(1) : template;
  return t.replace(/\{\{\s*\$credentials\.([A-Za-z0-9_]+)\s*\}\}/g, (_m, k: string) => String(creds[k] ?? ''));
}

/** An n8n-like httpRequestWithAuthentication: applies the generated credential's `authenticate` block, then sends. */
function makeHelpers(creds: Json) {
  return {
    async httpRequestWithAuthentication(this: unknown, type: string, options: Json) {
      expect(type).toBe('bosDemoCrmApi');
      const auth = credential.authenticate as { properties: { headers?: Record<string, string>; qs?: Record<string, string> } };
      const url = new URL(String(options.url));
      for (const [k, v] of Object.entries((options.qs as Json) ?? {})) url.searchParams.append(k, String(v));
      for (const [k, v] of Object.entries(auth.properties.qs ?? {})) url.searchParams.set(k, fillCredentialTemplate(v, creds));
      const headers: Record<string, string> = { ...((options.headers as Record<string, string>) ?? {}) };
      for (const [k, v] of Object.entries(auth.properties.headers ?? {})) headers[k] = fillCredentialTemplate(v, creds);
      const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      const res = await fetch(url, { method: String(options.method), headers, body });
      const text = await res.text();
      const resHeaders: Record<string, string> = {};
      res.headers.forEach((v, k) => { resHeaders[k] = v; });
      return { statusCode: res.status, headers: resHeaders, body: text && /json/.test(resHeaders['content-type'] ?? '') ? JSON.parse(text) : text };
    },
  };
}

function executeContext(params: Json[], creds: Json, options: { continueOnFail?: boolean } = {}) {
  return {
    getInputData: () => params.map(() => ({ json: {} })),
    getNodeParameter(name: string, i: number, fallback?: unknown) {
      const v = params[i]?.[name];
      if (v !== undefined) return v;
      if (arguments.length >= 3) return fallback;
      throw new Error(`parameter ${name} missing`);
    },
    getCredentials: async () => creds,
    getNode: () => ({ name: 'Demo CRM' }),
    continueOnFail: () => options.continueOnFail ?? false,
    helpers: makeHelpers(creds),
  };
}

const CREDS = { apiKey: 'k-123', region: 'eu', baseUrl: '' };

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const send = (status: number, data: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(data));
      };
      if (req.headers['x-api-key'] !== 'k-123') return send(401, { error: 'bad key' });
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path === '/eu/v1/contacts') {
        if (body.includes('taken@example.com')) return send(422, { error: { message: 'email already taken' } });
        const parsed: unknown = req.headers['content-type']?.includes('json') ? JSON.parse(body) : body;
        return send(201, { id: 'c_9', received: parsed });
      }
      if (req.method === 'GET' && path === '/eu/v1/contacts') return send(200, { contacts: [{ id: 'c_1' }, { id: 'c_2' }] });
      if (req.method === 'GET' && path === '/eu/v1/me') return send(200, { account: 'acme' });
      if (req.method === 'POST' && path === '/eu/v1/hooks') return send(201, { id: 'h_1', secret: 'whsec_test' });
      if (req.method === 'DELETE' && path === '/eu/v1/hooks/h_1') return send(204, {});
      return send(404, { error: 'no route' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  CREDS.baseUrl = `${base}/{region}/v1`;

  work = mkdtempSync(join(tmpdir(), 'bos-n8n-export-'));
  const bundlePath = join(work, 'connector.js');
  writeFileSync(bundlePath, await bundleConnectorEntry(join(import.meta.dirname, '..', 'fixtures', 'demo-connector.ts'), join(import.meta.dirname, '..', '..')));
  const result = await exportN8nPackage({ connector: demo, bundlePath, outDir: join(work, 'out') });
  dir = result.dir;
  mkdirSync(join(dir, 'node_modules', 'n8n-workflow'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', 'n8n-workflow', 'index.js'), WORKFLOW_STUB);
  const require = createRequire(join(dir, 'package.json'));
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { n8n: { nodes: string[]; credentials: string[] } };
  for (const file of pkg.n8n.nodes) {
    const className = file.split('/').pop()?.replace('.node.js', '') ?? '';
    nodes[className] = (require(join(dir, file)) as Record<string, new () => Json>)[className] as new () => Json;
  }
  const credFile = pkg.n8n.credentials[0] ?? '';
  const credClass = credFile.split('/').pop()?.replace('.credentials.js', '') ?? '';
  credential = new ((require(join(dir, credFile)) as Record<string, new () => Json>)[credClass] as new () => Json)();
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(work, { recursive: true, force: true });
  nodes = {};
});

describe('exported n8n package (demo connector)', () => {
  it('lists the nodes and credential in package.json and builds them to CommonJS', () => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Json;
    expect(pkg.name).toBe('n8n-nodes-demo-crm');
    expect(pkg.keywords).toContain('n8n-community-node-package');
    expect(pkg.peerDependencies).toEqual({ 'n8n-workflow': '*' });
    expect(pkg.n8n).toEqual({
      n8nNodesApiVersion: 1,
      strict: true,
      credentials: ['dist/credentials/BosDemoCrmApi.credentials.js'],
      nodes: ['dist/nodes/DemoCrm/DemoCrm.node.js', 'dist/nodes/DemoCrm/DemoCrmTrigger.node.js', 'dist/nodes/DemoCrm/DemoCrmPollingTrigger.node.js'],
    });
    expect(Object.keys(nodes).sort()).toEqual(['DemoCrm', 'DemoCrmPollingTrigger', 'DemoCrmTrigger']);
    expect(readFileSync(join(dir, 'dist/nodes/DemoCrm/DemoCrm.node.js'), 'utf8')).toContain('require("../../vendor/connector.js")');
  });

  it('maps JSON-Schema params to n8n properties per resource and operation', () => {
    const node = new (nodes.DemoCrm as new () => Json)();
    const props = (node.description as Json).properties as Json[];
    const byName = (n: string, op: string) => props.find((p) => p.name === n && JSON.stringify(p.displayOptions ?? {}).includes(`"${op}"`));
    expect(props[0]).toMatchObject({ name: 'resource', type: 'options', options: [{ name: 'Contact', value: 'contact' }, { name: 'Other', value: 'other' }] });
    expect(byName('email', 'createContact')).toMatchObject({ type: 'string', required: true, placeholder: 'name@email.com', displayOptions: { show: { resource: ['contact'], operation: ['createContact'] } } });
    expect(byName('tier', 'createContact')).toMatchObject({ type: 'options', default: 'enterprise', options: [{ name: 'Enterprise', value: 'enterprise' }, { name: 'Free', value: 'free' }, { name: 'Pro', value: 'pro' }] });
    const extra = byName('additionalFields', 'createContact') as Json;
    const opt = (n: string) => (extra.options as Json[]).find((o) => o.name === n);
    expect(opt('seats')).toMatchObject({ type: 'number', typeOptions: { minValue: 1, maxValue: 500, numberPrecision: 0 } });
    expect(opt('vip')).toMatchObject({ type: 'boolean', default: false, description: 'Whether to mark the contact as VIP' });
    expect(opt('tags')).toMatchObject({ type: 'string', typeOptions: { multipleValues: true } });
    expect(opt('channels')).toMatchObject({ type: 'multiOptions' });
    expect(opt('address')).toMatchObject({ type: 'collection', options: [{ name: 'city' }, { name: 'zip' }] });
    expect(opt('phones')).toMatchObject({ type: 'fixedCollection', typeOptions: { multipleValues: true } });
    expect(opt('metadata')).toMatchObject({ type: 'json', default: '{}' });
    expect((byName('additionalFields', 'listContacts') as Json).options).toEqual([
      expect.objectContaining({ name: 'limit', default: 50, typeOptions: { minValue: 1, maxValue: 100, numberPrecision: 0 }, description: 'Max number of results to return' }),
    ]);
  });

  it('runs the connector action through the credential, converting n8n values back to params', async () => {
    const node = new (nodes.DemoCrm as new () => Json)();
    const ctx = executeContext(
      [
        {
          resource: 'contact',
          operation: 'createContact',
          email: 'ann@example.com',
          tier: 'pro',
          additionalFields: {
            seats: 3,
            tags: ['a', 'b'],
            address: { city: 'Berlin' },
            phones: { item: [{ label: 'work', number: '123' }] },
            metadata: '{"crm_id":"4711"}',
          },
        },
        { resource: 'contact', operation: 'listContacts', additionalFields: { limit: 2 } },
        { resource: 'other', operation: 'whoAmI' },
      ],
      CREDS,
    );
    const out = (await (node.execute as (this: unknown) => Promise<Json[][]>).call(ctx))[0] as Json[];
    expect(out).toEqual([
      { json: { id: 'c_9', received: { email: 'ann@example.com', tier: 'pro', seats: 3, tags: ['a', 'b'], address: { city: 'Berlin' }, phones: [{ label: 'work', number: '123' }], metadata: { crm_id: '4711' } } }, pairedItem: { item: 0 } },
      { json: { id: 'c_1' }, pairedItem: { item: 1 } },
      { json: { id: 'c_2' }, pairedItem: { item: 1 } },
      { json: { account: 'acme', region: 'eu' }, pairedItem: { item: 2 } },
    ]);
    const created = requests.find((r) => r.method === 'POST' && r.url === '/eu/v1/contacts');
    expect(created?.headers['x-api-key']).toBe('k-123');
    expect(requests.some((r) => r.url === '/eu/v1/contacts?limit=2')).toBe(true);
  });

  it('sends form bodies form-encoded', async () => {
    const node = new (nodes.DemoCrm as new () => Json)();
    const ctx = executeContext([{ resource: 'contact', operation: 'createContact', email: 'f@example.com', tier: 'free', additionalFields: { form: true, address: { city: 'Köln', zip: '50667' } } }], CREDS);
    const out = (await (node.execute as (this: unknown) => Promise<Json[][]>).call(ctx))[0] as Json[];
    expect((out[0]?.json as Json).received).toBe('email=f%40example.com&tier=free&address%5Bcity%5D=K%C3%B6ln&address%5Bzip%5D=50667');
  });

  it('honours continue-on-fail and otherwise throws a NodeApiError with the upstream status', async () => {
    const node = new (nodes.DemoCrm as new () => Json)();
    const items = [
      { resource: 'contact', operation: 'createContact', email: 'taken@example.com', tier: 'pro' },
      { resource: 'contact', operation: 'createContact', email: 'ok@example.com', tier: 'pro', additionalFields: { metadata: '{not json' } },
      { resource: 'other', operation: 'whoAmI' },
    ];
    const out = (await (node.execute as (this: unknown) => Promise<Json[][]>).call(executeContext(items, CREDS, { continueOnFail: true })))[0] as Json[];
    expect(out[0]).toMatchObject({ json: { code: 'INVALID_INPUT', upstreamStatus: 422 }, pairedItem: { item: 0 } });
    expect(String((out[0]?.json as Json).error)).toContain('email already taken');
    expect(out[1]).toMatchObject({ json: { code: 'INVALID_INPUT', path: '/metadata' }, pairedItem: { item: 1 } });
    expect(out[2]).toMatchObject({ json: { account: 'acme' }, pairedItem: { item: 2 } });
    await expect((node.execute as (this: unknown) => Promise<unknown>).call(executeContext(items.slice(0, 1), CREDS))).rejects.toMatchObject({ name: 'NodeApiError', httpCode: '422' });
    await expect((node.execute as (this: unknown) => Promise<unknown>).call(executeContext(items.slice(0, 1), { ...CREDS, apiKey: 'wrong' }))).rejects.toMatchObject({ name: 'NodeApiError', httpCode: '401' });
  });

  it('refuses a connection field that would move the request to another host', async () => {
    const node = new (nodes.DemoCrm as new () => Json)();
    // Without a Base URL override the manifest's https://{region}.demo-crm.example/v1 is used: region is a host label.
    const out = (await (node.execute as (this: unknown) => Promise<Json[][]>).call(executeContext([{ resource: 'other', operation: 'whoAmI' }], { ...CREDS, baseUrl: '', region: 'evil.com/x' }, { continueOnFail: true })))[0] as Json[];
    expect(out[0]).toMatchObject({ json: { code: 'INVALID_INPUT', path: '/fields/region' } });
  });

  it('subscribes, verifies signatures, transforms deliveries and unsubscribes (webhook trigger)', async () => {
    const node = new (nodes.DemoCrmTrigger as new () => Json)();
    const staticData: Json = {};
    const response = { code: 0, body: undefined as unknown };
    const hook = {
      getNodeParameter: () => 'contactCreated',
      getNodeWebhookUrl: () => 'https://n8n.example/webhook/abc',
      getWorkflowStaticData: () => staticData,
      getCredentials: async () => CREDS,
      getNode: () => ({ name: 'Demo CRM Trigger' }),
      helpers: { ...makeHelpers(CREDS), returnJsonArray: (items: Json[]) => items.map((json) => ({ json })) },
    };
    const methods = (node.webhookMethods as { default: Record<string, (this: unknown) => Promise<boolean>> }).default;
    expect(await methods.checkExists?.call(hook)).toBe(false);
    expect(await methods.create?.call(hook)).toBe(true);
    expect(staticData.subscription).toEqual({ trigger: 'contactCreated', webhookUrl: 'https://n8n.example/webhook/abc', externalId: 'h_1', secret: 'whsec_test' });
    expect(JSON.parse(requests.find((r) => r.url === '/eu/v1/hooks')?.body ?? '{}')).toEqual({ url: 'https://n8n.example/webhook/abc', topic: 'contact.created' });
    expect(await methods.checkExists?.call(hook)).toBe(true);

    const raw = JSON.stringify({ contacts: [{ id: 'c_7' }, { id: 'c_8' }] });
    const deliver = (signature: string) => ({
      ...hook,
      getRequestObject: () => ({ rawBody: Buffer.from(raw) }),
      getBodyData: () => JSON.parse(raw) as Json,
      getHeaderData: () => ({ 'x-demo-signature': signature }),
      getQueryData: () => ({}),
      getResponseObject: () => ({ status(code: number) { response.code = code; return { json(b: unknown) { response.body = b; } }; } }),
    });
    const good = `sha256=${createHmac('sha256', 'whsec_test').update(raw).digest('hex')}`;
    const accepted = await (node.webhook as (this: unknown) => Promise<Json>).call(deliver(good));
    expect(accepted).toEqual({ workflowData: [[{ json: { id: 'c_7' } }, { json: { id: 'c_8' } }]] });
    const rejected = await (node.webhook as (this: unknown) => Promise<Json>).call(deliver('sha256=00'));
    expect(rejected).toEqual({ noWebhookResponse: true });
    expect(response).toEqual({ code: 401, body: { error: 'X-Demo-Signature does not match the body' } });

    expect(await methods.delete?.call(hook)).toBe(true);
    expect(requests.some((r) => r.method === 'DELETE' && r.url === '/eu/v1/hooks/h_1')).toBe(true);
    expect(staticData.subscription).toBeUndefined();
  });

  it('polls with state in static data and emits each item once; a manual run saves nothing', async () => {
    const node = new (nodes.DemoCrmPollingTrigger as new () => Json)();
    const staticData: Json = {};
    const ctx = (mode: string) => ({
      getNodeParameter: () => 'newContact',
      getWorkflowStaticData: () => staticData,
      getMode: () => mode,
      getCredentials: async () => CREDS,
      getNode: () => ({ name: 'Demo CRM Polling Trigger' }),
      helpers: { ...makeHelpers(CREDS), returnJsonArray: (items: Json[]) => items.map((json) => ({ json })) },
    });
    const poll = node.poll as (this: unknown) => Promise<unknown>;
    expect(await poll.call(ctx('trigger'))).toEqual([[{ json: { id: 'c_1' } }, { json: { id: 'c_2' } }]]);
    expect(staticData.newContact).toMatchObject({ seen: ['c_1', 'c_2'], state: { polls: 1 } });
    expect(await poll.call(ctx('trigger'))).toBeNull();
    expect(staticData.newContact).toMatchObject({ state: { polls: 2 } });
    expect(await poll.call(ctx('manual'))).toEqual([[{ json: { id: 'c_sample' } }]]);
    expect(staticData.newContact).toMatchObject({ state: { polls: 2 } });
  });
});
