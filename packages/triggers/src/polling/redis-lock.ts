import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A mutual-exclusion lock shared by all workers. */
export interface DistributedLock {
  /** Takes the lock for `ttlMs`; returns a token to release it with, or undefined when someone else holds it. */
  acquire(name: string, ttlMs: number): Promise<string | undefined>;
  /** Releases the lock if `token` still holds it (an expired lock taken by another worker is left alone). */
  release(name: string, token: string): Promise<void>;
  /** Holds the lock `ttlMs` longer from now if `token` still holds it; false when it expired (or was taken) meanwhile. */
  extend(name: string, token: string, ttlMs: number): Promise<boolean>;
}

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const EXTEND = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

/** {@link DistributedLock} on one Redis: `SET key token NX PX ttl`, released by a compare-and-delete script. */
export function createRedisLock(options: { redis: Redis; prefix?: string }): DistributedLock {
  const prefix = options.prefix ?? 'bos:triggers:lock:';
  return {
    async acquire(name, ttlMs) {
      const token = randomUUID();
      const ok = await options.redis.set(`${prefix}${name}`, token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
      return ok === 'OK' ? token : undefined;
    },
    async release(name, token) {
      await options.redis.eval(RELEASE, 1, `${prefix}${name}`, token);
    },
    async extend(name, token, ttlMs) {
      return (await options.redis.eval(EXTEND, 1, `${prefix}${name}`, token, Math.max(1, Math.ceil(ttlMs)))) === 1;
    },
  };
}
