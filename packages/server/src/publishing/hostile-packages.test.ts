// A hostile publisher's packages: each must be refused with a message naming the file or JSON path, without a crash,
// a hang or anything stored; a good package still publishes afterwards.
import type { SandboxPool } from '@businessos/connector-runtime';
import type { ConnectorManifest } from '@businessos/connector-sdk';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProblemError } from '../http/problem.ts';
import { createTestApp, type TestApp } from '../test-app.ts';
import { checkPackage, hostPolicy, sha256Hex } from './checks.ts';
import { runHappyPath } from './flow.ts';
import { packConnector, scaffoldConnector, setVersion, tarballRefusal as refusal } from './test-support.ts';
import { rawTarGz } from './raw-tar.ts';
import { readConnectorTarball } from './tarball.ts';

function manifest(over: Record<string, unknown> = {}): ConnectorManifest {
  return {
    manifestVersion: 1,
    name: 'acme',
    version: '1.0.0',
    displayName: 'Acme',
    description: 'Acme',
    category: 'crm',
    auth: { type: 'none', fields: { host: { type: 'string', label: 'Host' }, shop: { type: 'string', label: 'Shop' } } },
    baseUrl: 'https://api.acme.example.com',
    hosts: ['api.acme.example.com'],
    permissions: [],
    runtime: 'sandbox',
    actions: [{ name: 'list', displayName: 'List', description: 'List', params: { type: 'object' }, idempotent: true, examples: [] }],
    triggers: [],
    ...over,
  } as unknown as ConnectorManifest;
}

/** A package whose checksums.json vouches for every file given. */
function pkg(files: Record<string, string | Buffer>, checksums?: unknown): Map<string, Buffer> {
  const map = new Map(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)]));
  const sums = checksums ?? {
    algorithm: 'sha256',
    bundle: { path: 'connector.js', sha256: sha256Hex(map.get('connector.js') ?? '') },
    files: Object.fromEntries([...map].map(([k, v]) => [k, sha256Hex(v)])),
  };
  map.set('checksums.json', Buffer.from(typeof sums === 'string' ? sums : JSON.stringify(sums)));
  return map;
}

const base = (m: unknown = manifest()) => ({ 'manifest.json': JSON.stringify(m), 'connector.js': 'export default {}', 'package.json': '{"name":"acme","version":"1.0.0"}' });

async function check(files: Map<string, Buffer>): Promise<Record<string, { status: string; details: string[] }>> {
  const result = await checkPackage(files, { pool: undefined });
  expect(result.ok).toBe(false);
  return Object.fromEntries(result.checks.map((c) => [c.id, { status: c.status, details: c.details }]));
}

describe('hostile tarballs', () => {
  it('refuses a gzip bomb without inflating it all (300 MiB of zeros in ~300 KiB)', async () => {
    const bomb = gzipSync(Buffer.alloc(300 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    expect(await refusal(bomb)).toMatch(/unpacks to more than 16777216 bytes/);
    const oneHuge = rawTarGz([{ name: 'package/connector.js', body: Buffer.alloc(64 * 1024 * 1024) }]);
    expect(await refusal(oneHuge)).toMatch(/unpacks to more than/);
  }, 60_000);

  it('refuses a path longer than 255 characters without echoing it whole', async () => {
    const longName = `package/${'a'.repeat(100_000)}`;
    const message = await refusal(rawTarGz([{ name: '././@LongLink', type: 'L' as '0', body: `${longName}\0` }, { name: 'package/x', body: 'x' }]));
    expect(message).toMatch(/has a path longer than 255 characters/);
    expect(message.length).toBeLessThan(400);
    expect(await readConnectorTarball(rawTarGz([{ name: '././@LongLink', type: 'L' as '0', body: `package/docs/${'b'.repeat(200)}.md\0` }, { name: 'package/x', body: 'x' }]))).toHaveProperty('size', 1);
  });

  it('refuses many tiny entries and devices/FIFOs; duplicates through ./ are caught', async () => {
    const many = rawTarGz(Array.from({ length: 3000 }, (_, i) => ({ name: `package/f${i}`, body: 'x' })));
    expect(await refusal(many)).toMatch(/more than (64 entries|\d+ bytes)/);
    expect(await refusal(rawTarGz([{ name: 'package/fifo', type: '6' as '0' }]))).toMatch(/FIFO/);
    expect(await refusal(rawTarGz([{ name: 'package/dev', type: '3' as '0' }]))).toMatch(/CharacterDevice/);
    expect(await refusal(rawTarGz([{ name: 'package/connector.js', body: 'a' }, { name: 'package/./connector.js', body: 'b' }]))).toMatch(/twice/);
  });
});

describe('hostile package contents', () => {
  it('checksums.json that is null, an array or lacks files fails the reproducibility check instead of crashing', async () => {
    for (const sums of ['null', '[]', JSON.stringify({ bundle: null })]) {
      const checks = await check(pkg(base(), sums));
      expect(checks.reproducibility!.status).toBe('fail');
      expect(checks.reproducibility!.details.join('\n')).toMatch(/checksums\.json \/bundle\/sha256|checksums\.json \/files/);
    }
  });

  it('a shipped file not listed in checksums.json (second bundle, case variant) fails reproducibility', async () => {
    const files = pkg(base());
    files.set('Connector.js', Buffer.from('globalThis.evil = 1'));
    const checks = await check(files);
    expect(checks.reproducibility).toMatchObject({ status: 'fail', details: [expect.stringMatching(/package\/Connector\.js is not listed in checksums\.json/)] });
  });

  it('deeply nested JSON and __proto__ keys are refused with the JSON path, not a stack overflow', async () => {
    const text = JSON.stringify(manifest());
    const nested = text.replace('"params":{"type":"object"}', `"params":{"type":"object","properties":${'{"a":{"properties":'.repeat(50_000)}{}${'}}'.repeat(50_000)}}`);
    const checks = await check(pkg({ ...base(), 'manifest.json': nested }));
    expect(checks.manifest!.details[0]).toMatch(/^manifest\.json \/actions\/0\/params\/properties\/a\/properties.*nests deeper than 64 levels/);
    const proto = text.replace('"params":{"type":"object"}', '"params":{"type":"object","properties":{"__proto__":{"type":"string"}}}');
    expect((await check(pkg({ ...base(), 'manifest.json': proto }))).manifest!.details[0]).toBe('manifest.json /actions/0/params/properties/__proto__: "__proto__" is not allowed as a key');
    const sums = await check(pkg(base(), `{"files":${'['.repeat(100_000)}${']'.repeat(100_000)}}`));
    expect(sums.reproducibility!.details[0]).toMatch(/checksums\.json \/files\/0\/0.*nests deeper/);
  });

  it('refuses an oversized manifest and an enormous action list before validating them', async () => {
    const actions = Array.from({ length: 5000 }, (_, i) => ({ name: `a${i}`, displayName: 'A', description: 'A', params: { type: 'object', properties: { [`p${i}`]: { type: 'string' } } }, idempotent: true, examples: [] }));
    expect((await check(pkg(base(manifest({ actions }))))).manifest!.details[0]).toMatch(/declares 5000 actions and triggers; at most 500/);
    expect((await check(pkg(base(manifest({ icon: 'x'.repeat(3 * 1024 * 1024) }))))).manifest!.details[0]).toMatch(/manifest\.json is larger than 2097152 bytes/);
  });

  it('refuses schemas with a remote $ref', async () => {
    const m = manifest({ actions: [{ name: 'list', displayName: 'L', description: 'L', params: { $ref: 'https://evil.example.net/s.json' }, idempotent: true, examples: [] }] });
    expect((await check(pkg(base(m)))).manifest!.details.join('\n')).toMatch(/\/actions\/0\/params: can't resolve reference https:\/\/evil\.example\.net/);
  });
});

describe('dry load', () => {
  // A stand-in pool that records what it was asked to load; the real one keeps an image of every bundle it loads.
  function recordingPool(): { pool: SandboxPool; loaded: string[] } {
    const loaded: string[] = [];
    const pool = {
      async run(job: { bundle: { sha256: string } }) {
        loaded.push(job.bundle.sha256);
        return { ok: true, value: manifest() };
      },
    } as unknown as SandboxPool;
    return { pool, loaded };
  }

  it('does not load a bundle whose package already failed a check, or that the store would refuse', async () => {
    const { pool, loaded } = recordingPool();
    const linted = await checkPackage(pkg({ ...base(), 'connector.js': 'export default {}; eval("1")' }), { pool });
    expect(linted.checks.find((c) => c.id === 'dry-load')).toMatchObject({ status: 'fail', details: ['not run: fix the failed security-lint check(s) first'] });
    const wildcard = await checkPackage(pkg(base(manifest({ hosts: ['*.com'] }))), { pool });
    expect(wildcard.checks.find((c) => c.id === 'dry-load')?.details).toEqual(['not run: fix the failed permissions check(s) first']);
    const taken = new ProblemError('CONFLICT', 'acme@1.0.0 already exists');
    await expect(checkPackage(pkg(base()), { pool, beforeDryLoad: () => Promise.reject(taken) })).rejects.toBe(taken);
    expect(loaded).toEqual([]);
    const fine = await checkPackage(pkg(base()), { pool, beforeDryLoad: () => Promise.resolve() });
    expect(fine.ok).toBe(true);
    expect(loaded).toEqual([sha256Hex('export default {}')]);
  });
});

describe('hostPolicy', () => {
  it('refuses hosts that pick the whole domain, private addresses and bare names, with the JSON path', () => {
    const { fail } = hostPolicy(manifest({ hosts: ['api.acme.example.com', '*.com', '{host}', '{shop}.com', '169.254.169.254', '10.0.0.1', 'intranet', '*.myshopify.com', '{shop}.myshopify.com'] }));
    expect(fail).toEqual([
      expect.stringMatching(/^manifest\.json \/hosts\/1: \*\.com lets the wildcard choose the whole domain/),
      expect.stringMatching(/^manifest\.json \/hosts\/2: \{host\} lets a connection field choose the whole domain/),
      expect.stringMatching(/^manifest\.json \/hosts\/3: \{shop\}\.com lets a connection field/),
      expect.stringMatching(/^manifest\.json \/hosts\/4: 169\.254\.169\.254 is not a public address \(.*metadata/),
      expect.stringMatching(/^manifest\.json \/hosts\/5: 10\.0\.0\.1 is not a public address/),
      expect.stringMatching(/^manifest\.json \/hosts\/6: intranet is not a fully qualified host name/),
    ]);
  });

  it('refuses http and user info in URLs; loopback is a reviewer warning (test mode publishes against mocks)', () => {
    const policy = hostPolicy(manifest({ baseUrl: 'http://api.acme.example.com', hosts: ['localhost', '127.0.0.1:8080'], auth: { type: 'oauth2', grant: 'client_credentials', tokenUrl: 'https://user:pw@api.acme.example.com/token', clientId: 'x', scopes: [], scopeSeparator: ' ', pkce: false } }));
    expect(policy.fail).toEqual([
      expect.stringMatching(/^manifest\.json \/baseUrl: http:\/\/api\.acme\.example\.com must use https/),
      expect.stringMatching(/^manifest\.json \/auth\/tokenUrl: .* carries user info/),
    ]);
    expect(policy.warn).toEqual([expect.stringMatching(/\/hosts\/0: localhost is a loopback host/), expect.stringMatching(/\/hosts\/1: 127\.0\.0\.1:8080 is a loopback host/)]);
    expect(hostPolicy(manifest({ baseUrl: 'http://[::1]:9000/v2', hosts: [] })).warn).toEqual([expect.stringMatching(/\/baseUrl: .* loopback host/)]);
    expect(hostPolicy(manifest())).toEqual({ fail: [], warn: [] });
  });

  it('fails the permissions check of a package that declares *.com', async () => {
    const checks = await check(pkg(base(manifest({ hosts: ['*.com'] }))));
    expect(checks.permissions!.status).toBe('fail');
    expect(checks.permissions!.details[0]).toMatch(/\/hosts\/0: \*\.com lets the wildcard choose the whole domain/);
  });
});

describe('hostile submissions through the route', () => {
  let t: TestApp;
  beforeAll(async () => {
    // No sandbox given: the plugin's own pool keeps dry-load images in connectors.sandbox_images, as in production.
    t = await createTestApp();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('answers 4xx (never 500) to each hostile package, stores nothing (not even a sandbox image), then still publishes', async () => {
    const { dir, publisher } = await runHappyPath(t, 'aftermath');
    const good = await readConnectorTarball(await packConnector(dir));
    const submit = (payload: Buffer) => t.as(publisher.key, { method: 'POST', url: '/marketplace/submissions', headers: { 'content-type': 'application/gzip' }, payload });
    const tar = (files: Map<string, Buffer>) => rawTarGz([...files].map(([name, body]) => ({ name: `package/${name}`, body })));
    // Rebuilds checksums.json over the changed files, as a publisher forging a package by hand would.
    const forge = (change: (files: Map<string, Buffer>) => void) => {
      const files = new Map(good);
      files.delete('checksums.json');
      change(files);
      return tar(pkg(Object.fromEntries(files)));
    };
    const count = async () =>
      (await t.store.db.query<{ n: number }>('SELECT (SELECT count(*) FROM connectors.submissions)::int + (SELECT count(*) FROM connectors.artifacts)::int + (SELECT count(*) FROM connectors.sandbox_images)::int AS n')).rows[0]!.n;
    // The happy path's dry load kept an image (written in the background), so the store is really in use here.
    await expect.poll(async () => (await t.store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM connectors.sandbox_images')).rows[0]!.n).toBeGreaterThan(0);
    const before = await count();

    const bomb = await submit(gzipSync(Buffer.alloc(300 * 1024 * 1024)));
    expect(bomb.statusCode).toBe(400);
    expect(bomb.json().detail).toMatch(/unpacks to more than/);
    const nullSums = await submit(tar(pkg(base(), 'null')));
    expect(nullSums.statusCode, nullSums.body).toBe(422);
    expect(nullSums.json().errors).toContainEqual(expect.objectContaining({ path: '/checks/reproducibility', message: expect.stringMatching(/checksums\.json \/files/) }));
    const wildcard = await submit(tar(pkg(base(manifest({ hosts: ['*.com'] })))));
    expect(wildcard.statusCode).toBe(422);
    expect(wildcard.json().errors).toContainEqual(expect.objectContaining({ path: '/checks/permissions', message: expect.stringMatching(/\*\.com lets the wildcard/) }));
    expect(wildcard.json().errors).toContainEqual({ path: '/checks/dry-load', in: 'body', message: 'not run: fix the failed permissions check(s) first' });

    // A bundle the lint refuses is never loaded, so no sandbox image of it is kept.
    const linted = await submit(forge((f) => f.set('connector.js', Buffer.concat([f.get('connector.js')!, Buffer.from('\nglobalThis.x = eval("1");\n')]))));
    expect(linted.statusCode).toBe(422);
    expect(linted.json().errors).toContainEqual({ path: '/checks/dry-load', in: 'body', message: 'not run: fix the failed security-lint check(s) first' });
    // With checksums forged to match, the dry load still catches a manifest.json that is not the bundle's.
    const lying = await submit(forge((f) => {
      const m = JSON.parse(f.get('manifest.json')!.toString()) as { version: string };
      m.version = '9.0.0';
      f.set('manifest.json', Buffer.from(JSON.stringify(m)));
    }));
    expect(lying.statusCode).toBe(422);
    expect(lying.json().errors).toContainEqual(expect.objectContaining({ path: '/checks/dry-load', message: expect.stringMatching(/differs from manifest\.json/) }));
    const extra = await submit(tar(new Map([...good, ['Connector.js', Buffer.from('export default {}')]])));
    expect(extra.statusCode).toBe(422);
    expect(extra.json().errors).toContainEqual(expect.objectContaining({ path: '/checks/reproducibility', message: expect.stringMatching(/package\/Connector\.js is not listed/) }));
    expect(await count(), JSON.stringify((await t.store.db.query("SELECT (SELECT count(*) FROM connectors.submissions)::int AS s, (SELECT count(*) FROM connectors.artifacts)::int AS a, (SELECT count(*) FROM connectors.sandbox_images)::int AS i")).rows)).toBe(before);

    // Another publisher naming the first listing's npm package in package.json would have their bundle published
    // to npm as that package's next version once approved.
    const taken = (await t.store.db.query<{ npm_package: string }>("SELECT npm_package FROM connectors.marketplace WHERE name = 'aftermath'")).rows[0]!.npm_package;
    const squatterDir = await scaffoldConnector('squatter');
    const pkgPath = path.join(squatterDir, 'package.json');
    writeFileSync(pkgPath, JSON.stringify({ ...(JSON.parse(readFileSync(pkgPath, 'utf8')) as object), name: taken.toUpperCase() }));
    const squatter = await t.createTenant('squatter');
    const squat = await t.as(squatter.key, { method: 'POST', url: '/marketplace/submissions', headers: { 'content-type': 'application/gzip' }, payload: await packConnector(squatterDir) });
    expect(squat.statusCode, squat.body).toBe(409);
    expect(squat.json()).toMatchObject({ type: expect.stringMatching(/npm-package-taken/), detail: expect.stringMatching(/package\.json \/name.*already used by the connector "aftermath"/) });
    expect(await count(), JSON.stringify((await t.store.db.query("SELECT (SELECT count(*) FROM connectors.submissions)::int AS s, (SELECT count(*) FROM connectors.artifacts)::int AS a, (SELECT count(*) FROM connectors.sandbox_images)::int AS i")).rows)).toBe(before);

    setVersion(dir, '0.2.0');
    const next = await submit(await packConnector(dir));
    expect(next.statusCode, next.body).toBe(201);
  }, 180_000);
});
