// What an execution records when its connector answers what PostgreSQL cannot keep (a NUL character, a lone UTF-16
// surrogate: JSON allows both, and providers and connector code produce them), on PGlite and on PostgreSQL, through
// the service API with a real sandbox: the execution is always recorded and answered, the answer and the record say
// the same, and the usage record is written.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSandboxPool, createVault, sha256Hex, type SandboxPool } from '@businessos/connector-runtime';
import { defineAction, defineConnector, NoAuth } from '@businessos/connector-sdk';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../app.ts';
import { bootstrapPlatform } from '../bootstrap.ts';
import { loadConfig } from '../config.ts';
import { testEngines } from '../db/engines.ts';
import type { TestDb } from '../db/test-db.ts';
import { seedBundledConnectors } from '../marketplace/seed.ts';
import { createPgVaultStore } from '../vault/pg-vault-store.ts';
import { createDbUsageSink, createServiceRuntime, type ServiceRuntime } from './service-runtime.ts';

const ACTIONS = ['returnNul', 'returnHalf', 'returnNulKey', 'throwNul', 'throwHalf', 'ok'];

const ODD = defineConnector({
  name: 'odd-values',
  version: '1.0.0',
  baseUrl: 'https://api.example.com',
  auth: new NoAuth(),
  actions: ACTIONS.map((name) =>
    defineAction({
      name,
      description: `Answers ${name}`,
      async execute() {
        return null;
      },
    }),
  ),
});

// What the sandbox runs: the actions above as a hand-written bundle (no build step). The values are what a provider's
// JSON can carry ("\u0000") and what cutting a message with .slice() in the middle of an emoji gives.
const ODD_BUNDLE = String.raw`
function fail(message) {
  const error = new Error(message);
  error.code = 'UPSTREAM_ERROR';
  return error;
}
export default {
  async executeAction(name) {
    switch (name) {
      case 'returnNul': return { customer: { name: 'Bob\u0000' } };
      case 'returnHalf': return { items: ['ok', 'cut ' + '🙂'.slice(0, 1)] };
      case 'returnNulKey': return { 'a\u0000': 1 };
      case 'throwNul': throw fail('upstream said: a\u0000b');
      case 'throwHalf': throw fail('upstream said: ' + 'x🙂'.slice(0, 2));
      default: return { ok: true, emoji: '🙂' };
    }
  },
};`;

interface Problem {
  code: string;
  detail: string;
  errors?: { path: string }[];
}

for (const engine of testEngines(process.env)) {
  const suite = engine.create ? describe : describe.skip;
  suite(`executions with values the store cannot keep, on ${engine.name}${engine.skipReason ? ` (skipped: ${engine.skipReason})` : ''}`, () => {
    let store: TestDb;
    let sandbox: SandboxPool;
    let runtime: ServiceRuntime;
    let app: FastifyInstance;
    let tenant: { id: string; key: string };
    let connectionId: string;
    const as = (o: InjectOptions) => app.inject({ ...o, headers: { authorization: `Bearer ${tenant.key}`, ...o.headers } });
    const execute = (action: string, query = '') => as({ method: 'POST', url: `/connectors/odd-values/execute${query}`, payload: { action, params: {}, connection: connectionId } });
    const view = async (id: string) => (await as({ method: 'GET', url: `/executions/${id}` })).json() as { status: string; result: unknown; error: Record<string, unknown> | null };

    beforeAll(async () => {
      store = await engine.create!();
      const masterKey = randomBytes(32);
      const config = { ...loadConfig({ BOS_DATA_DIR: mkdtempSync(path.join(tmpdir(), 'bos-odd-')) }), masterKey };
      const admin = (await bootstrapPlatform(store.db)).secret!;
      const seeded = await seedBundledConnectors(store.db, [
        { packageName: 'odd-values', load: async () => ({ default: ODD }), build: async () => ({ code: ODD_BUNDLE, sha256: sha256Hex(ODD_BUNDLE) }) },
      ]);
      expect(seeded).toMatchObject([{ status: 'added' }]);
      const vault = createVault({ store: createPgVaultStore(store.db), masterKey });
      sandbox = createSandboxPool({ workers: 1 });
      runtime = createServiceRuntime({ db: store.db, vault, config, sandbox });
      app = await buildApp({ config, db: store.db, vault, runtime });
      await app.ready();
      const created = await app.inject({ method: 'POST', url: '/tenants', payload: { name: 'odd' }, headers: { authorization: `Bearer ${admin}` } });
      const body = created.json() as { tenant: { id: string }; apiKey: { secret: string } };
      tenant = { id: body.tenant.id, key: body.apiKey.secret };
      const search = (await as({ method: 'GET', url: '/marketplace/search?q=odd' })).json() as { results: { id: string; name: string }[] };
      const install = await as({ method: 'POST', url: `/marketplace/install/${search.results.find((r) => r.name === 'odd-values')!.id}`, payload: {} });
      expect(install.statusCode, install.body).toBe(201);
      const conn = await as({ method: 'POST', url: '/connections', payload: { installationId: (install.json() as { installation: { id: string } }).installation.id, name: 'main' } });
      expect(conn.statusCode, conn.body).toBe(201);
      connectionId = (conn.json() as { id: string }).id;
    }, 120_000);
    afterAll(async () => {
      await app?.close();
      await runtime?.close();
      await sandbox?.close();
      await store?.dispose();
    });

    /** The execution row once its (background) attempt has settled it: looked up until it is no longer queued or running. */
    const settled = async (id: string) => {
      for (let i = 0; i < 500; i++) {
        const row = await view(id);
        if (row.status !== 'queued' && row.status !== 'running') return row;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      return view(id);
    };

    it('fails an action whose result the store cannot keep with INVALID_OUTPUT naming where, and records what it answered', async () => {
      const cases = [
        { action: 'returnNul', path: '/customer/name', problem: /NUL character \(\\u0000\)/ },
        { action: 'returnHalf', path: '/items/1', problem: /lone UTF-16 surrogate/ },
        // The path quotes the key, with the NUL shown as U+FFFD: the error is recorded too.
        { action: 'returnNulKey', path: '/a\uFFFD', problem: /NUL character/ },
      ];
      for (const { action, path: at, problem } of cases) {
        const res = await execute(action);
        expect(res.statusCode, res.body).toBe(502);
        const body = res.json() as Problem;
        expect(body).toMatchObject({ code: 'INVALID_OUTPUT', errors: [{ path: at }] });
        expect(body.detail).toContain(`odd-values.${action} failed: The connector returned a result that cannot be recorded: at ${at}, `);
        expect(body.detail).toMatch(problem);
        const row = await view(res.headers['x-execution-id'] as string);
        expect(row).toMatchObject({ status: 'failed', result: null, error: { code: 'INVALID_OUTPUT', path: at }, meta: { attempts: 1 } });
        expect(body.detail).toBe(`odd-values.${action} failed: ${row.error!.message as string}`);
      }
      // A well-formed result, emoji included, succeeds as before.
      const ok = await execute('ok');
      expect(ok.statusCode, ok.body).toBe(200);
      expect(await view((ok.json() as { meta: { executionId: string } }).meta.executionId)).toMatchObject({ status: 'succeeded', result: { ok: true, emoji: '🙂' } });
    });

    it('records and answers an error message holding a NUL or half an emoji with U+FFFD in their place', async () => {
      for (const [action, message] of [
        ['throwNul', 'upstream said: a\uFFFDb'],
        ['throwHalf', 'upstream said: x\uFFFD'],
      ] as const) {
        const res = await execute(action);
        expect(res.statusCode, res.body).toBe(502);
        expect(res.json()).toMatchObject({ code: 'UPSTREAM_ERROR', detail: `odd-values.${action} failed: ${message}` });
        expect(await view(res.headers['x-execution-id'] as string)).toMatchObject({ status: 'failed', error: { code: 'UPSTREAM_ERROR', message } });
      }
      // The runtime's own message quotes what the caller sent: an action name with a lone surrogate (the row's action
      // column already holds it as U+FFFD).
      const unknown = await execute('no\ud800such');
      expect(unknown.statusCode, unknown.body).toBe(404);
      expect((unknown.json() as Problem).detail).toContain('has no action "no\uFFFDsuch"');
      expect(await view(unknown.headers['x-execution-id'] as string)).toMatchObject({ status: 'failed', error: { code: 'NOT_FOUND', message: expect.stringContaining('"no\uFFFDsuch"') } });
    });

    it('settles asynchronous executions with such values too, instead of leaving them running', async () => {
      const failedResult = await execute('returnHalf', '?async=true');
      const failedError = await execute('throwNul', '?async=true');
      expect([failedResult.statusCode, failedError.statusCode]).toEqual([202, 202]);
      expect(await settled((failedResult.json() as { executionId: string }).executionId)).toMatchObject({ status: 'failed', error: { code: 'INVALID_OUTPUT', path: '/items/1' } });
      expect(await settled((failedError.json() as { executionId: string }).executionId)).toMatchObject({ status: 'failed', error: { code: 'UPSTREAM_ERROR', message: 'upstream said: a\uFFFDb' } });
    });

    it('meters every such execution, as the error it failed with', async () => {
      const actions = ['returnNul', 'returnHalf', 'returnNulKey', 'throwNul', 'throwHalf'];
      for (const action of actions) expect((await execute(action)).statusCode).toBe(502);
      await runtime.runtime.flushUsage();
      const usage = (await as({ method: 'GET', url: '/usage?groupBy=action' })).json() as { items: { key: string; executions: number; errors: number }[] };
      for (const action of actions) {
        const item = usage.items.find((i) => i.key === `odd-values.${action}`);
        // Every execution of these failed (here and in the tests before), so every one is an error in the usage too.
        expect(item, action).toMatchObject({ errors: item!.executions });
      }
      const { rows } = await store.db.query<{ error_code: string }>("SELECT DISTINCT error_code FROM connectors.usage_records WHERE action = 'returnHalf'");
      expect(rows).toEqual([{ error_code: 'INVALID_OUTPUT' }]);
    });

    it('writes a usage batch in which a record has a NUL or a lone surrogate in a name', async () => {
      // Not reachable through the API (names with a NUL are refused there), but a sink that failed on one record would
      // fail its whole batch, again at every retry of the meter, and so hold back every usage record after it.
      const record = { executionId: 'u', tenant: tenant.id, connector: 'metered', version: '1.0.0', status: 'ok' as const, durationMs: 1, attempts: 1, httpCalls: 0, bytesIn: 0, bytesOut: 0, startedAt: Date.now() };
      await createDbUsageSink(store.db).write([
        { ...record, action: 'fine' },
        { ...record, action: 'bad\u0000name', status: 'error', code: 'UPSTREAM_ERROR' },
        { ...record, action: 'half\ud83d' },
      ]);
      const { rows } = await store.db.query<{ action: string }>("SELECT action FROM connectors.usage_records WHERE connector_name = 'metered' ORDER BY action");
      expect(rows.map((r) => r.action)).toEqual(['bad\uFFFDname', 'fine', 'half\uFFFD']);
    });
  });
}
