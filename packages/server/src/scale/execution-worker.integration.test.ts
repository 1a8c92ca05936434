import { randomBytes, randomUUID } from 'node:crypto';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPostgres, servicesRequired, type TestDb } from '../db/test-db.ts';
import { findExecution, type PreparedExecution } from '../execution/executions.ts';
import type { ServiceRuntime } from '../execution/service-runtime.ts';
import { createExecutionQueue, type ExecutionQueue } from './execution-queue.ts';
import { startExecutionWorker, type ExecutionWorker } from './execution-worker.ts';
import { createRedis, keyspace } from './redis.ts';

const databaseUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if ((!databaseUrl || !redisUrl) && servicesRequired(process.env)) throw new Error('BOS_REQUIRE_SERVICES=1 but DATABASE_URL or REDIS_URL is not set: the execution worker test needs PostgreSQL and Redis');
const suite = databaseUrl && redisUrl ? describe : describe.skip;

/** Polls `read` until `done` holds (bounded), and returns the last value read. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 400 && !done(value); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = await read();
  }
  return value;
}

// A worker that loses its job's lock while the connector call is still running (a stall: the event loop was blocked,
// or the lock expired) sees BullMQ redeliver the job. The redelivery records the execution as failed rather than run
// it twice; when the first attempt finally finishes, its result must not turn that record into a success.
suite(`execution worker on Redis and PostgreSQL${databaseUrl && redisUrl ? '' : ': skipped, DATABASE_URL or REDIS_URL is not set'}`, () => {
  const prefix = `bos-test-${randomBytes(5).toString('hex')}`;
  const keys = keyspace(prefix);
  let store: TestDb;
  let redis: Redis;
  let queue: ExecutionQueue;
  let worker: ExecutionWorker;
  let tenantId = '';
  const logged: { message: string; data?: Record<string, unknown> }[] = [];
  let calls = 0;
  let started!: () => void;
  let finish!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const runtime = {
    runtime: {
      execute: async () => {
        calls += 1;
        started();
        await finished;
        return { data: { id: 'i_late' }, meta: { durationMs: 5, attempts: 1, httpCalls: 1 } };
      },
    },
    asTenant: (_tenant: string, fn: () => Promise<unknown>) => fn(),
    background: () => undefined,
    close: async () => undefined,
  } as unknown as ServiceRuntime;

  beforeAll(async () => {
    store = await createTestPostgres(databaseUrl!);
    redis = new Redis(redisUrl!);
    tenantId = (await store.db.query<{ id: string }>("INSERT INTO connectors.tenants (name) VALUES ('stalls') RETURNING id")).rows[0]!.id;
    worker = startExecutionWorker({ redisUrl: redisUrl!, keys, db: store.db, runtime, perTenant: 5, total: 10, log: (message, data) => logged.push({ message, data }) });
    await worker.ready;
    queue = createExecutionQueue({ redisUrl: redisUrl!, keys, db: store.db, perTenant: 5, total: 10, waitMs: 60_000 });
  }, 60_000);

  afterAll(async () => {
    finish();
    await worker?.close();
    await queue?.close();
    const stale = await redis?.keys(`${prefix}*`);
    if (stale?.length) await redis.del(...stale);
    await redis?.quit();
    await store?.dispose();
  }, 60_000);

  it('records the late result of an attempt whose job was redelivered over the redelivery\'s "may have partly run"', async () => {
    const prepared: PreparedExecution = { id: randomUUID(), tenantId, connector: 'items', action: 'createItem', params: {}, connectionId: randomUUID(), version: '1.0.0', fields: {} };
    await store.db.withTenant(tenantId, (tx) =>
      tx.query(`INSERT INTO connectors.executions (id, tenant_id, connector_name, connector_version, action, status) VALUES ($1, $2, 'items', '1.0.0', 'createItem', 'queued')`, [prepared.id, tenantId]),
    );
    await queue.submit(prepared);
    await running;

    // The stall, made on purpose: the job's lock is gone, and BullMQ's stalled-job check (normally run every 30 s by
    // some worker) runs now. It moves the job back to wait, and the worker takes it again as a second attempt.
    const queueKey = `${keys.queuePrefix}:${keys.queueName}`;
    await redis.sadd(`${queueKey}:stalled`, prepared.id);
    await redis.del(`${queueKey}:${prepared.id}:lock`, `${queueKey}:stalled-check`);
    const checkerRedis = createRedis(redisUrl!);
    const checker = new Worker(keys.queueName, undefined, { connection: checkerRedis, prefix: keys.queuePrefix, autorun: false });
    let redeliveredRow;
    try {
      // Checks once at once (then every stalledInterval, until closed).
      await checker.startStalledCheckTimer();
      redeliveredRow = await until(() => findExecution(store.db, tenantId, prepared.id), (view) => view?.status !== 'running');
    } finally {
      await checker.close();
      await checkerRedis.quit();
    }
    expect(redeliveredRow).toMatchObject({ status: 'failed', error: { code: 'INTERNAL', message: expect.stringMatching(/may have partly run/), details: { interrupted: true } } });

    // Now the first attempt's connector call returns. It is over once BullMQ refuses to complete the job for it (the
    // job's lock belongs to the redelivery): by then its real outcome has replaced "may have partly run".
    finish();
    const refused = await until(async () => logged.some((l) => /Missing lock/.test(String(l.data?.error))), (seen) => seen);
    expect(refused, JSON.stringify(logged)).toBe(true);
    expect(await findExecution(store.db, tenantId, prepared.id)).toMatchObject({ status: 'succeeded', error: null });
    expect(logged.some((l) => l.message.startsWith('execution result discarded'))).toBe(false);
    // The action ran once: the redelivery did not start it again.
    expect(calls).toBe(1);
  }, 60_000);
});
