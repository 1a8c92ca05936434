import { randomBytes } from 'node:crypto';
import type { Runtime, TriggerInput } from '@businessos/connector-runtime';
import { pollSchedulerId } from '@businessos/connector-triggers';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { createTestPostgres, servicesRequired, type TestDb } from '../db/test-db.ts';
import type { ServiceRuntime } from '../execution/service-runtime.ts';
import { createTriggerService } from '../triggers/trigger-service.ts';
import { seedSubscription, until } from './test-fixtures.ts';
import { createPollingService, POLL_QUEUE_NAME, type PollingService } from './polling-service.ts';

// The polling service's BullMQ schedules over real PostgreSQL and Redis, against a connector whose versions differ
// in their polling trigger: only the poll step and the manifests are stand-ins.

const databaseUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if ((!databaseUrl || !redisUrl) && servicesRequired(process.env)) throw new Error('BOS_REQUIRE_SERVICES=1 but DATABASE_URL or REDIS_URL is not set: the polling schedule test needs both');

/** The trigger `newThing` as each version declares it: 1.0.0 every 200 ms, 2.0.0 every 500 ms, 3.0.0 none, 5.0.0 every 10 min, 6.0.0 every 300 ms. */
const INTERVAL_SECONDS: Record<string, number | undefined> = { '1.0.0': 0.2, '2.0.0': 0.5, '5.0.0': 600, '6.0.0': 0.3 };

function fakeRuntime(calls: { n: number }): ServiceRuntime {
  const runtime: Pick<Runtime, 'load' | 'executeTrigger'> = {
    async load(connector, version) {
      const seconds = INTERVAL_SECONDS[version];
      const triggers = seconds === undefined ? [] : [{ name: 'newThing', type: 'polling' as const, polling: { intervalSeconds: seconds, dedupe: { by: 'id' as const, path: '/id' } } }];
      return { key: `${connector}@${version}`, code: '', sha256: '0'.repeat(64), manifest: { name: connector, version, triggers } as never };
    },
    async executeTrigger<T>(_input: TriggerInput) {
      calls.n += 1;
      return { data: { items: [{ id: 'a' }], state: null } as T, meta: { executionId: 'x', durationMs: 0, attempts: 1, httpCalls: 1, bytesIn: 0, bytesOut: 0 } };
    },
  };
  return { runtime: runtime as Runtime, asTenant: (_t, fn) => fn(), background: () => undefined, close: async () => undefined };
}

const withServices = databaseUrl && redisUrl ? describe : describe.skip;

withServices('polling service schedules in Redis (BullMQ, PostgreSQL)', () => {
  const prefix = `bos-test-poll-svc-${randomBytes(4).toString('hex')}`;
  let store: TestDb;
  let redis: Redis;
  let queue: Queue;
  beforeAll(async () => {
    store = await createTestPostgres(databaseUrl!);
    redis = new Redis(redisUrl!, { maxRetriesPerRequest: null });
    queue = new Queue(POLL_QUEUE_NAME, { connection: redis, prefix });
  }, 120_000);
  afterAll(async () => {
    await queue?.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis?.disconnect();
    await store?.dispose().catch(() => undefined);
  });

  it('follows the interval of the installed version, one schedule across restarts, and drops it when the version has no such trigger', async () => {
    const { tenantId, subscriptionId, installationId } = await seedSubscription(store.db);
    const calls = { n: 0 };
    const services: PollingService[] = [];
    const start = async () => {
      const service = createPollingService({ db: store.db, runtime: fakeRuntime(calls), redis, queuePrefix: prefix });
      services.push(service);
      await service.start();
      return service;
    };
    const every = async () => (await queue.getJobScheduler(pollSchedulerId(subscriptionId)))?.every;
    try {
      // Restarted twice, into two processes: still one schedule, not one per start.
      await (await start()).close();
      await start();
      await start();
      expect(await queue.getJobSchedulersCount()).toBe(1);
      expect(Number(await every())).toBe(200);
      await until('a poll', () => calls.n >= 1);

      // The installation moves to 2.0.0 (every 500 ms) while the service runs: the schedule follows.
      await store.db.withTenant(tenantId, (tx) => tx.query(`UPDATE connectors.installations SET version = '2.0.0' WHERE id = $1`, [installationId]));
      await until('the schedule to follow 2.0.0', async () => Number(await every()) === 500);
      expect(await queue.getJobSchedulersCount()).toBe(1);

      // 3.0.0 has no `newThing`: its schedule is dropped rather than failing every interval.
      await store.db.withTenant(tenantId, (tx) => tx.query(`UPDATE connectors.installations SET version = '3.0.0' WHERE id = $1`, [installationId]));
      await until('the schedule to be dropped', async () => (await queue.getJobSchedulersCount()) === 0);
    } finally {
      for (const s of services) await s.close();
    }
  }, 60_000);

  it('follows a re-pin at once (the install route asks the trigger service), not after a poll of the old interval', async () => {
    const { tenantId, subscriptionId, installationId } = await seedSubscription(store.db);
    const other = await seedSubscription(store.db);
    const repin = (version: string) => store.db.withTenant(tenantId, (tx) => tx.query(`UPDATE connectors.installations SET version = $2 WHERE id = $1`, [installationId, version]));
    await repin('5.0.0');
    const polling = createPollingService({ db: store.db, runtime: fakeRuntime({ n: 0 }), redis, queuePrefix: prefix });
    const config = { ...loadConfig({ BOS_PUBLIC_URL: 'https://bos.example.com' }), masterKey: randomBytes(32) };
    const triggers = createTriggerService({ db: store.db, runtime: fakeRuntime({ n: 0 }), vault: undefined as never, config, background: false });
    triggers.setPollingHooks(polling);
    const every = async () => Number((await queue.getJobScheduler(pollSchedulerId(subscriptionId)))?.every);
    try {
      await polling.start();
      expect(await every()).toBe(600_000);
      // Re-pinned to 6.0.0 (every 300 ms): the old schedule would not poll again for 10 minutes.
      await repin('6.0.0');
      expect(await triggers.reschedulePolling(tenantId, installationId)).toBe(1);
      expect(await every()).toBe(300);
      // Another tenant naming this installation reschedules nothing (row-level security hides it).
      expect(await triggers.reschedulePolling(other.tenantId, installationId)).toBe(0);
    } finally {
      await triggers.close();
      await polling.close();
    }
  }, 60_000);
});
