import type { Vault } from '@businessos/connector-runtime';
import { quitOrDrop } from '@businessos/connector-triggers';
import type { ServerConfig } from '../config.ts';
import type { Db } from '../db/db.ts';
import type { ServiceRuntime } from '../execution/service-runtime.ts';
import { createServicePolling, type ServicePolling } from '../polling/start-polling.ts';
import { createRedis, keyspace } from '../scale/redis.ts';
import { createTriggerService, type TriggerService } from './trigger-service.ts';

/** Options of {@link createTriggerWork}. */
export interface TriggerWorkOptions {
  db: Db;
  runtime: ServiceRuntime;
  vault: Vault;
  config: ServerConfig;
  /**
   * Whether this process runs the background trigger work (webhook transforms, renewals, polls). False in API
   * processes with Redis and `BOS_API_WORKER=0`: they only receive, store and schedule.
   */
  background: boolean;
  log: (line: string) => void;
}

/** The trigger side of a service or worker process. */
export interface TriggerWork {
  triggers: TriggerService;
  polling: ServicePolling;
  /** Once the store is migrated: starts renewals and the delivery processor, schedules polling; answers how many polls. */
  start(): Promise<number>;
  /** Stops polls and transforms in hand (call before the runtime closes), then the Redis connection. Never rejects. */
  close(): Promise<void>;
}

/**
 * Webhook triggers, the events outbox and polling for one process, as `npm start` and `npm run worker` both run them:
 * with `REDIS_URL`, replay dedupe, rate limits and poll scheduling are shared by every process and new events are
 * pushed to BullMQ.
 * @example const work = createTriggerWork({ db, runtime, vault, config, background: true, log }); await work.start();
 */
export function createTriggerWork(options: TriggerWorkOptions): TriggerWork {
  const { db, runtime, vault, config, background, log } = options;
  const redis = config.redisUrl ? createRedis(config.redisUrl) : undefined;
  const triggers = createTriggerService({
    db,
    runtime,
    vault,
    config,
    redis,
    queuePrefix: keyspace(config.redisPrefix).queuePrefix,
    keyPrefix: config.redisPrefix,
    background,
    log: (level, message, data) => log(`[triggers] ${level}: ${message}${data ? ` ${JSON.stringify(data)}` : ''}`),
  });
  // BullMQ repeatable jobs with REDIS_URL, in-process timers otherwise; nothing is scheduled before start().
  const polling = createServicePolling({ config, db, runtime, log, runPolls: background });
  triggers.setPollingHooks(polling.service);
  let closing: Promise<void> | undefined;
  return {
    triggers,
    polling,
    async start() {
      // Webhook subscriptions that expire at the provider are re-registered before they lapse.
      triggers.startRenewals();
      return polling.service.start();
    },
    close() {
      closing ??= (async () => {
        await polling.close().catch((error: unknown) => log(`Stopping polling triggers failed: ${(error as Error).message}`));
        await triggers.close().catch((error: unknown) => log(`Stopping webhook triggers failed: ${(error as Error).message}`));
        if (redis) await quitOrDrop(redis);
      })();
      return closing;
    },
  };
}
