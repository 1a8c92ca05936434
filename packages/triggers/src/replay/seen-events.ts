import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import type { Redis } from 'ioredis';

/**
 * Remembers which provider event ids an endpoint has received, and which of them were fully processed, for a while.
 * `markSeen` is atomic: of two concurrent calls with the same id exactly one gets `true`. Ingress answers a replay
 * from here (no database work) only when the id is marked processed; a merely seen id goes on to the outbox, since
 * the worker that saw it may have died before storing its events.
 */
export interface SeenEvents {
  /** Records the id; true when it was new, false when it was seen within the last `ttlSeconds`. */
  markSeen(endpointId: string, eventId: string, ttlSeconds: number): Promise<boolean>;
  /** Records that the delivery with this id and its events are durably stored. */
  markProcessed(endpointId: string, eventId: string, ttlSeconds: number): Promise<void>;
  /** True when {@link SeenEvents.markProcessed} was called for the id within its TTL. */
  isProcessed(endpointId: string, eventId: string): Promise<boolean>;
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
  const entries = new Map<string, { until: number; processed: boolean }>();
  const key = (endpointId: string, eventId: string) => `${endpointId}\u0000${eventId}`;
  const live = (k: string) => {
    const e = entries.get(k);
    return e && e.until > clock.now() ? e : undefined;
  };
  const put = (k: string, value: { until: number; processed: boolean }) => {
    entries.delete(k);
    entries.set(k, value);
    // Map keeps insertion order; entries are refreshed by re-insertion, so the first ones are the oldest.
    while (entries.size > max) {
      const oldest = entries.keys().next().value;
      if (oldest === undefined) break;
      entries.delete(oldest);
    }
  };
  return {
    async markSeen(endpointId, eventId, ttlSeconds) {
      const k = key(endpointId, eventId);
      if (live(k)) return false;
      put(k, { until: clock.now() + ttlSeconds * 1000, processed: false });
      return true;
    },
    async markProcessed(endpointId, eventId, ttlSeconds) {
      put(key(endpointId, eventId), { until: clock.now() + ttlSeconds * 1000, processed: true });
    },
    async isProcessed(endpointId, eventId) {
      return live(key(endpointId, eventId))?.processed === true;
    },
    async forget(endpointId, eventId) {
      entries.delete(key(endpointId, eventId));
    },
  };
}

export interface RedisSeenEventsOptions {
  redis: Redis;
  /** Key prefix (default `bos:triggers:seen:`); use a distinct one per environment or test. */
  prefix?: string;
}

/**
 * {@link SeenEvents} in Redis, shared by all workers: one key per (endpoint, event id), claimed with
 * `SET key seen NX EX ttl` and overwritten with `done` once processed.
 */
export function createRedisSeenEvents(options: RedisSeenEventsOptions): SeenEvents {
  const prefix = options.prefix ?? 'bos:triggers:seen:';
  const key = (endpointId: string, eventId: string) => `${prefix}${endpointId}:${eventId}`;
  return {
    async markSeen(endpointId, eventId, ttlSeconds) {
      const res = await options.redis.set(key(endpointId, eventId), 'seen', 'EX', Math.max(1, Math.ceil(ttlSeconds)), 'NX');
      return res === 'OK';
    },
    async markProcessed(endpointId, eventId, ttlSeconds) {
      await options.redis.set(key(endpointId, eventId), 'done', 'EX', Math.max(1, Math.ceil(ttlSeconds)));
    },
    async isProcessed(endpointId, eventId) {
      return (await options.redis.get(key(endpointId, eventId))) === 'done';
    },
    async forget(endpointId, eventId) {
      await options.redis.del(key(endpointId, eventId));
    },
  };
}
