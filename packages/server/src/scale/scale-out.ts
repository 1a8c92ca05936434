import { quitOrDrop } from '@businessos/connector-triggers';
import type { ServerConfig } from '../config.ts';
import type { Db } from '../db/db.ts';
import type { ServiceRuntime } from '../execution/service-runtime.ts';
import { createExecutionQueue, type ExecutionQueue } from './execution-queue.ts';
import { startExecutionWorker, type ExecutionWorker } from './execution-worker.ts';
import { createRedis, keyspace } from './redis.ts';
import { createRedisResponseCache, type ResponseCache } from './response-cache.ts';

/** The Redis-backed parts of an API process. */
export interface ScaleOut {
  cache: ResponseCache;
  queue: ExecutionQueue;
  /** The worker in this process (`BOS_API_WORKER=1`, the default), if any. */
  worker: ExecutionWorker | undefined;
  /**
   * Drains the in-process worker, then closes the queue and the Redis connections; while Redis is unreachable each
   * step gives up on it after a few seconds and drops its connections. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Starts what an API process runs when `REDIS_URL` is set: the response cache, the execution queue producer and,
 * unless `BOS_API_WORKER=0` (or there is no runtime, i.e. no master key), a worker consuming the queue in this
 * process, so `npm start` with Redis alone still executes.
 */
export function startScaleOut(options: { config: ServerConfig; db: Db; runtime: ServiceRuntime | undefined; log: (line: string) => void }): ScaleOut {
  const { config, db, runtime, log } = options;
  const redisUrl = config.redisUrl;
  if (!redisUrl) throw new Error('startScaleOut() needs REDIS_URL');
  const keys = keyspace(config.redisPrefix);
  const redis = createRedis(redisUrl);
  let warned = false;
  const cache = createRedisResponseCache({
    redis,
    prefix: keys.cache,
    onError: (error) => {
      if (!warned) log(`Redis cache unavailable, reading the store directly: ${error.message}`);
      warned = true;
    },
  });
  const limits = { perTenant: config.limits.executionsPerTenant, total: config.limits.executionsTotal };
  const queue = createExecutionQueue({ redisUrl, keys, db, ...limits, waitMs: config.limits.executionWaitSeconds * 1000 });
  const worker = config.apiWorker && runtime ? startExecutionWorker({ redisUrl, keys, db, runtime, ...limits }) : undefined;
  log(
    worker
      ? `REDIS_URL set: executions go through the queue ${keys.queuePrefix}:${keys.queueName}; this process also runs them (BOS_API_WORKER=0 leaves that to npm run worker).`
      : `REDIS_URL set: executions go through the queue ${keys.queuePrefix}:${keys.queueName} and are run by npm run worker processes.`,
  );
  let closing: Promise<void> | undefined;
  return {
    cache,
    queue,
    worker,
    close() {
      closing ??= (async () => {
        await worker?.close();
        await queue.close();
        await cache.close();
        await quitOrDrop(redis);
      })();
      return closing;
    },
  };
}
