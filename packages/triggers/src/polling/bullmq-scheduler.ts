import { toErrorData, type LogLevel } from '@businessos/connector-sdk';
import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Poller, PollOutcome, PollSubscription } from './poller.ts';
import { closeOrDrop, dropWorker } from '../close-or-drop.ts';
import { createRedisLock } from './redis-lock.ts';
import type { PollScheduler } from './scheduler.ts';

export interface BullmqSchedulerOptions {
  /**
   * An ioredis client created with `maxRetriesPerRequest: null` (BullMQ's requirement for workers). Used for the
   * queue, the worker (BullMQ duplicates it for blocking calls) and the per-subscription poll lock.
   */
  connection: Redis;
  /** Queue of poll jobs, e.g. `bos-trigger-polls`. */
  queueName: string;
  poller: Poller;
  /** BullMQ key prefix (default `bull`); distinct per environment or test. */
  prefix?: string;
  /** Prefix of the poll locks (default `bos:triggers:poll-lock:`). */
  lockPrefix?: string;
  /**
   * TTL of a subscription's poll lock (default {@link DEFAULT_POLL_LOCK_TTL_MS}, 60 s): renewed every third of it
   * while the poll runs, so a poll of any length keeps it; a crashed worker's lock expires after it, which is how long
   * its subscriptions go unpolled. A poll whose renewals all fail for a whole TTL (Redis unreachable) loses the lock
   * and saves nothing.
   */
  lockTtlMs?: number;
  /** Polls this worker runs at once, over different subscriptions (default 4). */
  concurrency?: number;
  /** Set false in processes that only schedule (the API) and leave polling to workers (default true). */
  runWorker?: boolean;
  /**
   * How long `close()` waits for polls in progress while Redis is unreachable (default 3000 ms) before it drops the
   * worker's connections: they would otherwise wait for Redis for ever. Time with Redis up does not count.
   */
  closeTimeoutMs?: number;
  onPoll?: (subscription: PollSubscription, outcome: PollOutcome | 'locked') => void;
  log?: (level: LogLevel, message: string, data?: unknown) => void;
}

/**
 * Default TTL of a subscription's poll lock. The lock is renewed while its poll runs, so the TTL does not bound a
 * poll's length; it only bounds how long a crashed worker's subscriptions stay locked (renewed every 20 s).
 */
export const DEFAULT_POLL_LOCK_TTL_MS = 60_000;

/** The BullMQ job scheduler id of a subscription. */
export function pollSchedulerId(subscriptionId: string): string {
  return `poll-${subscriptionId}`;
}

interface PollJobData {
  subscription: PollSubscription;
}

/**
 * A {@link PollScheduler} on BullMQ job schedulers (`Queue.upsertJobScheduler`, one per subscription, repeating
 * every interval). Any number of workers can run; a Redis lock per subscription makes sure only one poll of a
 * subscription runs at a time across all of them (a job that finds the lock taken is skipped: the next one comes
 * an interval later). Backoff after failures is kept by the poller in the subscription's state.
 */
export function createBullmqScheduler(options: BullmqSchedulerOptions): PollScheduler {
  const { connection, queueName, poller } = options;
  const prefix = options.prefix ? { prefix: options.prefix } : {};
  const lockTtl = options.lockTtlMs ?? DEFAULT_POLL_LOCK_TTL_MS;
  const log = options.log ?? (() => undefined);
  const lock = createRedisLock({ redis: connection, prefix: options.lockPrefix ?? 'bos:triggers:poll-lock:' });
  const queue = new Queue<PollJobData>(queueName, { connection, ...prefix });
  // An outage surfaces on schedule()/unschedule() and in the worker's error events; without a listener BullMQ would
  // also print the queue's connection errors, once per reconnection attempt.
  queue.on('error', () => undefined);

  async function processJob(job: Job<PollJobData>): Promise<PollOutcome | { skipped: 'locked' }> {
    const sub = job.data.subscription;
    const token = await lock.acquire(sub.id, lockTtl);
    if (!token) {
      options.onPoll?.(sub, 'locked');
      return { skipped: 'locked' };
    }
    // A poll may outlast the TTL (a slow provider, a large page to store): renewed while it runs, or another worker
    // would start a second poll of the subscription and the two would race to save its state. Should the lock
    // still be lost (Redis unreachable past the TTL), the poll is told, and stores and saves nothing more.
    const lost = new AbortController();
    let renewing = false;
    const renewal = setInterval(() => {
      if (renewing || lost.signal.aborted) return;
      renewing = true;
      lock.extend(sub.id, token, lockTtl)
        .then((held) => {
          if (held) return;
          lost.abort();
          log('error', `the poll lock of ${sub.id} expired while its poll ran; that poll saves nothing`, { subscription: sub.id });
        }, (error: unknown) => log('warn', `could not renew the poll lock of ${sub.id}: ${toErrorData(error).message}`))
        .finally(() => { renewing = false; });
    }, Math.max(1, Math.floor(lockTtl / 3)));
    try {
      const outcome = await poller.pollOnce(sub, { signal: lost.signal });
      options.onPoll?.(sub, outcome);
      return outcome;
    } finally {
      clearInterval(renewal);
      await lock.release(sub.id, token).catch((error: unknown) => log('warn', `could not release the poll lock of ${sub.id}: ${toErrorData(error).message}`));
    }
  }

  const worker = options.runWorker === false
    ? undefined
    : new Worker<PollJobData>(queueName, processJob, { connection, concurrency: options.concurrency ?? 4, ...prefix });
  worker?.on('failed', (job, error) => log('error', `poll job ${job?.id ?? '?'} failed: ${error.message}`));
  worker?.on('error', (error) => log('error', `poll worker error: ${error.message}`));

  return {
    async schedule(subscription) {
      const every = poller.intervalMs(subscription);
      await queue.upsertJobScheduler(pollSchedulerId(subscription.id), { every }, {
        name: 'poll',
        data: { subscription },
        opts: { removeOnComplete: 100, removeOnFail: 100 },
      });
    },
    async unschedule(subscriptionId) {
      await queue.removeJobScheduler(pollSchedulerId(subscriptionId));
    },
    async close() {
      // The queue shares `connection`, which its owner drops; only the worker's own blocking connection is ours to drop.
      await closeOrDrop(
        async () => {
          await worker?.close();
          await queue.close();
        },
        () => {
          if (worker) dropWorker(worker);
        },
        { timeoutMs: options.closeTimeoutMs, redis: connection },
      );
    },
  };
}
