import type { ErrorData } from '@businessos/connector-sdk';
import { closeOrDrop } from '@businessos/connector-triggers';
import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Db } from '../db/db.ts';
import { apiMeta, ExecutionFailed, failExecution, type ApiExecutionMeta, type PreparedExecution } from '../execution/executions.ts';
import { ProblemError } from '../http/problem.ts';
import { jobOwner, type ConnectionTestJob, type ExecutionJobData, type ExecutionJobResult } from './execution-job.ts';
import { createRedis, LUA_NOW_MS, type Keyspace } from './redis.ts';
import { liveWorkers } from './worker-registry.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** With Redis: the execution queue the API enqueues to; undefined when executions run in this process. */
    executionQueue: ExecutionQueue | undefined;
  }
}

/** The API side of queued execution: admits, enqueues and (for synchronous calls) waits for a worker's answer. */
export interface ExecutionQueue {
  /** Enqueues and waits for the result; rejects with {@link ExecutionFailed} (connector or queue errors) or a problem. */
  run(prepared: PreparedExecution): Promise<{ data: unknown; meta: ApiExecutionMeta }>;
  /** Enqueues without waiting (`?async=true`); the worker records the outcome on the execution row. */
  submit(prepared: PreparedExecution): Promise<void>;
  /** Runs a connection test on a worker and waits for it; rejects with {@link ExecutionFailed} when it fails. */
  testConnection(test: ConnectionTestJob): Promise<{ checked: boolean }>;
  /** Closes the queue and its Redis connections, within `closeTimeoutMs` even while Redis is unreachable. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link createExecutionQueue}. */
export interface ExecutionQueueOptions {
  redisUrl: string;
  keys: Keyspace;
  db: Db;
  /** Executions at once per tenant / in total (the waiting room is sized from them like the in-process scheduler). */
  perTenant: number;
  total: number;
  /** Executions waiting in total (default 200) and per tenant (default 50) before QUEUE_FULL. */
  maxQueued?: number;
  maxQueuedPerTenant?: number;
  /** How long a synchronous call waits for its result. */
  waitMs: number;
  /** The `retryAfter` (seconds) a QUEUE_FULL answer carries (default 1). */
  retryAfterSeconds?: number;
  /**
   * How long `close()` lets the queue's connections close cleanly (default 3000 ms) before it drops them: while Redis
   * is unreachable they would wait for it forever, and a shutdown must not.
   */
  closeTimeoutMs?: number;
}

// Admission into the bounded waiting room: counts executions accepted and not yet finished, in total and for the
// tenant, and adds this one if both are under their bound. Entries expire so a crash never leaks capacity.
const ADMIT = `
local now = ${LUA_NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local total = redis.call('ZCARD', KEYS[1])
if total >= tonumber(ARGV[2]) then return {0, 'total', total} end
local prefix = ARGV[4] .. '|'
local mine = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(m, 1, #prefix) == prefix then mine = mine + 1 end
end
if mine >= tonumber(ARGV[3]) then return {0, 'tenant', mine} end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[4] .. '|' .. ARGV[5])
return {1}
`;

/** How long an accepted execution counts against the waiting room at most (it is removed when it finishes). */
const PENDING_TTL_MS = 30 * 60_000;

/** The member of the pending set for one job. */
export function pendingMember(owner: { tenantId: string; id: string }): string {
  return `${owner.tenantId}|${owner.id}`;
}

function noWorker(what: string): ProblemError {
  return new ProblemError(
    'INTERNAL',
    `No execution worker is running, so ${what} cannot run. Start one with \`npm run worker\` (same REDIS_URL, DATABASE_URL and BOS_MASTER_KEY), or run the API with BOS_API_WORKER=1`,
    { status: 503, type: 'no-worker' },
  );
}

/**
 * Creates the producer side of the BullMQ execution queue. Every execution is admitted against the waiting-room
 * bounds first (QUEUE_FULL with retry-after, as in one process), and refused at once with 503 when no worker
 * has a current heartbeat, so nothing waits for a worker that does not exist.
 * @example const queue = createExecutionQueue({ redisUrl, keys: keyspace('bos'), db, perTenant: 5, total: 10, waitMs: 60_000 });
 */
export function createExecutionQueue(options: ExecutionQueueOptions): ExecutionQueue {
  const { keys, db } = options;
  const maxTotal = options.total + (options.maxQueued ?? 200);
  const maxTenant = options.perTenant + (options.maxQueuedPerTenant ?? 50);
  const retryAfter = options.retryAfterSeconds ?? 1;
  const closeTimeoutMs = options.closeTimeoutMs ?? 3000;
  // Requests wait on this connection: while Redis is down they fail with a clear answer instead of hanging.
  const redis: Redis = createRedis(options.redisUrl, { failFast: true });
  const queue = new Queue<ExecutionJobData, ExecutionJobResult>(keys.queueName, { connection: redis, prefix: keys.queuePrefix });
  // Each concurrent add listens for the queue closing; as many run at once as the waiting room admits.
  queue.setMaxListeners(maxTotal + 10);
  // As with createRedis: an outage surfaces on the commands that need Redis (as a 503), not as BullMQ error events,
  // which would otherwise be printed once per reconnection attempt for as long as Redis is down.
  queue.on('error', () => undefined);
  let eventsRedis: Redis | undefined;
  // Kept from construction on (not only once ready) so that close() can drop it while it still waits for Redis.
  let eventsCreated: QueueEvents | undefined;
  let events: Promise<QueueEvents> | undefined;
  let eventsReady: QueueEvents | undefined;
  const queueEvents = (): Promise<QueueEvents> => {
    events ??= (async () => {
      eventsRedis = createRedis(options.redisUrl);
      const created = new QueueEvents(keys.queueName, { connection: eventsRedis, prefix: keys.queuePrefix });
      created.on('error', () => undefined);
      eventsCreated = created;
      await created.waitUntilReady();
      eventsReady = created;
      return created;
    })();
    return events;
  };
  let closing: Promise<void> | undefined;

  /**
   * Closes cleanly, or after {@link ExecutionQueueOptions.closeTimeoutMs} drops the connections (see
   * {@link closeOrDrop}: with Redis unreachable a clean close would never end).
   */
  async function closeQueue(): Promise<void> {
    await closeOrDrop(
      async () => {
        await Promise.allSettled([queue.close(), eventsCreated?.close()]);
        await Promise.allSettled([redis.quit(), eventsRedis?.quit()]);
      },
      () => {
        // The listener's own connection is a duplicate BullMQ made; closing its backend with `force` disconnects it
        // even before it was ever ready. The queue itself runs on `redis`, disconnected here directly.
        void eventsCreated?.getBackend().close(true).catch(() => undefined);
        redis.disconnect();
        eventsRedis?.disconnect();
      },
      { timeoutMs: closeTimeoutMs },
    );
  }

  /** Records on the execution row why it never ran (queue full, no worker); connection tests have no row. */
  const recordRefusal = (job: ExecutionJobData, data: ErrorData): Promise<void> =>
    job.kind === 'execute' ? failExecution(db, job.execution, data) : Promise.resolve();
  const describe = (job: ExecutionJobData): string => (job.kind === 'execute' ? `execution ${job.execution.id}` : `the test of connection ${job.test.connectionId}`);

  /** Awaits a Redis command; an unreachable Redis becomes a 503 that says so (and fails the execution row). */
  async function viaRedis<T>(job: ExecutionJobData, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      const problem = new ProblemError(
        'INTERNAL',
        `The execution queue is unavailable, so ${describe(job)} was not run: Redis at REDIS_URL is unreachable (${(error as Error).message}). Check that Redis is running, then try again`,
        { status: 503, type: 'queue-unavailable' },
      );
      await recordRefusal(job, { code: 'INTERNAL', message: problem.message });
      throw problem;
    }
  }

  async function enqueue(job: ExecutionJobData): Promise<Job<ExecutionJobData, ExecutionJobResult>> {
    const owner = jobOwner(job);
    const admitted = (await viaRedis(job, () => redis.eval(ADMIT, 1, keys.pending, PENDING_TTL_MS, maxTotal, maxTenant, owner.tenantId, owner.id))) as [number, string?, number?];
    if (admitted[0] !== 1) {
      const which = admitted[1] === 'tenant' ? `tenant ${owner.tenantId} already has ${admitted[2]} executions waiting or running` : `${admitted[2]} executions are waiting or running`;
      const data: ErrorData = { code: 'QUEUE_FULL', message: `The runtime is at capacity (${which}); try again in ${retryAfter} s`, retryAfter };
      await recordRefusal(job, data);
      throw new ExecutionFailed(data, apiMeta(owner.id, undefined));
    }
    if ((await viaRedis(job, () => liveWorkers(redis, keys.workers))) === 0) {
      await redis.zrem(keys.pending, pendingMember(owner));
      const problem = noWorker(describe(job));
      await recordRefusal(job, { code: 'INTERNAL', message: problem.message });
      throw problem;
    }
    return viaRedis(job, () => queue.add(job.kind, job, { jobId: owner.id, attempts: 1, removeOnComplete: { age: 3600, count: 10_000 }, removeOnFail: { age: 86_400 } }));
  }

  async function enqueueAndWait(data: ExecutionJobData): Promise<{ data: unknown; meta: ApiExecutionMeta }> {
    // The event listener's connection waits through outages: until it is ready, a ping notices an outage at once and
    // answers it. Once it is ready the ping is not needed (enqueue's own commands fail fast), so it costs no round trip.
    const listening = eventsReady ?? (await Promise.race([queueEvents(), viaRedis(data, () => redis.ping()).then(queueEvents)]));
    const job = await enqueue(data);
    const owner = jobOwner(data);
    let result: ExecutionJobResult;
    try {
      result = await job.waitUntilFinished(listening, options.waitMs);
    } catch (error) {
      const message = (error as Error).message;
      if (!/timed out/i.test(message)) {
        // The worker's processor itself failed (store unreachable, worker stalled twice): no connector error to show.
        throw new ExecutionFailed({ code: 'INTERNAL', message: `The worker could not finish ${describe(data)}: ${message}` }, apiMeta(owner.id, undefined));
      }
      if ((await viaRedis(data, () => liveWorkers(redis, keys.workers))) === 0) {
        // Nobody will ever pick it up: take it back out so it does not run by surprise later.
        if ((await job.getState()) === 'waiting') await job.remove().catch(() => undefined);
        await redis.zrem(keys.pending, pendingMember(owner));
        const problem = noWorker(describe(data));
        await recordRefusal(data, { code: 'INTERNAL', message: problem.message });
        throw problem;
      }
      const seconds = Math.round(options.waitMs / 1000);
      throw new ProblemError(
        'TIMEOUT',
        data.kind === 'execute'
          ? `Execution ${owner.id} did not finish within ${seconds} s (the workers are busy); it stays queued: read its outcome with GET /executions/${owner.id}, or use ?async=true`
          : `The connection test did not finish within ${seconds} s (the workers are busy); try again shortly`,
      );
    }
    if (!result.ok) throw new ExecutionFailed(result.error, result.meta);
    return { data: result.data, meta: result.meta };
  }

  return {
    run: (execution) => enqueueAndWait({ kind: 'execute', execution }),
    async submit(execution) {
      await enqueue({ kind: 'execute', execution });
    },
    async testConnection(test) {
      const { data } = await enqueueAndWait({ kind: 'test-connection', test });
      return data as { checked: boolean };
    },
    close() {
      closing ??= closeQueue();
      return closing;
    },
  };
}
