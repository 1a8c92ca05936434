import type { LogLevel } from '@businessos/connector-sdk';
import { quitOrDrop, type PollOutcome, type PollSubscription } from '@businessos/connector-triggers';
import type { ServerConfig } from '../config.ts';
import type { Db } from '../db/db.ts';
import type { ServiceRuntime } from '../execution/service-runtime.ts';
import { createRedis } from '../scale/redis.ts';
import { createPollingService, POLL_QUEUE_NAME, type PollingService } from './polling-service.ts';

/** The polling side of a service process, with the Redis connection it owns. */
export interface ServicePolling {
  service: PollingService;
  /** Stops scheduling and waits for polls in progress, then closes its Redis connection. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link createServicePolling}. */
export interface ServicePollingOptions {
  config: Pick<ServerConfig, 'redisUrl' | 'redisPrefix'>;
  db: Db;
  runtime: ServiceRuntime;
  log: (line: string) => void;
  /** Told after each poll (tests, metrics). */
  onPoll?: (subscription: PollSubscription, outcome: PollOutcome | 'locked') => void;
  /** With Redis: whether this process runs polls (default true) or only schedules them (API with `BOS_API_WORKER=0`). */
  runPolls?: boolean;
}

const LEVELS: LogLevel[] = ['warn', 'error'];

/**
 * Builds the service's polling triggers from its configuration: with `REDIS_URL`, BullMQ repeatable jobs under
 * `BOS_REDIS_PREFIX` (`<prefix>:bull`, queue `bos-trigger-polls`) shared by every process, one poll at a time per
 * subscription, and new events also pushed to `<prefix>:bull` queue `bos-trigger-events`; without it, in-process
 * timers. Events go into the store's outbox. Nothing is scheduled until `service.start()` (after migrations).
 * @example const polling = createServicePolling({ config, db, runtime, log }); await polling.service.start(); await polling.close();
 */
export function createServicePolling(options: ServicePollingOptions): ServicePolling {
  const { config, log } = options;
  // BullMQ's worker needs `maxRetriesPerRequest: null`, which createRedis sets; it also keeps connection errors during
  // an outage from being printed as unhandled, once per reconnection attempt.
  const redis = config.redisUrl ? createRedis(config.redisUrl) : undefined;
  const service = createPollingService({
    db: options.db,
    runtime: options.runtime,
    redis,
    queuePrefix: `${config.redisPrefix}:bull`,
    ...(options.onPoll ? { onPoll: options.onPoll } : {}),
    ...(options.runPolls === false && redis ? { runPolls: false } : {}),
    log: (level, message) => {
      if (LEVELS.includes(level)) log(`polling: ${message}`);
    },
  });
  if (redis) log(`REDIS_URL set: polling triggers run as BullMQ jobs in ${config.redisPrefix}:bull:${POLL_QUEUE_NAME}, one poll at a time per subscription across processes.`);
  let closing: Promise<void> | undefined;
  return {
    service,
    close() {
      closing ??= (async () => {
        try {
          await service.close();
        } finally {
          if (redis) await quitOrDrop(redis);
        }
      })();
      return closing;
    },
  };
}
