import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createVault } from '@businessos/connector-runtime';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from './app.ts';
import { bootstrapPlatform } from './bootstrap.ts';
import { loadConfig, type ServerConfig } from './config.ts';
import type { TestDb } from './db/test-db.ts';
import { createTestPglite } from './db/test-db.ts';
import { seedBundledConnectors, type BundledConnector } from './marketplace/seed.ts';
import type { PublishingDeps } from './publishing/index.ts';
import { createPgVaultStore } from './vault/pg-vault-store.ts';
import type { TriggerService } from './triggers/trigger-service.ts';

/** A service on a throw-away store, for `app.inject()` tests. */
export interface TestApp {
  app: FastifyInstance;
  store: TestDb;
  config: ServerConfig;
  /** The bootstrap platform admin key (all roles). */
  adminKey: string;
  /** Creates a tenant through the API and returns its id and first key (tenant_admin + publisher). */
  createTenant(name?: string): Promise<{ tenantId: string; key: string; keyId: string }>;
  /** Creates another key of `ownerKey`'s tenant with `roles`. */
  createKey(ownerKey: string, roles: string[]): Promise<string>;
  /** `app.inject` with an API key. */
  as(key: string | undefined, options: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** Builds the app on `store` (default: in-memory PGlite), bootstrapped like a first start. */
export async function createTestApp(
  options: {
    store?: TestDb;
    env?: Record<string, string>;
    seed?: readonly BundledConnector[];
    publishing?: Omit<PublishingDeps, 'db'>;
    /** The service's own provider calls may reach loopback mock providers (default true, as in test mode); false for production egress. */
    allowLoopbackEgress?: boolean;
    /** The trigger service the routes use (default none: trigger routes answer 503). */
    triggers?: TriggerService;
  } = {},
): Promise<TestApp> {
  const store = options.store ?? (await createTestPglite());
  const config = loadConfig({ BOS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'bos-server-')), ...options.env });
  const boot = await bootstrapPlatform(store.db);
  if (!boot.secret) throw new Error('createTestApp needs an empty store');
  const adminKey = boot.secret;
  if (options.seed) {
    const failed = (await seedBundledConnectors(store.db, options.seed)).filter((o) => o.status === 'failed');
    if (failed.length > 0) throw new Error(`seeding failed: ${failed.map((f) => `${f.packageName}: ${f.error}`).join('; ')}`);
  }
  const vault = config.masterKey ? createVault({ store: createPgVaultStore(store.db), masterKey: config.masterKey }) : undefined;
  const app = await buildApp({ config, db: store.db, allowLoopbackEgress: options.allowLoopbackEgress ?? true, ...(vault ? { vault } : {}), ...(options.publishing ? { publishing: options.publishing } : {}), ...(options.triggers ? { triggers: options.triggers } : {}) });
  await app.ready();
  const as = (key: string | undefined, inject: InjectOptions) =>
    app.inject({ ...inject, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...inject.headers } });
  let counter = 0;
  return {
    app,
    store,
    config,
    adminKey,
    as,
    async createTenant(name = `tenant-${++counter}`) {
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
