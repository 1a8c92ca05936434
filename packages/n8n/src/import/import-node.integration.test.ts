// Imports the Acme CRM declarative node fixture, then bundles and loads the generated connector package, checks
// its manifest with the SDK host's validateManifest and runs its actions against a loopback API with runAction.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector } from '@businessos/connector-sdk';
import { runAction, validateManifest } from '@businessos/connector-sdk/host';
import { importN8nNode, type ImportN8nResult } from './import-node.ts';
import { loadN8nSource } from './load-source.ts';

const REPO = resolve(import.meta.dirname, '..', '..', '..', '..');
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'acme-crm.node.json'), 'utf8')) as unknown;

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

let work = '';
let server: Server;
let base = '';
const seen: Seen[] = [];
let result: ImportN8nResult;
let connector: Connector;

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => { raw += c.toString(); });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: raw ? JSON.parse(raw) : undefined });
      res.writeHead(req.headers.authorization === 'Token secret-key' ? 200 : 401, { 'content-type': 'application/json' });
      if (req.url?.startsWith('/contacts/c_1')) res.end(JSON.stringify({ contact: { id: 'c_1', email: 'ann@example.com' } }));
      else if (req.method === 'GET' && req.url?.startsWith('/contacts?')) res.end(JSON.stringify({ contacts: [{ id: 'c_1' }, { id: 'c_2' }] }));
      else res.end(JSON.stringify({ ok: true, echo: raw ? JSON.parse(raw) : null }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  work = mkdtempSync(join(tmpdir(), 'bos-n8n-import-'));
  result = await importN8nNode({ nodeDescription: fixture, outDir: work });
  const built = await esbuild.build({
    entryPoints: [join(result.dir, 'src', 'index.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'node',
    nodePaths: [join(REPO, 'node_modules')],
    logLevel: 'silent',
  });
  const file = join(work, 'bundle.mjs');
  writeFileSync(file, built.outputFiles[0]?.text ?? '');
  connector = ((await import(pathToFileURL(file).href)) as { default: Connector }).default;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(work, { recursive: true, force: true });
});

const run = (action: string, params: unknown) =>
  runAction(connector, action, params, { credentials: { apiKey: 'secret-key' }, fields: { subdomain: 'acme' }, baseUrlOverride: base });

describe('importN8nNode (Acme CRM declarative node)', () => {
  it('writes a connector package: one file per action, index, route helper, README', () => {
    expect(result.name).toBe('acme-crm');
    expect(result.files).toEqual([
      'README.md',
      'package.json',
      'src/actions/create-contact.ts',
      'src/actions/create-deal.ts',
      'src/actions/get-all-contact.ts',
      'src/actions/get-contact.ts',
      'src/actions/update-stage-deal.ts',
      'src/index.ts',
      'src/route.ts',
    ]);
    expect(readFileSync(join(result.dir, 'README.md'), 'utf8')).toContain('/properties/1/options/3/routing/send/preSend');
  });

  it('produces a manifest that passes validateManifest, with auth and base URL from the credential', () => {
    const m = connector.manifest;
    expect(validateManifest(m)).toEqual({ ok: true, issues: [] });
    expect(m.auth).toEqual({
      type: 'api_key',
      in: 'header',
      name: 'Authorization',
      prefix: 'Token ',
      fields: { subdomain: { type: 'string', label: 'Subdomain', required: true, placeholder: 'mycompany' } },
    });
    expect(m.baseUrl).toBe('https://{subdomain}.acme-crm.example/api/v2');
    expect(m.test).toEqual({ method: 'GET', path: '/me' });
    expect(m.actions.map((a) => [a.name, a.group])).toEqual([
      ['createContact', 'contact'],
      ['getContact', 'contact'],
      ['getAllContact', 'contact'],
      ['createDeal', 'deal'],
      ['updateStageDeal', 'deal'],
    ]);
    const create = m.actions[0]?.params as { properties: Record<string, unknown>; required: string[] };
    expect(create.required).toEqual(['email']);
    expect(create.properties.email).toEqual({ type: 'string', format: 'email', description: 'Primary email address of the contact' });
    expect(create.properties.additionalFields).toMatchObject({
      type: 'object',
      properties: { firstName: { type: 'string' }, stage: { enum: ['customer', 'lead'], default: 'lead' }, ownerId: { type: 'string' }, notify: { type: 'boolean', default: false } },
    });
  });

  it('reports every feature it could not convert, with its JSON pointer', () => {
    const paths = result.report.unsupported.map((u) => u.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/properties/1/options/3/routing/send/preSend',
        '/properties/1/options/2/routing/send/paginate',
        '/properties/4/options/2/typeOptions',
        '/properties/6',
        '/properties/10/routing/send/value',
      ]),
    );
    expect(result.report.unsupported.find((u) => u.path === '/properties/1/options/3/routing/send/preSend')?.reason).toContain('mergeContact is not converted');
    expect(result.report.unsupported.find((u) => u.path === '/properties/10/routing/send/value')?.reason).toContain('Math.round');
    expect(result.report.converted).toContain('auth api_key header Authorization from acmeCrmApi');
  });

  it('runs the imported actions in the local harness: body/query sends, URL params, rootProperty, static query', async () => {
    const created = await run('createContact', { email: 'ann@example.com', additionalFields: { firstName: 'Ann', stage: 'customer', notify: true } });
    expect(created).toEqual({ ok: true, echo: { email: 'ann@example.com', name: { first: 'Ann' }, lifecycle_stage: 'customer' } });
    const post = seen.at(-1);
    expect(post).toMatchObject({ method: 'POST', url: '/contacts?notify=true' });
    expect(post?.headers).toMatchObject({ authorization: 'Token secret-key', 'x-client': 'n8n' });

    expect(await run('getContact', { contactId: 'c_1' })).toEqual({ id: 'c_1', email: 'ann@example.com' });
    expect(await run('getAllContact', { limit: 2 })).toEqual([{ id: 'c_1' }, { id: 'c_2' }]);
    expect(seen.at(-1)?.url).toBe('/contacts?archived=false&per_page=2');
    await run('updateStageDeal', { dealId: 'd/7', stage: 'won' });
    expect(seen.at(-1)).toMatchObject({ method: 'PATCH', url: '/deals/d%2F7', body: { stage: 'won' } });
  });

  it('reads the CLI input file and refuses missing paths', () => {
    expect(loadN8nSource(join(import.meta.dirname, '..', 'fixtures', 'acme-crm.node.json'))).toEqual({ nodeDescription: fixture, credentialTypes: [] });
    expect(() => loadN8nSource(join(work, 'nope.json'))).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('reports a programmatic node precisely instead of converting nothing silently', async () => {
    const programmatic = { name: 'legacy', displayName: 'Legacy', properties: [{ displayName: 'Operation', name: 'operation', type: 'options', options: [{ name: 'Run', value: 'run' }], default: 'run' }], execute: () => [] };
    await expect(importN8nNode({ nodeDescription: programmatic, outDir: work })).rejects.toThrow(/\/execute: the node has a programmatic execute\(\).*\/properties\/0\/options\/0\/routing: operation \/run has no routing.request/);
  });

  it('rejects bad params through the generated schema and refuses inputs without properties', async () => {
    await expect(run('updateStageDeal', { dealId: 'd_1', stage: 'maybe' })).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/stage' });
    await expect(importN8nNode({ nodeDescription: { name: 'x' }, outDir: work })).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/nodeDescription' });
  });
});
