import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { servicesRequired } from '../db/test-db.ts';
import { createRedis } from './redis.ts';
import { createRedisResponseCache } from './response-cache.ts';
import { startRedisProxy } from './test-support.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl && servicesRequired(process.env)) throw new Error('BOS_REQUIRE_SERVICES=1 but REDIS_URL is not set: the response cache test needs Redis');
const withRedis = redisUrl ? describe : describe.skip;

withRedis(`response cache on Redis${redisUrl ? '' : ': skipped, REDIS_URL is not set'}`, () => {
  const clients: Redis[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
  });
  /** A counting computation that answers `value` (the store's current answer). */
  const store = () => {
    const s = { value: 'v1', reads: 0, compute: async () => (s.reads += 1, { answer: s.value }) };
    return s;
  };

  it('serves the second read from Redis and a fresh answer after an invalidation', async () => {
    const redis = createRedis(redisUrl!);
    clients.push(redis);
    // A generous timeout: on a loaded machine a slow answer would send a read to the store and skew the count.
    const cache = createRedisResponseCache({ redis, prefix: `test:${randomUUID()}:`, timeoutMs: 5000 });
    const s = store();
    const entry = { tenant: null, variant: 'GET /marketplace/search?q=a' };
    await redis.ping();
    expect(await cache.wrap(entry, s.compute)).toEqual({ answer: 'v1' });
    expect(await cache.wrap(entry, s.compute)).toEqual({ answer: 'v1' });
    expect(s.reads).toBe(1);
    s.value = 'v2';
    await cache.invalidate({ catalog: true });
    expect(await cache.wrap(entry, s.compute)).toEqual({ answer: 'v2' });
    expect(s.reads).toBe(2);
    await cache.close();
  });

  it('answers reads from the store and takes writes\' invalidations without waiting while Redis is unreachable', async () => {
    const proxy = await startRedisProxy(new URL(redisUrl!));
    const redis = createRedis(proxy.url);
    clients.push(redis);
    const errors: string[] = [];
    const cache = createRedisResponseCache({ redis, prefix: `test:${randomUUID()}:`, onError: (e) => errors.push(e.message) });
    const s = store();
    const entry = { tenant: 'tenant-a', variant: 'GET /installations' };
    await redis.ping();
    await cache.wrap(entry, s.compute);
    await proxy.kill();
    // Before, both waited for as long as Redis was away: a write's answer (which invalidates) never went out.
    expect(await cache.wrap(entry, s.compute)).toEqual({ answer: 'v1' });
    await cache.invalidate({ tenant: 'tenant-a' });
    expect(s.reads).toBe(2);
    expect(errors.length).toBeGreaterThan(0);
    await cache.close();
  });

  it('reads the store until an invalidation Redis missed is applied, so no stale answer is served once it is back', async () => {
    const redis = new Redis(redisUrl!, { maxRetriesPerRequest: null });
    redis.on('error', () => undefined);
    clients.push(redis);
    const cache = createRedisResponseCache({ redis, prefix: `test:${randomUUID()}:`, retryMs: 60_000, timeoutMs: 5000, backoffMs: 0 });
    const s = store();
    const entry = { tenant: null, variant: 'GET /marketplace/connectors/x' };
    await redis.ping();
    await cache.wrap(entry, s.compute);
    expect(await cache.wrap(entry, s.compute)).toEqual({ answer: 'v1' });
    expect(s.reads).toBe(1);
    // Redis goes away; a write changes the answer and its invalidation cannot reach Redis.
    redis.disconnect();
    s.value = 'v2';
    await cache.invalidate({ catalog: true });
    expect(await cache.wrap(entry, s.compute)).toEqual({ answer: 'v2' });
    // Redis is back, still holding the old entry: the missed invalidation is applied before any cached read.
    await redis.connect();
    expect(await cache.wrap(entry, s.compute)).toEqual({ answer: 'v2' });
    expect(await cache.wrap(entry, s.compute)).toEqual({ answer: 'v2' });
    expect(s.reads).toBe(3);
    await cache.close();
  });
});
