// Starts the real connectors service in-process on a loopback port, on a throw-away embedded store (PGlite),
// with the built page registered on it: what the e2e suite drives with a browser.
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createVault } from '@businessos/connector-runtime';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../server/src/app.ts';
import { bootstrapPlatform } from '../../../server/src/bootstrap.ts';
import { loadConfig } from '../../../server/src/config.ts';
import { createTestPglite } from '../../../server/src/db/test-db.ts';
import { BUNDLED_CONNECTORS, seedBundledConnectors } from '../../../server/src/marketplace/seed.ts';
import { createServiceRuntime } from '../../../server/src/execution/service-runtime.ts';
import { createPgVaultStore } from '../../../server/src/vault/pg-vault-store.ts';
import { registerWebApp } from '../../serve.ts';

/** A running service with the page. */
export interface ServiceWithPage {
  app: FastifyInstance;
  /** `http://127.0.0.1:<port>` */
  url: string;
  adminKey: string;
  /** Creates a tenant through the API; returns its first key. */
  createTenant(name: string): Promise<string>;
  /** Writes the runtime's buffered usage records now (the meter otherwise flushes on a timer). */
  flushUsage(): Promise<void>;
  close(): Promise<void>;
}

/** A free loopback port, picked by the kernel and released for the caller to listen on. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Options of {@link startServiceWithPage}. */
export interface ServiceWithPageOptions {
  /** The built page (`vite build` output). */
  distDir: string;
  /** Seed the bundled connectors (default true). */
  seed?: boolean;
  /** Further environment of the service (`loadConfig`), e.g. `BOS_OAUTH_APPS`. */
  env?: Record<string, string>;
  /**
   * Test only, like `BOS_EGRESS_ALLOW_LOOPBACK=1`: lets connectors call loopback mock APIs over http. Off by default,
   * so bundled connectors keep production egress (their public hosts only).
   */
  allowLoopbackEgress?: boolean;
}

/**
 * Builds, seeds (bundled connectors) and listens on 127.0.0.1 with a free port, which is also its `BOS_PUBLIC_URL`
 * (the OAuth redirect URI the browser comes back to).
 */
export async function startServiceWithPage(options: ServiceWithPageOptions): Promise<ServiceWithPage> {
  const store = await createTestPglite();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({ BOS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'bos-web-e2e-')), BOS_MASTER_KEY: 'ab'.repeat(32), PORT: String(port), BOS_PUBLIC_URL: url, ...options.env });
  const boot = await bootstrapPlatform(store.db);
  if (!boot.secret) throw new Error('expected an empty store');
  const adminKey = boot.secret;
  if (options.seed !== false) await seedBundledConnectors(store.db, BUNDLED_CONNECTORS);
  const vault = config.masterKey ? createVault({ store: createPgVaultStore(store.db), masterKey: config.masterKey }) : undefined;
  // The real runtime (sandbox pool, vault, metering) so actions run and land in usage; egress is production-like unless
  // the caller opts into loopback for its mock APIs.
  const runtime = vault ? createServiceRuntime({ db: store.db, vault, config, allowLoopback: options.allowLoopbackEgress === true }) : undefined;
  const app = await buildApp({ config, db: store.db, ...(vault ? { vault } : {}), ...(runtime ? { runtime } : {}) });
  await registerWebApp(app, { distDir: options.distDir });
  await app.listen({ host: '127.0.0.1', port: config.port });
  return {
    app,
    url,
    adminKey,
    async createTenant(name) {
      const res = await app.inject({ method: 'POST', url: '/tenants', headers: { authorization: `Bearer ${adminKey}` }, payload: { name } });
      if (res.statusCode !== 201) throw new Error(`POST /tenants answered ${res.statusCode}: ${res.body}`);
      return (res.json() as { apiKey: { secret: string } }).apiKey.secret;
    },
    async flushUsage() {
      await runtime?.runtime.flushUsage();
    },
    async close() {
      await app.close();
      await runtime?.close();
      await store.dispose();
    },
  };
}
