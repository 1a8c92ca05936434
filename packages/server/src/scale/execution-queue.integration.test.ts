import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/db.ts';
import { servicesRequired } from '../db/test-db.ts';
import type { PreparedExecution } from '../execution/executions.ts';
import { createExecutionQueue } from './execution-queue.ts';
import { keyspace } from './redis.ts';
import { startRedisProxy } from './test-support.ts';

const execution = { id: '00000000-0000-4000-8000-000000000001', tenantId: 't1', connector: 'c', action: 'a', params: {}, connectionId: 'x', version: '1.0.0', fields: {} } as PreparedExecution;

/** A store that records the parameters of what the queue writes to the execution row. */
function recordingDb(writes: unknown[][] = []): Db {
  return {
    withTenant: async (_tenant: string, fn: (tx: { query: (sql: string, params: unknown[]) => Promise<unknown> }) => Promise<unknown>) =>
      fn({ query: async (_sql, params) => writes.push(params) }),
  } as unknown as Db;
}

// No Redis needed: a port that accepts nothing stands for a Redis that is down or restarting.
describe('execution queue while Redis is unreachable', () => {
  let closedPort = 0;
  let server: Server;
  beforeAll(async () => {
    // Take a free port, then close it, so connecting there is refused.
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closedPort = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('answers a clear 503 instead of leaving the request hanging, and still closes', async () => {
    const writes: unknown[][] = [];
    const queue = createExecutionQueue({ redisUrl: `redis://127.0.0.1:${closedPort}`, keys: keyspace('bos-test-down'), db: recordingDb(writes), perTenant: 5, total: 10, waitMs: 60_000, closeTimeoutMs: 500 });
    try {
      await expect(queue.submit(execution)).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/Redis.*unreachable.*try again/i) });
      await expect(queue.run(execution)).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/Redis/) });
      // The execution row says why it never ran instead of staying queued.
      expect(writes).toHaveLength(2);
      expect(writes[0]![0]).toBe(execution.id);
      expect(JSON.parse(writes[0]![1] as string)).toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/Redis/) });
    } finally {
      // Its connections never became ready: closing must not wait for them (it used to, for ever).
      await queue.close();
    }
    // Closed means no client of the queue tries to reach Redis any more. Watching the port for a while can only miss
    // a late attempt, never invent one; its clients retried at least every 2 s before the close.
    let attempts = 0;
    const watcher = createServer((socket) => {
      attempts += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => watcher.listen(closedPort, '127.0.0.1', resolve));
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await new Promise<void>((resolve) => watcher.close(() => resolve()));
    expect(attempts, 'connection attempts after close()').toBe(0);
  }, 20_000);
});

const redisUrl = process.env.REDIS_URL;
if (!redisUrl && servicesRequired(process.env)) throw new Error('BOS_REQUIRE_SERVICES=1 but REDIS_URL is not set: the execution queue test needs Redis');
const withRedis = redisUrl ? describe : describe.skip;

withRedis(`execution queue when Redis goes away${redisUrl ? '' : ': skipped, REDIS_URL is not set'}`, () => {
  const prefix = `bos-test-${randomBytes(5).toString('hex')}`;
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(redisUrl!);
  });
  afterAll(async () => {
    const stale = await redis.keys(`${prefix}*`);
    if (stale.length) await redis.del(...stale);
    await redis.quit();
  });

  it('closes within its close timeout once Redis has gone away, with its connections in use', async () => {
    const proxy = await startRedisProxy(new URL(redisUrl!));
    const queue = createExecutionQueue({ redisUrl: proxy.url, keys: keyspace(prefix), db: recordingDb(), perTenant: 5, total: 10, waitMs: 60_000, closeTimeoutMs: 500 });
    try {
      // A synchronous call opens the queue's connection and the result listener's, then finds no live worker.
      await expect(queue.run(execution)).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/No execution worker/) });
      expect(proxy.open()).toBeGreaterThan(0);
      await proxy.kill();
      // Once a request is refused for the outage, the queue's clients are known to be retrying the connection.
      await expect(queue.submit(execution)).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/Redis.*unreachable/i) });
    } finally {
      // Before, this waited for Redis to come back: a shutdown (SIGTERM of the API) during an outage never ended.
      await queue.close();
    }
    // Idempotent: a second close answers the same way.
    await queue.close();
  }, 30_000);
});
