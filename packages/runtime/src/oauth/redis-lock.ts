import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Lock } from './lock.ts';

// Deletes the key only if it still holds our token, so a lease that expired and passed to another
// worker is never released by its old holder.
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
// Moves the expiry only while the key still holds our token: an expired lease is never revived over another holder.
const EXTEND = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

/**
 * A {@link Lock} on Redis that holds across worker processes: `SET key token NX PX ttl` to take it, a Lua
 * compare-and-delete to release it and a compare-and-expire to extend it.
 * @example const lock = createRedisLock({ redis: new Redis(config.redisUrl), prefix: 'bos:lock:' })
 */
export function createRedisLock(options: { redis: Redis; prefix?: string }): Lock {
  const prefix = options.prefix ?? 'bos:lock:';
  return {
    async tryAcquire(key, ttlMs) {
      const token = randomUUID();
      const name = `${prefix}${key}`;
      const ok = await options.redis.set(name, token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
      if (ok !== 'OK') return undefined;
      return {
        async release() {
          const deleted = await options.redis.eval(RELEASE, 1, name, token);
          return deleted === 1;
        },
        async extend(ms) {
          const extended = await options.redis.eval(EXTEND, 1, name, token, String(Math.max(1, Math.ceil(ms))));
          return extended === 1;
        },
      };
    },
  };
}
