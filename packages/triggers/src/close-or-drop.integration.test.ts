import { createServer, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeOrDrop, quitOrDrop } from './close-or-drop.ts';
import { redisUrlForTests } from './testing/redis-env.ts';

const url = redisUrlForTests('triggers: bounded close of Redis connections');

/** A Redis client pointed at a loopback port nothing listens on: Redis is down for it, and it keeps retrying. */
async function unreachableRedis(): Promise<Redis> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const redis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: null });
  redis.on('error', () => undefined);
  return redis;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('closeOrDrop while Redis is unreachable', () => {
  it('drops once the clean close has waited for Redis for the timeout, and absorbs its late failure', async () => {
    const redis = await unreachableRedis();
    let dropped = false;
    const closed = await closeOrDrop(
      // A clean close that would wait for Redis, then fails after the drop: no one is left to hear it.
      () => sleep(1000).then(() => Promise.reject(new Error('closed under it'))),
      () => {
        dropped = true;
        redis.disconnect();
      },
      { timeoutMs: 100, redis },
    );
    expect(closed).toBe(false);
    expect(dropped).toBe(true);
    // Long enough for the clean attempt to fail: an unhandled rejection would fail this run.
    await sleep(1200);
  });

  it('quitOrDrop ends a connection whose quit waits behind commands that cannot be sent', async () => {
    const redis = await unreachableRedis();
    // Queued until Redis answers, which it never does here; the quit would wait behind it for ever.
    redis.get('never-sent').catch(() => undefined);
    await quitOrDrop(redis, 100);
    // Dropped means it stops trying: its retries came at most a few hundred milliseconds apart before.
    let attempts = 0;
    redis.on('reconnecting', () => (attempts += 1));
    await sleep(1000);
    expect(attempts, 'reconnection attempts after quitOrDrop()').toBe(0);
  });
});

describe.skipIf(!url)('closeOrDrop while Redis is up (real Redis; skipped without REDIS_URL)', () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(url!, { maxRetriesPerRequest: null });
    await redis.ping();
  });
  afterAll(async () => {
    await redis?.quit();
  });

  it('lets a clean close take longer than the timeout: only time with Redis unreachable counts', async () => {
    let dropped = false;
    const closed = await closeOrDrop(() => sleep(500), () => (dropped = true), { timeoutMs: 50, redis });
    expect(closed).toBe(true);
    expect(dropped).toBe(false);
  });

  it('passes on the failure of a clean close that ended in time', async () => {
    await expect(closeOrDrop(() => Promise.reject(new Error('worker close failed')), () => undefined, { timeoutMs: 50, redis })).rejects.toThrow('worker close failed');
  });
});
