// The npm path against a real registry: Verdaccio, started here on a random loopback port. A connector goes through
// the service's publishing flow (submit → approve → published to npm), then a fresh runtime with an empty cache
// installs it by package name from the registry and runs an action against a loopback mock API. Tampered packages
// (altered bundle, registry tarball swapped, version taken by another bundle) and a corrupted cache are refused.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createMemoryUsageSink, createMemoryVaultStore, createRuntime, createSandboxPool, createVault, generateMasterKey, silentLogger, type SandboxPool } from '@businessos/connector-runtime';
import { createFileBundleCache, createNpmArtifactStore, npmRegistryOptions, readConnectorPackage, type NpmArtifactStore } from '@businessos/connector-runtime/npm';
import type { ConnectorManifest } from '@businessos/connector-sdk';
import { publish } from 'libnpmpublish';
import npmFetch from 'npm-registry-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../cli/src/main.ts';
import { createBufferOutput } from '../../../cli/src/output.ts';
import { startMockServer } from '../../../runtime/src/testing/mock-server.ts';
import type { SubmissionView } from '../publishing/store.ts';
import { createTestApp, type TestApp } from '../test-app.ts';
import { packConnector, scaffoldConnector, setVersion } from '../publishing/test-support.ts';
import { testEngines } from '../db/engines.ts';
import type { TestDb } from '../db/test-db.ts';
import { createMarketplaceNpmLookup } from './marketplace-npm-lookup.ts';
import { buildNpmPackage } from './npm-package.ts';
import { startVerdaccio, verdaccioUnavailable, type TestRegistry } from './testing/verdaccio.ts';

const unavailable = verdaccioUnavailable();
// CI must run this suite, not skip it quietly.
if (unavailable && process.env.BOS_REQUIRE_SERVICES === '1') throw new Error(`BOS_REQUIRE_SERVICES=1 but ${unavailable}`);
const NAME = 'npmitems';
const SCOPE = '@bostest';
const PACKAGE = `${SCOPE}/${NAME}`;

// On PGlite always, and on PostgreSQL when DATABASE_URL is set (the marketplace lookups run as bos_app under RLS).
for (const engine of testEngines(process.env)) {
  const skip = unavailable ?? engine.skipReason;
  (skip ? describe.skip : describe)(`npm registry path (Verdaccio) on ${engine.name}${skip ? ` (skipped: ${skip})` : ''}`, () => {
    let testDb: TestDb;
    let registry: TestRegistry;
    let t: TestApp;
    let pool: SandboxPool;
    let mock: Awaited<ReturnType<typeof startMockServer>>;
    let dir: string;
    let publisher: { tenantId: string; key: string };
    let approved: SubmissionView;
    let manifest: ConnectorManifest;
    let bundle: Buffer;
    const warnings: string[] = [];
    const temps: string[] = [];
    const tempDir = (prefix: string) => {
      const made = mkdtempSync(path.join(tmpdir(), prefix));
      temps.push(made);
      return made;
    };

    const npmStore = (cacheDir: string): NpmArtifactStore =>
      createNpmArtifactStore({
        registry: registry.url,
        token: registry.token,
        cache: createFileBundleCache(cacheDir),
        ...createMarketplaceNpmLookup(t.store.db, registry.url),
        logger: { ...silentLogger, warn: (message) => void warnings.push(message) },
      });

    /** Publishes a package straight to the registry, bypassing the marketplace (what an attacker with a token could do). */
    const publishDirect = async (version: string, code: Buffer, recordedSha256: string) => {
      const built = await buildNpmPackage({ packageName: PACKAGE, manifest: { ...manifest, version }, bundle: code, sha256: recordedSha256 });
      await publish(built.packageJson, built.tarball, { ...npmRegistryOptions({ registry: registry.url, token: registry.token }), access: 'public' });
    };

    const submit = async (tgz: Buffer) => {
      const res = await t.as(publisher.key, { method: 'POST', url: '/marketplace/submissions', headers: { 'content-type': 'application/gzip' }, payload: tgz });
      expect(res.statusCode, res.body).toBe(201);
      return res.json() as SubmissionView;
    };

    beforeAll(async () => {
      registry = await startVerdaccio();
      pool = createSandboxPool({ workers: 1 });
      testDb = await engine.create!();
      t = await createTestApp({ store: testDb, publishing: { sandbox: pool, npm: { registry: registry.url, token: registry.token, scope: SCOPE } } });
      mock = await startMockServer((req, res) => {
        res.setHeader('content-type', 'application/json');
        if (req.headers.authorization !== 'Token s3cret-key') return void res.writeHead(401).end('{"error":"bad key"}');
        res.end(JSON.stringify({ id: req.url.pathname.split('/').pop(), name: 'Widget from the mock' }));
      });
      publisher = await t.createTenant('npm-publisher');
      dir = await scaffoldConnector(NAME);
    }, 120_000);

    afterAll(async () => {
      await t?.close();
      await testDb?.dispose();
      await pool?.close();
      await mock?.close();
      await registry?.stop();
      for (const made of temps) rmSync(made, { recursive: true, force: true });
    });

    it('approving a version publishes it to the registry as the listing\'s npm package, with the bundle sha256 recorded', async () => {
      const submission = await submit(await packConnector(dir));
      expect(submission.npm).toBeNull();
      const res = await t.as(t.adminKey, { method: 'POST', url: `/marketplace/submissions/${submission.id}/approve`, payload: { notes: 'ok' } });
      expect(res.statusCode, res.body).toBe(200);
      approved = res.json() as SubmissionView;
      expect(approved.status).toBe('approved');
      expect(approved.npm).toMatchObject({ registry: registry.url, package: PACKAGE, version: '0.1.0', status: 'published', error: null, attempts: 1 });
      expect(approved.npm?.integrity).toMatch(/^sha512-/);

      // What landed on the registry: the package document names the bundle sha256, and the tarball holds the bundle
      // and its manifest and passes the registry's integrity.
      const doc = await npmFetch.json(`/${PACKAGE.replace('/', '%2f')}`, npmRegistryOptions({ registry: registry.url, token: registry.token }));
      const entry = (doc.versions as Record<string, { dist: { integrity: string; tarball: string }; bosConnector: { bundleSha256: string; name: string } }>)['0.1.0']!;
      expect(entry.bosConnector).toMatchObject({ name: NAME, bundleSha256: approved.artifactSha256 });
      expect(entry.dist.integrity).toBe(approved.npm?.integrity);
      const tarball = await (await npmFetch(entry.dist.tarball, npmRegistryOptions({ registry: registry.url, token: registry.token }))).buffer();
      const contents = await readConnectorPackage(tarball, 'published package');
      expect(contents).toMatchObject({ connector: NAME, sha256: approved.artifactSha256, declaredSha256: approved.artifactSha256 });
      bundle = contents.bundle;
      manifest = (await t.store.db.query<{ manifest: ConnectorManifest }>("SELECT manifest FROM connectors.connector_versions WHERE version = '0.1.0' AND artifact_sha256 = $1", [approved.artifactSha256])).rows[0]!.manifest;

      const audit = await t.store.db.query<{ action: string; details: { package: string; integrity: string } }>("SELECT action, details FROM connectors.audit_log WHERE action LIKE 'npm.%'");
      expect(audit.rows).toEqual([{ action: 'npm.publish', details: expect.objectContaining({ package: PACKAGE, version: '0.1.0', integrity: approved.npm?.integrity, alreadyPublished: false }) }]);

      // The state is readable, and publishing again is refused as a no-op.
      const state = await t.as(publisher.key, { method: 'GET', url: `/marketplace/connectors/${approved.connector.id}/versions/0.1.0/npm` });
      expect(state.json()).toMatchObject({ status: 'published', package: PACKAGE });
      const again = await t.as(t.adminKey, { method: 'POST', url: `/marketplace/connectors/${approved.connector.id}/versions/0.1.0/npm` });
      expect(again.statusCode).toBe(409);
      expect(again.json()).toMatchObject({ code: 'CONFLICT', type: expect.stringContaining('npm-already-published') });
    }, 120_000);

    it('a fresh runtime with an empty cache installs the connector from the registry and runs an action; a second one reads the cache only', async () => {
      const cacheDir = tempDir('bos-npm-cache-');
      const artifacts = npmStore(cacheDir);
      const vault = createVault({ store: createMemoryVaultStore(), masterKey: generateMasterKey() });
      await vault.putCredentials('tenant-npm', 'conn-1', { apiKey: 's3cret-key' });
      // The connector calls its declared host on the mock's port; the resolver points that host at loopback.
      const host = `api.${NAME}.example.com`;
      const runtime = createRuntime({
        sandbox: pool,
        vault,
        artifacts,
        usage: createMemoryUsageSink(),
        config: {
          allowLoopback: true,
          baseUrlOverrides: { [NAME]: `http://${host}:${mock.port}/v2` },
          egress: { resolver: async (name: string) => (name === host ? [{ address: '127.0.0.1', family: 4 as const }] : []) },
        },
      });
      try {
        const result = await runtime.execute({ tenant: 'tenant-npm', connector: NAME, version: '0.1.0', action: 'getItem', params: { id: '42' }, connection: { id: 'conn-1' } });
        expect(result.data).toEqual({ id: '42', name: 'Widget from the mock' });
        expect(mock.requests.at(-1)?.url.pathname).toBe('/v2/items/42');
      } finally {
        await runtime.close();
      }
      expect(artifacts.stats()).toEqual({ downloads: 1, cacheHits: 0 });
      // Content-addressed: the bundle sits at its sha256.
      expect(readFileSync(createFileBundleCache(cacheDir).pathOf(approved.artifactSha256!))).toEqual(bundle);

      const second = npmStore(cacheDir);
      const installed = await second.install(PACKAGE, '0.1.0');
      expect(installed).toMatchObject({ source: 'cache', sha256: approved.artifactSha256, package: PACKAGE, integrity: approved.npm?.integrity });
      expect(second.stats()).toEqual({ downloads: 0, cacheHits: 1 });
    }, 120_000);

    it('refuses a package republished with an altered bundle but the old sha256 recorded', async () => {
      const altered = Buffer.from(bundle.toString('utf8').replace('Items of the', 'Evil items of the'));
      expect(altered.equals(bundle)).toBe(false);
      await publishDirect('0.1.1', altered, approved.artifactSha256!);
      const store = npmStore(tempDir('bos-npm-cache-'));
      await expect(store.install(PACKAGE, '0.1.1')).rejects.toMatchObject({ code: 'INTERNAL', details: { reason: 'bundle-sha256' }, message: expect.stringMatching(/hashes to sha256 [0-9a-f]{64}, but the package records .*refusing to install it/) });
    }, 60_000);

    it('refuses a tarball swapped on the registry after publishing (sha512 integrity)', async () => {
      await publishDirect('0.1.2', bundle, approved.artifactSha256!);
      const find = (folder: string): string[] => readdirSync(folder).flatMap((f) => (statSync(path.join(folder, f)).isDirectory() ? find(path.join(folder, f)) : [path.join(folder, f)]));
      const files = find(registry.storage);
      const good = files.find((f) => f.endsWith(`${NAME}-0.1.2.tgz`))!;
      const other = files.find((f) => f.endsWith(`${NAME}-0.1.1.tgz`))!;
      writeFileSync(good, readFileSync(other));
      const store = npmStore(tempDir('bos-npm-cache-'));
      await expect(store.install(PACKAGE, '0.1.2')).rejects.toMatchObject({ code: 'INTERNAL', details: { reason: 'npm-integrity' }, message: expect.stringContaining("does not match the registry's sha512 integrity") });
    }, 60_000);

    it('a version taken on the registry by another bundle: approval stands, npm failure recorded and audited, retry refused, runtime refuses the registry copy', async () => {
      // Someone publishes 0.2.0 to the registry first, self-consistent but not what the marketplace reviews.
      const foreign = Buffer.from(bundle.toString('utf8').replace('Items of the', 'Foreign items of the'));
      const { createHash } = await import('node:crypto');
      await publishDirect('0.2.0', foreign, createHash('sha256').update(foreign).digest('hex'));

      setVersion(dir, '0.2.0');
      const submission = await submit(await packConnector(dir));
      const res = await t.as(t.adminKey, { method: 'POST', url: `/marketplace/submissions/${submission.id}/approve`, payload: {} });
      expect(res.statusCode, res.body).toBe(200);
      const view = res.json() as SubmissionView;
      expect(view.status).toBe('approved');
      expect(view.npm).toMatchObject({ status: 'failed', package: PACKAGE, version: '0.2.0', integrity: null, attempts: 1 });
      expect(view.npm?.error).toMatch(/already exists on .* with a different bundle .*publish a higher version/);
      const published = await t.store.db.query<{ status: string }>("SELECT status FROM connectors.connector_versions WHERE version = '0.2.0'");
      expect(published.rows).toEqual([{ status: 'published' }]);
      const audit = await t.store.db.query<{ details: { error: string } }>("SELECT details FROM connectors.audit_log WHERE action = 'npm.publish_failed'");
      expect(audit.rows[0]?.details.error).toMatch(/different bundle/);

      const retry = await t.as(publisher.key, { method: 'POST', url: `/marketplace/connectors/${view.connector.id}/versions/0.2.0/npm` });
      expect(retry.statusCode).toBe(502);
      expect(retry.json()).toMatchObject({ code: 'UPSTREAM_ERROR', detail: expect.stringMatching(/still approved, but publishing it to npm failed/) });
      expect((await t.as(publisher.key, { method: 'GET', url: `/marketplace/connectors/${view.connector.id}/versions/0.2.0/npm` })).json()).toMatchObject({ status: 'failed', attempts: 2 });

      const store = npmStore(tempDir('bos-npm-cache-'));
      await expect(store.install(PACKAGE, '0.2.0')).rejects.toMatchObject({ code: 'INTERNAL', details: { reason: 'marketplace-sha256' }, message: expect.stringContaining(`the marketplace recorded ${view.artifactSha256}`) });
    }, 120_000);

    it('never runs a corrupted cache entry: it is discarded and the verified package downloaded again', async () => {
      const cacheDir = tempDir('bos-npm-cache-');
      await npmStore(cacheDir).install(PACKAGE, '0.1.0');
      const file = createFileBundleCache(cacheDir).pathOf(approved.artifactSha256!);
      writeFileSync(file, 'export default { evil: true };');
      warnings.length = 0;
      const store = npmStore(cacheDir);
      const installed = await store.install(PACKAGE, '0.1.0');
      expect(installed.source).toBe('registry');
      expect(Buffer.from(installed.code)).toEqual(bundle);
      expect(store.stats()).toEqual({ downloads: 1, cacheHits: 0 });
      expect(warnings).toEqual([expect.stringContaining('corrupted')]);
      expect(readFileSync(file)).toEqual(bundle);
    }, 60_000);

    it('bos-connector run --package installs from the registry (verified) and runs an action; a tampered version exits 1 unrun', async () => {
      const cache = tempDir('bos-npm-cli-');
      const run = async (spec: string) => {
        const output = createBufferOutput();
        const argv = ['run', 'getItem', '--params', '{"id":"7"}', '--package', spec, '--registry', registry.url, '--cache', cache, '--fixtures', path.join(dir, 'fixtures')];
        const code = await main(argv, { output, cwd: cache, env: { BOS_NPM_TOKEN: registry.token }, interactive: false, waitForInterrupt: () => Promise.resolve() });
        return { code, stdout: output.stdout.join(''), stderr: output.stderr.join('') };
      };
      const ok = await run(`${PACKAGE}@0.1.0`);
      expect(ok.code, ok.stderr).toBe(0);
      expect(JSON.parse(ok.stdout)).toMatchObject({ id: '7', name: 'Widget' });
      expect(ok.stderr).toContain(`installed ${PACKAGE}@0.1.0 (bundle sha256 ${approved.artifactSha256}, verified)`);
      expect((await run(`${PACKAGE}@0.1.0`)).stderr).toContain(`using cached ${PACKAGE}@0.1.0`);

      const bad = await run(`${PACKAGE}@0.1.1`);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/refusing to install it/);
      expect(bad.stdout).toBe('');
    }, 60_000);

    it('answers NOT_FOUND for an unknown package or version, naming the registry', async () => {
      const store = npmStore(tempDir('bos-npm-cache-'));
      await expect(store.install(PACKAGE, '9.9.9')).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(`has no version 9.9.9 on ${registry.url}`) });
      await expect(store.install(`${SCOPE}/nothing-here`, '1.0.0')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }, 60_000);
  });
}
