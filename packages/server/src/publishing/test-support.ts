// Test helpers for the publishing API: the service with the publishing routes registered, and real connector
// tarballs packed by the CLI from a scaffold.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { main } from '../../../cli/src/main.ts';
import { createBufferOutput } from '../../../cli/src/output.ts';
import { buildApp } from '../app.ts';
import { bootstrapPlatform } from '../bootstrap.ts';
import { loadConfig } from '../config.ts';
import { createTestPglite, type TestDb } from '../db/test-db.ts';
import { registerPublishingRoutes, type PublishingDeps } from './index.ts';

/** A service with the publishing routes, on a throw-away store. */
export interface PublishingTestApp {
  app: FastifyInstance;
  store: TestDb;
  /** Platform admin key (all roles, including reviewer). */
  adminKey: string;
  createTenant(name?: string): Promise<{ tenantId: string; key: string; keyId: string }>;
  /** Creates another key of `ownerKey`'s tenant with `roles`. */
  createKey(ownerKey: string, roles: string[]): Promise<string>;
  as(key: string | undefined, options: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** Builds the app like a first start, registers {@link registerPublishingRoutes} on it, and readies it. */
export async function createPublishingTestApp(options: { store?: TestDb; deps?: Omit<PublishingDeps, 'db'> } = {}): Promise<PublishingTestApp> {
  const store = options.store ?? (await createTestPglite());
  const config = loadConfig({ BOS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'bos-publishing-')) });
  const boot = await bootstrapPlatform(store.db);
  if (!boot.secret) throw new Error('createPublishingTestApp needs an empty store');
  const adminKey = boot.secret;
  // The deps go to buildApp's own registration (npm settings included); the second call below is then a no-op.
  const app = await buildApp({ config, db: store.db, ...(options.deps ? { publishing: options.deps } : {}) });
  await registerPublishingRoutes(app, { db: store.db, ...options.deps });
  await app.ready();
  const as = (key: string | undefined, inject: InjectOptions) =>
    app.inject({ ...inject, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...inject.headers } });
  let counter = 0;
  return {
    app,
    store,
    adminKey,
    as,
    async createTenant(name = `publisher-${++counter}`) {
      const res = await as(adminKey, { method: 'POST', url: '/tenants', payload: { name } });
      if (res.statusCode !== 201) throw new Error(`createTenant failed: ${res.statusCode} ${res.body}`);
      const body = res.json() as { tenant: { id: string }; apiKey: { id: string; secret: string } };
      return { tenantId: body.tenant.id, key: body.apiKey.secret, keyId: body.apiKey.id };
    },
    async createKey(ownerKey, roles) {
      const res = await as(ownerKey, { method: 'POST', url: '/api-keys', payload: { name: `key-${++counter}`, roles } });
      if (res.statusCode !== 201) throw new Error(`createKey failed: ${res.statusCode} ${res.body}`);
      return (res.json() as { secret: string }).secret;
    },
    async close() {
      await app.close();
      if (!options.store) await store.dispose();
    },
  };
}

async function cli(cwd: string, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = createBufferOutput();
  const code = await main(argv, { output, cwd, env: {}, interactive: false, waitForInterrupt: () => Promise.resolve() });
  return { code, stdout: output.stdout.join(''), stderr: output.stderr.join('') };
}

/** Scaffolds a connector with `bos-connector init` (template `rest`) under a new temp folder; returns its folder. */
export async function scaffoldConnector(name: string): Promise<string> {
  const root = mkdtempSync(path.join(tmpdir(), 'bos-publish-fixture-'));
  const init = await cli(root, 'init', name, '--template=rest');
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  return path.join(root, name);
}

/** Sets the connector's version in src/index.ts and package.json. */
export function setVersion(dir: string, version: string): void {
  const index = path.join(dir, 'src', 'index.ts');
  writeFileSync(index, readFileSync(index, 'utf8').replace(/version: '[^']+'/, `version: '${version}'`));
  const pkgPath = path.join(dir, 'package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version?: string };
  pkg.version = version;
  writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);
}

/** Packs `dir` with `bos-connector pack` and returns the tarball's bytes. */
export async function packConnector(dir: string): Promise<Buffer> {
  const r = await cli(dir, 'pack', '--json');
  if (r.code !== 0) throw new Error(`pack failed: ${r.stderr}`);
  return readFileSync((JSON.parse(r.stdout) as { tarball: string }).tarball);
}
