// Starts the real connectors service in-process on a loopback port, on a throw-away embedded store (PGlite),
// with the built page registered on it: what the e2e suite drives with a browser.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
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
  close(): Promise<void>;
}

/** Builds, seeds (bundled connectors) and listens on 127.0.0.1 with an ephemeral port. */
export async function startServiceWithPage(options: { distDir: string; seed?: boolean; env?: Record<string, string> }): Promise<ServiceWithPage> {
  const store = await createTestPglite();
  const config = loadConfig({ BOS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'bos-web-e2e-')), BOS_MASTER_KEY: 'ab'.repeat(32), ...options.env });
  const boot = await bootstrapPlatform(store.db);
  if (!boot.secret) throw new Error('expected an empty store');
  const adminKey = boot.secret;
  if (options.seed !== false) await seedBundledConnectors(store.db, BUNDLED_CONNECTORS);
  const vault = config.masterKey ? createVault({ store: createPgVaultStore(store.db), masterKey: config.masterKey }) : undefined;
  // The real runtime (sandbox pool, vault, metering) so actions run and land in usage; egress stays production-like.
  const runtime = vault ? createServiceRuntime({ db: store.db, vault, config }) : undefined;
  const app = await buildApp({ config, db: store.db, ...(vault ? { vault } : {}), ...(runtime ? { runtime } : {}) });
  await registerWebApp(app, { distDir: options.distDir });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    url,
    adminKey,
    async createTenant(name) {
      const res = await app.inject({ method: 'POST', url: '/tenants', headers: { authorization: `Bearer ${adminKey}` }, payload: { name } });
      if (res.statusCode !== 201) throw new Error(`POST /tenants answered ${res.statusCode}: ${res.body}`);
      return (res.json() as { apiKey: { secret: string } }).apiKey.secret;
    },
    async close() {
      await app.close();
      await runtime?.close();
      await store.dispose();
    },
  };
}
