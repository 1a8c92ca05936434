import { Redis } from 'ioredis';

/**
 * An ioredis client for the service's scale-out parts. `maxRetriesPerRequest: null` is BullMQ's requirement for
 * workers (a blocking command must wait through a Redis restart rather than fail). With `failFast`, for code that
 * answers an HTTP request, a command fails after a few reconnection attempts instead, so the caller gets an error
 * rather than a request hanging for as long as Redis is down.
 * @example const redis = createRedis(config.redisUrl!); await redis.quit();
 */
export function createRedis(url: string, options: { failFast?: boolean } = {}): Redis {
  const redis = new Redis(url, {
    lazyConnect: false,
    ...(options.failFast
      // Reconnecting at least every half second bounds how long a command waits before it fails (about 2 s).
      ? { maxRetriesPerRequest: 3, retryStrategy: (attempt: number) => Math.min(attempt * 50, 500) }
      : { maxRetriesPerRequest: null }),
  });
  // ioredis reconnects by itself; failures surface on the commands that need Redis (and in BullMQ's own error
  // events), so connection errors are not also reported as unhandled here.
  redis.on('error', () => undefined);
  return redis;
}

/** Names of every Redis key of one deployment, all under its `BOS_REDIS_PREFIX`. */
export interface Keyspace {
  /** BullMQ prefix of the execution queue. */
  queuePrefix: string;
  /** Name of the BullMQ execution queue. */
  queueName: string;
  /** Sorted set of live workers (member: worker id, score: heartbeat expiry in ms, Redis time). */
  workers: string;
  /** Sorted set of executions accepted and not finished (member: `tenant|id`, score: expiry in ms). */
  pending: string;
  /** Keys of the cross-worker fair semaphore. */
  limiter: { running: string; waiting: string; order: string; served: string; seq: string };
  /** Prefix of response cache entries and their generation counters. */
  cache: string;
}

/** The keyspace under `prefix` (e.g. `bos`, or a unique one per test run). */
export function keyspace(prefix: string): Keyspace {
  const p = `${prefix}:`;
  return {
    queuePrefix: `${prefix}:bull`,
    queueName: 'executions',
    workers: `${p}workers`,
    pending: `${p}executions:pending`,
    limiter: { running: `${p}limits:running`, waiting: `${p}limits:waiting`, order: `${p}limits:order`, served: `${p}limits:served`, seq: `${p}limits:seq` },
    cache: `${p}cache:`,
  };
}

/** Redis server time in milliseconds, as a Lua expression (every process compares against one clock). */
export const LUA_NOW_MS = `(function() local t = redis.call('TIME'); return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) end)()`;
