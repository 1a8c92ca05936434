// The service runs connectors whose manifest says `runtime: "process"` in the process tier (a jailed Node child), never
// in the QuickJS sandbox, which has no Node APIs; BOS_PROCESS_TIER=off refuses them. Where this machine cannot build
// the jail, the default refuses them too, saying why.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canIsolateNetwork, createSandboxPool, createVault, sha256Hex, type SandboxPool } from '@businessos/connector-runtime';
import { defineAction, defineConnector, NoAuth } from '@businessos/connector-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.ts';
import { createTestPglite, type TestDb } from '../db/test-db.ts';
import { seedBundledConnectors } from '../marketplace/seed.ts';
import { createPgVaultStore } from '../vault/pg-vault-store.ts';
import { createServiceRuntime } from './service-runtime.ts';

const NODER = defineConnector({
  name: 'noder',
  version: '1.0.0',
  baseUrl: 'https://api.example.com',
  auth: new NoAuth(),
  runtime: 'process',
  actions: [defineAction({ name: 'digest', description: 'sha256 with node:crypto', params: { text: { type: 'string' } }, async execute() { return {}; } })],
});

// What the child runs: an action that needs a Node built-in, which QuickJS could not even load.
const NODER_BUNDLE = `
import { createHash } from 'node:crypto';
export default {
  async executeAction(name, params) {
    return { digest: createHash('sha256').update(params.text).digest('hex'), node: typeof process.versions.node };
  },
};`;

describe('process-tier connectors through the service runtime', () => {
  let store: TestDb;
  let sandbox: SandboxPool;
  let tenantId: string;
  beforeAll(async () => {
    store = await createTestPglite();
    sandbox = createSandboxPool({ workers: 1 });
    const seeded = await seedBundledConnectors(store.db, [{ packageName: 'noder', load: async () => ({ default: NODER }), build: async () => ({ code: NODER_BUNDLE, sha256: sha256Hex(NODER_BUNDLE) }) }]);
    expect(seeded).toMatchObject([{ status: 'added' }]);
    tenantId = (await store.db.query<{ id: string }>("INSERT INTO connectors.tenants (name) VALUES ('noder') RETURNING id")).rows[0]!.id;
  }, 60_000);
  afterAll(async () => {
    await sandbox?.close();
    await store?.dispose();
  });

  async function digest(env: Record<string, string>) {
    const config = loadConfig({ BOS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'bos-process-tier-')), ...env });
    const vault = createVault({ store: createPgVaultStore(store.db), masterKey: randomBytes(32) });
    const rt = createServiceRuntime({ db: store.db, vault, config, sandbox });
    try {
      const run = { tenant: tenantId, connector: 'noder', version: '1.0.0', action: 'digest', params: { text: 'abc' } };
      return await rt.asTenant(tenantId, () => rt.runtime.execute<{ digest: string; node: string }>(run));
    } finally {
      await rt.close();
    }
  }

  it('runs them in the jailed process tier by default, or refuses them saying why where the jail cannot be built', { timeout: 30_000 }, async () => {
    if (canIsolateNetwork()) {
      const result = await digest({});
      expect(result.data).toEqual({ digest: createHash('sha256').update('abc').digest('hex'), node: 'string' });
    } else {
      await expect(digest({})).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('cannot jail') });
    }
  });

  it('refuses them with BOS_PROCESS_TIER=off, never trying the sandbox', async () => {
    await expect(digest({ BOS_PROCESS_TIER: 'off' })).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('process tier') });
    expect(sandbox.stats().executions).toBe(0);
  });

  it('names the allowed values of BOS_PROCESS_TIER when given another', () => {
    expect(() => loadConfig({ BOS_DATA_DIR: tmpdir(), BOS_PROCESS_TIER: 'on' })).toThrow(ConfigError);
    expect(() => loadConfig({ BOS_DATA_DIR: tmpdir(), BOS_PROCESS_TIER: 'on' })).toThrow(/BOS_PROCESS_TIER: "on" is not one of jailed \(default\), off, unjailed/);
  });
});
