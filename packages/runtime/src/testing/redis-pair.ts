import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

/** Two clients of one real Redis, as two processes would hold them, and a key prefix no other test uses. */
export interface RedisPair {
  readonly prefix: string;
  /** Set once the suite's `beforeAll` has run. */
  a: Redis;
  b: Redis;
}

/**
 * For a `describe` block on a real Redis: opens two clients before its tests, and afterwards deletes every key
 * under its prefix and disconnects both.
 * @example const pair = useRedisPair(process.env.REDIS_URL!); it('...', () => createRedisLock({ redis: pair.a, prefix: pair.prefix }));
 */
export function useRedisPair(url: string): RedisPair {
  const pair = { prefix: `bos-test:${randomUUID()}:` } as RedisPair;
  beforeAll(() => {
    pair.a = new Redis(url, { maxRetriesPerRequest: 1 });
    pair.b = new Redis(url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    const keys = await pair.a.keys(`${pair.prefix}*`);
    if (keys.length) await pair.a.del(...keys);
    pair.a.disconnect();
    pair.b.disconnect();
  });
  return pair;
}
