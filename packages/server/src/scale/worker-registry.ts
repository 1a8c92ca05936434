import type { Redis } from 'ioredis';
import { LUA_NOW_MS } from './redis.ts';

const BEAT = `redis.call('ZADD', KEYS[1], ${LUA_NOW_MS} + tonumber(ARGV[1]), ARGV[2]) return 1`;
const LIVE = `local now = ${LUA_NOW_MS} redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now) return redis.call('ZCARD', KEYS[1])`;

/** How long a worker counts as alive after its last heartbeat. */
const TTL_MS = 15_000;

/**
 * Announces a live worker in Redis every few seconds until stopped, so the API can tell "no worker is running"
 * apart from "the workers are busy".
 * @returns `first`, settled once the worker is listed, and `stop()`, which withdraws it.
 */
export function startWorkerHeartbeat(redis: Redis, key: string, workerId: string): { first: Promise<void>; stop(): Promise<void> } {
  const beat = () => redis.eval(BEAT, 1, key, TTL_MS, workerId).then(() => undefined);
  const first = beat();
  const timer = setInterval(() => void beat().catch(() => undefined), TTL_MS / 3);
  timer.unref();
  return {
    first,
    async stop() {
      clearInterval(timer);
      await redis.zrem(key, workerId).catch(() => undefined);
    },
  };
}

/** Number of workers whose heartbeat is current. */
export async function liveWorkers(redis: Redis, key: string): Promise<number> {
  return Number(await redis.eval(LIVE, 1, key));
}
