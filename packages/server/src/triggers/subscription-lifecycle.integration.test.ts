// The webhook subscription lifecycle against a real store (PGlite, and PostgreSQL with DATABASE_URL), with the
// connector's subscribe/unsubscribe steps replaced by a fake provider that records which hooks it holds. The races
// and failures here are the ones that leave hooks registered at a provider that nothing on our side knows about.
import { randomBytes } from 'node:crypto';
import type { Runtime, TriggerInput } from '@businessos/connector-runtime';
import { ConnectorError, type WebhookSubscription } from '@businessos/connector-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import type { Db } from '../db/db.ts';
import { testEngines } from '../db/engines.ts';
import type { TestDb } from '../db/test-db.ts';
import type { ServiceRuntime } from '../execution/service-runtime.ts';
import { createTriggerService, UNSUBSCRIBE_ATTEMPTS, type TriggerService } from './trigger-service.ts';

const WEBHOOK_TRIGGER = { name: 'newOrder', type: 'webhook', webhook: { topic: 'orders/create', verify: { scheme: 'hmac-sha256', secret: 'subscription' }, subscribe: true, unsubscribe: true, transform: true } };

/** A provider's webhook API: the hooks it holds, and switches to make it slow or failing. */
interface Provider {
  hooks: Set<string>;
  subscribeCalls: number;
  /** While set, subscribe waits for it after being called (a slow provider the test releases). */
  gate: Promise<void> | undefined;
  /** Called when subscribe starts (before the gate). */
  onSubscribe: (() => void) | undefined;
  failUnsubscribe: boolean;
  /** What a failing unsubscribe says (default: provider answered 503). */
  unsubscribeMessage: string | undefined;
  failSubscribe: boolean;
}

function fakeRuntime(provider: Provider): ServiceRuntime {
  let n = 0;
  const runtime: Pick<Runtime, 'executeTrigger'> = {
    async executeTrigger<T>(input: TriggerInput) {
      const meta = { executionId: 'x', durationMs: 0, attempts: 1, httpCalls: 1, bytesIn: 0, bytesOut: 0 };
      if (input.operation === 'subscribe') {
        provider.subscribeCalls += 1;
        provider.onSubscribe?.();
        if (provider.gate) await provider.gate;
        if (provider.failSubscribe) throw new ConnectorError('UPSTREAM_ERROR', 'provider answered 503');
        const hook: WebhookSubscription = { externalId: `hook-${++n}`, secret: `whsec_${randomBytes(8).toString('hex')}` };
        provider.hooks.add(hook.externalId);
        return { data: hook as T, meta };
      }
      if (input.operation === 'unsubscribe') {
        if (provider.failUnsubscribe) throw new ConnectorError('UPSTREAM_ERROR', provider.unsubscribeMessage ?? 'provider answered 503');
        provider.hooks.delete((input.input as WebhookSubscription).externalId);
        return { data: undefined as T, meta };
      }
      throw new Error(`unexpected operation ${input.operation}`);
    },
  };
  return { runtime: runtime as Runtime, asTenant: (_t, fn) => fn(), background: () => undefined, close: async () => undefined };
}

/** Fault and pause injection on the store: runs `before(sql)` ahead of each tenant statement. */
interface Interceptor {
  before: ((sql: string) => Promise<void>) | undefined;
}

/** `db`, with `interceptor.before` run ahead of every statement of a tenant transaction (to fail or hold it). */
function intercepted(db: Db, interceptor: Interceptor): Db {
  return {
    engine: db.engine,
    query: (sql, params) => db.query(sql, params),
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction(fn),
    close: () => db.close(),
    withTenant: (tenantId, fn) =>
      db.withTenant(tenantId, (tx) =>
        fn({
          exec: (sql) => tx.exec(sql),
          query: async (sql, params) => {
            await interceptor.before?.(sql);
            return tx.query(sql, params);
          },
        }),
      ),
  };
}

async function seedConnection(db: Db): Promise<{ tenantId: string; connectionId: string }> {
  return db.transaction(async (tx) => {
    const tenant = (await tx.query<{ id: string }>('INSERT INTO connectors.tenants (name) VALUES ($1) RETURNING id', [`life-${randomBytes(4).toString('hex')}`])).rows[0]!;
    const listing = (await tx.query<{ id: string }>(
      `INSERT INTO connectors.marketplace (tenant_id, name, npm_package, display_name, version, approved) VALUES ($1, 'acme', 'acme', 'Acme', '1.0.0', true) RETURNING id`,
      [tenant.id],
    )).rows[0]!;
    await tx.query(
      `INSERT INTO connectors.connector_versions (connector_id, tenant_id, version, manifest, status) VALUES ($1, $2, '1.0.0', $3::jsonb, 'published')`,
      [listing.id, tenant.id, JSON.stringify({ name: 'acme', version: '1.0.0', triggers: [WEBHOOK_TRIGGER] })],
    );
    const installation = (await tx.query<{ id: string }>(`INSERT INTO connectors.installations (tenant_id, connector_id, version) VALUES ($1, $2, '1.0.0') RETURNING id`, [tenant.id, listing.id])).rows[0]!;
    const connection = (await tx.query<{ id: string }>(`INSERT INTO connectors.connections (tenant_id, installation_id, name) VALUES ($1, $2, 'main') RETURNING id`, [tenant.id, installation.id])).rows[0]!;
    return { tenantId: tenant.id, connectionId: connection.id };
  });
}

for (const engine of testEngines(process.env)) {
  const suite = engine.create ? describe : describe.skip;
  suite(`webhook subscription lifecycle on ${engine.name}${engine.skipReason ? ` (skipped: ${engine.skipReason})` : ''}`, () => {
    let store: TestDb;
    let provider: Provider;
    let triggers: TriggerService;
    const interceptor: Interceptor = { before: undefined };

    beforeAll(async () => {
      store = await engine.create!();
      provider = { hooks: new Set(), subscribeCalls: 0, gate: undefined, onSubscribe: undefined, failUnsubscribe: false, unsubscribeMessage: undefined, failSubscribe: false };
      const config = { ...loadConfig({ BOS_PUBLIC_URL: 'https://bos.example.com' }), masterKey: randomBytes(32) };
      triggers = createTriggerService({ db: intercepted(store.db, interceptor), runtime: fakeRuntime(provider), vault: undefined as never, config, background: false });
    }, 120_000);
    afterAll(async () => {
      await triggers?.close();
      await store?.dispose();
    });

    const statuses = async (tenantId: string) => (await triggers.list(tenantId)).map((s) => s.status);
    /** A new connection with the webhook trigger enabled on it. */
    const enabledOnNewConnection = async () => {
      const seeded = await seedConnection(store.db);
      provider.hooks.clear();
      return { ...seeded, sub: await triggers.enable(seeded.tenantId, 'a', seeded.connectionId, 'newOrder', {}) };
    };
    /** Runs `fn` while the provider refuses every unsubscribe. */
    const whileUnsubscribeFails = async (fn: () => Promise<void>) => {
      provider.failUnsubscribe = true;
      try {
        await fn();
      } finally {
        provider.failUnsubscribe = false;
      }
    };

    it('enabling the same trigger twice at once registers one hook and answers the second with CONFLICT', async () => {
      const { tenantId, connectionId } = await seedConnection(store.db);
      provider.hooks.clear();
      const results = await Promise.allSettled([triggers.enable(tenantId, 'a', connectionId, 'newOrder', {}), triggers.enable(tenantId, 'a', connectionId, 'newOrder', {})]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'CONFLICT' } });
      expect(provider.hooks.size).toBe(1);
      expect(await statuses(tenantId)).toEqual(['active']);
    });

    it('disabling while the subscribe step is still running removes the hook registered afterwards and stays stopped', async () => {
      const { tenantId, connectionId } = await seedConnection(store.db);
      provider.hooks.clear();
      let release!: () => void;
      provider.gate = new Promise((resolve) => (release = resolve));
      const started = new Promise<void>((resolve) => (provider.onSubscribe = resolve));
      try {
        const enabling = triggers.enable(tenantId, 'a', connectionId, 'newOrder', {});
        enabling.catch(() => undefined);
        await started;
        const [pending] = await triggers.list(tenantId);
        expect(pending).toMatchObject({ status: 'pending' });
        const disabled = await triggers.disable(tenantId, 'a', pending!.id, connectionId);
        expect(disabled.subscription.status).toBe('stopped');
        release();
        await expect(enabling).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('disabled while') });
      } finally {
        provider.gate = undefined;
        provider.onSubscribe = undefined;
      }
      const [after] = await triggers.list(tenantId);
      expect(after).toMatchObject({ status: 'stopped', hasSecret: false });
      expect([...provider.hooks]).toEqual([]);
      // And it can be enabled again afterwards.
      expect(await triggers.enable(tenantId, 'a', connectionId, 'newOrder', {})).toMatchObject({ status: 'active' });
    });

    // PostgreSQL only: PGlite runs one transaction at a time, so holding the disable's would hold the subscribe too.
    it.skipIf(engine.name === 'pglite')('a disable that read the subscription before the subscribe step recorded its hook still removes that hook', async () => {
      const { tenantId, connectionId } = await seedConnection(store.db);
      provider.hooks.clear();
      let releaseSubscribe!: () => void;
      provider.gate = new Promise((resolve) => (releaseSubscribe = resolve));
      const started = new Promise<void>((resolve) => (provider.onSubscribe = resolve));
      let releaseStop!: () => void;
      const stopHeld = new Promise<void>((held) => {
        const stop = new Promise<void>((resolve) => (releaseStop = resolve));
        interceptor.before = async (sql) => {
          if (!sql.includes("SET status = 'stopped'")) return;
          held();
          await stop;
        };
      });
      try {
        const enabling = triggers.enable(tenantId, 'a', connectionId, 'newOrder', {});
        await started;
        const [pending] = await triggers.list(tenantId);
        // The disable reads the pending row (no hook id yet), then is held just before it stops it.
        const disabling = triggers.disable(tenantId, 'a', pending!.id, connectionId);
        await stopHeld;
        releaseSubscribe();
        expect(await enabling).toMatchObject({ status: 'active', externalId: expect.any(String) });
        releaseStop();
        expect(await disabling).toMatchObject({ unsubscribed: true, subscription: { status: 'stopped', hasSecret: false } });
      } finally {
        interceptor.before = undefined;
        provider.gate = undefined;
        provider.onSubscribe = undefined;
      }
      expect([...provider.hooks]).toEqual([]);
    });

    it('unregisters the hook again when the provider registered it but its signing secret could not be stored', async () => {
      const { tenantId, connectionId } = await seedConnection(store.db);
      provider.hooks.clear();
      interceptor.before = async (sql) => {
        if (sql.includes('SET secret = $2')) throw new Error('vault store unavailable');
      };
      try {
        await expect(triggers.enable(tenantId, 'a', connectionId, 'newOrder', {})).rejects.toMatchObject({ message: expect.stringContaining('vault store unavailable') });
      } finally {
        interceptor.before = undefined;
      }
      expect([...provider.hooks]).toEqual([]);
      expect(await triggers.list(tenantId)).toEqual([]);
    });

    it('a renewal whose new subscribe fails after the old hook was removed marks the subscription failed, with what to do', async () => {
      const { tenantId, connectionId } = await seedConnection(store.db);
      provider.hooks.clear();
      const sub = await triggers.enable(tenantId, 'a', connectionId, 'newOrder', {});
      // The hook lives another hour and its renewal is due (as renewAtFor would have it a fifth of its life early).
      await store.db.query(`UPDATE connectors.trigger_subscriptions SET expires_at = now() + interval '1 hour', renew_at = now() - interval '1 minute' WHERE id = $1`, [sub.id]);
      provider.failSubscribe = true;
      try {
        expect(await triggers.renewDue()).toBe(0);
      } finally {
        provider.failSubscribe = false;
      }
      expect([...provider.hooks]).toEqual([]);
      // What GET /connections/{id}/triggers shows: no hook is left, and the tenant is told so and what to do.
      const [failed] = await triggers.list(tenantId, connectionId);
      expect(failed).toMatchObject({ id: sub.id, status: 'failed', externalId: null, renewAt: null });
      expect(failed!.statusDetail).toContain(`old hook ${sub.externalId} was removed`);
      expect(failed!.statusDetail).toContain('provider answered 503');
      expect(failed!.statusDetail).toContain('disable and then enable the trigger again');
      // Not claimed for renewal again; disabling and enabling again brings it back.
      expect(await triggers.renewDue()).toBe(0);
      expect(provider.subscribeCalls).toBeGreaterThan(0);
      expect(await triggers.disable(tenantId, 'a', sub.id, connectionId)).toMatchObject({ unsubscribed: true, subscription: { status: 'stopped' } });
      expect(await triggers.enable(tenantId, 'a', connectionId, 'newOrder', {})).toMatchObject({ status: 'active' });
      expect(provider.hooks.size).toBe(1);
    });

    it('keeps trying to remove a hook the provider did not confirm removing, backing off, until it is gone', async () => {
      const { tenantId, connectionId, sub } = await enabledOnNewConnection();
      const due = () => store.db.query('UPDATE connectors.trigger_subscriptions SET unsubscribe_at = now() WHERE id = $1', [sub.id]);
      const row = async () => (await store.db.query<{ unsubscribe_attempts: number; wait_s: number | null }>(
        'SELECT unsubscribe_attempts, extract(epoch FROM unsubscribe_at - now())::float8 AS wait_s FROM connectors.trigger_subscriptions WHERE id = $1', [sub.id])).rows[0]!;
      await whileUnsubscribeFails(async () => {
        const disabled = await triggers.disable(tenantId, 'a', sub.id, connectionId);
        expect(disabled).toMatchObject({ unsubscribed: false, detail: expect.stringMatching(/did not confirm removing hook hook-\d+: .*tries again at .*for about a day/), subscription: { status: 'stopped', unsubscribeRetryAt: expect.any(String) } });
        expect(await row()).toMatchObject({ unsubscribe_attempts: 1, wait_s: expect.closeTo(60, -1) });
        // Not due yet: nothing is tried.
        expect(await triggers.retryUnsubscribes()).toBe(0);
        expect(await row()).toMatchObject({ unsubscribe_attempts: 1 });
        // Due, still failing: the wait doubles.
        await due();
        expect(await triggers.retryUnsubscribes()).toBe(0);
        expect(await row()).toMatchObject({ unsubscribe_attempts: 2, wait_s: expect.closeTo(120, -1) });
        expect(provider.hooks.has(sub.externalId!)).toBe(true);
      });
      await due();
      expect(await triggers.retryUnsubscribes()).toBe(1);
      expect(provider.hooks.has(sub.externalId!)).toBe(false);
      const [view] = (await triggers.list(tenantId, connectionId)).filter((v) => v.id === sub.id);
      expect(view).toMatchObject({ status: 'stopped', unsubscribeRetryAt: null, externalId: null, statusDetail: expect.stringContaining(`Hook ${sub.externalId} was removed at the provider (attempt 3)`) });
      expect(await triggers.disable(tenantId, 'a', sub.id, connectionId)).toMatchObject({ unsubscribed: true });
      expect(await row()).toMatchObject({ unsubscribe_attempts: 3, wait_s: null });
      expect(await triggers.retryUnsubscribes()).toBe(0);
      const audit = await store.db.query<{ action: string; details: { unsubscribed: boolean; attempt?: number } }>(
        `SELECT action, details FROM connectors.audit_log WHERE target_id = $1 ORDER BY id`, [sub.id]);
      expect(audit.rows.map((r) => [r.action, r.details.unsubscribed, r.details.attempt])).toEqual([
        ['trigger.enable', undefined, undefined], ['trigger.disable', false, undefined], ['trigger.unsubscribe', false, 2], ['trigger.unsubscribe', true, 3],
      ]);
    });

    it('gives up removing a hook after its last attempt, says so, and tries no more', async () => {
      const { tenantId, connectionId, sub } = await enabledOnNewConnection();
      await whileUnsubscribeFails(async () => {
        await triggers.disable(tenantId, 'a', sub.id, connectionId);
        await store.db.query('UPDATE connectors.trigger_subscriptions SET unsubscribe_at = now(), unsubscribe_attempts = $2 WHERE id = $1', [sub.id, UNSUBSCRIBE_ATTEMPTS - 1]);
        expect(await triggers.retryUnsubscribes()).toBe(0);
        const [view] = (await triggers.list(tenantId, connectionId)).filter((v) => v.id === sub.id);
        expect(view).toMatchObject({ unsubscribeRetryAt: null, statusDetail: expect.stringContaining(`gave up after ${UNSUBSCRIBE_ATTEMPTS} attempts; remove it in the provider's settings`) });
        // A delete or uninstall hears of it again (named, not tried again), and disabling it again says it is not removed.
        const tries = async () => (await store.db.query('SELECT 1 FROM connectors.audit_log WHERE target_id = $1 AND action = $2', [sub.id, 'trigger.unsubscribe'])).rows.length;
        const before = await tries();
        expect(await triggers.unsubscribeLeftovers(tenantId, 'a', [connectionId])).toMatchObject([{ unsubscribed: false, subscription: { id: sub.id, unsubscribeRetryAt: null }, detail: expect.stringContaining('gave up') }]);
        expect(await tries()).toBe(before);
        expect(await triggers.disable(tenantId, 'a', sub.id, connectionId)).toMatchObject({ unsubscribed: false, detail: expect.stringContaining('gave up') });
      });
      await store.db.query('UPDATE connectors.trigger_subscriptions SET unsubscribe_at = now() - interval \'1 day\' WHERE id = $1 AND unsubscribe_at IS NOT NULL', [sub.id]);
      expect(await triggers.retryUnsubscribes()).toBe(0);
      expect(provider.hooks.has(sub.externalId!)).toBe(true);
    });

    // PostgreSQL only: PGlite runs one transaction at a time, so the held try would hold the other one too.
    it.skipIf(engine.name === 'pglite')('of two tries at once, a failure that finishes last does not undo the removal the other one recorded', async () => {
      const { tenantId, connectionId, sub } = await enabledOnNewConnection();
      await whileUnsubscribeFails(async () => {
        await triggers.disable(tenantId, 'a', sub.id, connectionId);
      });
      await store.db.query('UPDATE connectors.trigger_subscriptions SET unsubscribe_at = now() WHERE id = $1', [sub.id]);
      // The sweep's try fails at the provider, and its record of that waits until the other try has finished.
      let reached!: () => void;
      const atFailureRecord = new Promise<void>((resolve) => (reached = resolve));
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      interceptor.before = async (sql) => {
        if (sql.includes('unsubscribe_attempts = $3 - 1')) {
          interceptor.before = undefined;
          reached();
          await held;
        }
      };
      provider.failUnsubscribe = true;
      const sweep = triggers.retryUnsubscribes();
      await atFailureRecord;
      provider.failUnsubscribe = false;
      // Meanwhile a connection delete tries again, and the provider removes the hook.
      expect(await triggers.unsubscribeLeftovers(tenantId, 'a', [connectionId])).toEqual([]);
      release();
      expect(await sweep).toBe(0);
      expect(provider.hooks.has(sub.externalId!)).toBe(false);
      const [view] = (await triggers.list(tenantId, connectionId)).filter((v) => v.id === sub.id);
      expect(view).toMatchObject({ unsubscribeRetryAt: null, statusDetail: expect.stringContaining('was removed at the provider') });
    });

    it('answers the hooks of a connection still waiting for removal, after one more try, and none once they are gone', async () => {
      const { tenantId, connectionId, sub } = await enabledOnNewConnection();
      const schedule = async () => (await store.db.query<{ attempts: number; at: string }>('SELECT unsubscribe_attempts AS attempts, unsubscribe_at::text AS at FROM connectors.trigger_subscriptions WHERE id = $1', [sub.id])).rows[0]!;
      await whileUnsubscribeFails(async () => {
        await triggers.disable(tenantId, 'a', sub.id, connectionId);
        const before = await schedule();
        // Tries that deletes ask for neither count nor move the schedule: repeating a delete cannot use up the attempts.
        for (let i = 0; i < 3; i++) {
          expect(await triggers.unsubscribeLeftovers(tenantId, 'a', [connectionId])).toMatchObject([{ unsubscribed: false, subscription: { id: sub.id, externalId: sub.externalId }, detail: expect.stringContaining('tries again at') }]);
        }
        expect(await schedule()).toEqual(before);
      });
      // Another tenant asking about this connection sees nothing and changes nothing.
      const other = await seedConnection(store.db);
      expect(await triggers.unsubscribeLeftovers(other.tenantId, 'a', [connectionId])).toEqual([]);
      expect(provider.hooks.has(sub.externalId!)).toBe(true);
      expect(await triggers.unsubscribeLeftovers(tenantId, 'a', [connectionId])).toEqual([]);
      expect(provider.hooks.has(sub.externalId!)).toBe(false);
    });

    it('disabling again while the hook waits for its removal answers that it is not removed yet, and why', async () => {
      const { tenantId, connectionId, sub } = await enabledOnNewConnection();
      await whileUnsubscribeFails(async () => {
        const first = await triggers.disable(tenantId, 'a', sub.id, connectionId);
        expect(await triggers.disable(tenantId, 'a', sub.id, connectionId)).toEqual({ subscription: first.subscription, unsubscribed: false, detail: first.detail });
      });
      await store.db.query('UPDATE connectors.trigger_subscriptions SET unsubscribe_at = now() WHERE id = $1', [sub.id]);
      expect(await triggers.retryUnsubscribes()).toBe(1);
      expect(await triggers.disable(tenantId, 'a', sub.id, connectionId)).toMatchObject({ unsubscribed: true, subscription: { unsubscribeRetryAt: null } });
    });

    it('a provider error with a NUL character in it is still recorded: the removal is scheduled, retried and counted', async () => {
      // The SDK puts the provider's own error text in the message (errorFromResponse); PostgreSQL stores no NUL.
      const { tenantId, connectionId, sub } = await enabledOnNewConnection();
      provider.unsubscribeMessage = 'provider answered 503: bad\u0000gateway';
      try {
        await whileUnsubscribeFails(async () => {
          const disabled = await triggers.disable(tenantId, 'a', sub.id, connectionId);
          expect(disabled).toMatchObject({ unsubscribed: false, detail: expect.stringContaining('bad\uFFFDgateway'), subscription: { status: 'stopped', unsubscribeRetryAt: expect.any(String) } });
          await store.db.query('UPDATE connectors.trigger_subscriptions SET unsubscribe_at = now() WHERE id = $1', [sub.id]);
          expect(await triggers.retryUnsubscribes()).toBe(0);
          const { rows } = await store.db.query<{ unsubscribe_attempts: number }>('SELECT unsubscribe_attempts FROM connectors.trigger_subscriptions WHERE id = $1', [sub.id]);
          expect(rows[0]).toEqual({ unsubscribe_attempts: 2 });
        });
      } finally {
        provider.unsubscribeMessage = undefined;
      }
    });

    it('one due removal whose try fails on our side does not keep the sweep from the others', async () => {
      const first = await enabledOnNewConnection();
      const firstHook = first.sub.externalId!;
      const second = await enabledOnNewConnection();
      provider.hooks.add(firstHook);
      await whileUnsubscribeFails(async () => {
        await triggers.disable(first.tenantId, 'a', first.sub.id, first.connectionId);
        await triggers.disable(second.tenantId, 'a', second.sub.id, second.connectionId);
      });
      await store.db.query('UPDATE connectors.trigger_subscriptions SET unsubscribe_at = now() WHERE id = ANY($1::uuid[])', [[first.sub.id, second.sub.id]]);
      // The store fails the first row the sweep reads back (whichever it is); the other one is still tried.
      interceptor.before = async (sql) => {
        if (!sql.includes('WHERE s.id = $1')) return;
        interceptor.before = undefined;
        throw new Error('connection reset');
      };
      try {
        expect(await triggers.retryUnsubscribes()).toBe(1);
      } finally {
        interceptor.before = undefined;
      }
      expect([firstHook, second.sub.externalId!].filter((hook) => provider.hooks.has(hook))).toHaveLength(1);
    });

    it('a failure on our side while stopping or retrying still answers the hook as not removed (a delete must not take it for gone)', async () => {
      const { tenantId, connectionId, sub } = await enabledOnNewConnection();
      // Stopping: the disable's audit entry cannot be written.
      interceptor.before = async (sql) => {
        if (sql.includes('INSERT INTO connectors.audit_log')) throw new Error('audit store unavailable');
      };
      try {
        expect(await triggers.stopForConnections(tenantId, 'a', [connectionId])).toMatchObject([
          { unsubscribed: false, subscription: { id: sub.id }, detail: expect.stringContaining('failed on our side (audit store unavailable)') },
        ]);
      } finally {
        interceptor.before = undefined;
      }
      // Retrying a waiting hook: the statement recording the try fails.
      const other = await enabledOnNewConnection();
      await whileUnsubscribeFails(async () => {
        await triggers.disable(other.tenantId, 'a', other.sub.id, other.connectionId);
      });
      interceptor.before = async (sql) => {
        if (sql.includes('SET status_detail = $2, updated_at = now()')) throw new Error('store unavailable');
      };
      try {
        await whileUnsubscribeFails(async () => {
          expect(await triggers.unsubscribeLeftovers(other.tenantId, 'a', [other.connectionId])).toMatchObject([
            { unsubscribed: false, subscription: { id: other.sub.id }, detail: expect.stringContaining(`hook ${other.sub.externalId} may still be registered`) },
          ]);
        });
      } finally {
        interceptor.before = undefined;
      }
    });

    it('deleting a connection whose provider fails to unsubscribe still stops the subscription locally and reports it', async () => {
      const { tenantId, connectionId, sub } = await enabledOnNewConnection();
      await whileUnsubscribeFails(async () => {
        const outcomes = await triggers.stopForConnections(tenantId, 'a', [connectionId]);
        expect(outcomes).toMatchObject([{ unsubscribed: false, detail: expect.stringContaining(sub.externalId!), subscription: { status: 'stopped' } }]);
      });
    });
  });
}
