import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import type { Redis } from 'ioredis';

/**
 * Remembers which provider event ids an endpoint has already accepted, for a while.
 * `markSeen` is atomic: of two concurrent calls with the same id exactly one gets `true`.
 */
export interface SeenEvents {
  /** Records the id; true when it was new, false when it was seen within the last `ttlSeconds`. */
  markSeen(endpointId: string, eventId: string, ttlSeconds: number): Promise<boolean>;
  /** Forgets an id, so a provider retry is accepted after we failed to store the delivery. */
  forget(endpointId: string, eventId: string): Promise<void>;
}

export interface MemorySeenEventsOptions {
  clock?: Clock;
  /** Most ids kept; the oldest go first when full (default 100 000). */
  maxEntries?: number;
}

/** Single-process {@link SeenEvents}: a Map with expiry times, bounded in size. */
export function createMemorySeenEvents(options: MemorySeenEventsOptions = {}): SeenEvents {
  const clock = options.clock ?? systemClock;
  const max = options.maxEntries ?? 100_000;
  const expiries = new Map<string, number>();
  const key = (endpointId: string, eventId: string) => `${endpointId}\u0000${eventId}`;
  return {
    async markSeen(endpointId, eventId, ttlSeconds) {
      const k = key(endpointId, eventId);
      const now = clock.now();
      const until = expiries.get(k);
      if (until !== undefined && until > now) return false;
      expiries.delete(k);
      expiries.set(k, now + ttlSeconds * 1000);
      // Map keeps insertion order; entries are refreshed by re-insertion, so the first ones are the oldest.
      while (expiries.size > max) {
        const oldest = expiries.keys().next().value;
        if (oldest === undefined) break;
        expiries.delete(oldest);
      }
      return true;
    },
    async forget(endpointId, eventId) {
      expiries.delete(key(endpointId, eventId));
    },
  };
}

export interface RedisSeenEventsOptions {
  redis: Redis;
  /** Key prefix (default `bos:triggers:seen:`); use a distinct one per environment or test. */
  prefix?: string;
}

/** {@link SeenEvents} in Redis: one key per (endpoint, event id) set with `SET NX EX`, shared by all workers. */
export function createRedisSeenEvents(options: RedisSeenEventsOptions): SeenEvents {
  const prefix = options.prefix ?? 'bos:triggers:seen:';
  const key = (endpointId: string, eventId: string) => `${prefix}${endpointId}:${eventId}`;
  return {
    async markSeen(endpointId, eventId, ttlSeconds) {
      const res = await options.redis.set(key(endpointId, eventId), '1', 'EX', Math.max(1, Math.ceil(ttlSeconds)), 'NX');
      return res === 'OK';
    },
    async forget(endpointId, eventId) {
      await options.redis.del(key(endpointId, eventId));
    },
  };
}
