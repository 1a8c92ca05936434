import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { isConnectorError, toErrorData } from '@businessos/connector-sdk';
import { closeOrDrop, dropWorker } from '@businessos/connector-triggers';
import type { Db } from '../db/db.ts';
import { apiMeta, ExecutionFailed, runExecution } from '../execution/executions.ts';
import type { ServiceRuntime } from '../execution/service-runtime.ts';
import { jobOwner, type ExecutionJobData, type ExecutionJobResult } from './execution-job.ts';
import { pendingMember } from './execution-queue.ts';
import { createFairSemaphore } from './fair-semaphore.ts';
import { createRedis, type Keyspace } from './redis.ts';
import { startWorkerHeartbeat } from './worker-registry.ts';

/** A process consuming the execution queue. */
export interface ExecutionWorker {
  /** `host:pid:random`, as listed in the workers set and on each job's result. */
  id: string;
  /** Settles once the worker consumes the queue and is listed as live (so the API sends it work). */
  ready: Promise<void>;
  /**
   * Stops taking jobs, lets the ones in hand finish (recording their outcome), then disconnects. Once Redis has been
   * unreachable for `closeTimeoutMs` it stops waiting and drops the connections instead. Idempotent.
   */
  close(): Promise<void>;
}

/** Options of {@link startExecutionWorker}. */
export interface ExecutionWorkerOptions {
  redisUrl: string;
  keys: Keyspace;
  db: Db;
  /** The runtime that executes; closed by its owner after the worker. */
  runtime: ServiceRuntime;
  /** Executions at once per tenant and in total, across all workers. */
  perTenant: number;
  total: number;
  /**
   * Jobs this process takes off the queue at once (default total + 200). Taken jobs wait for a slot in the fair
   * cross-worker semaphore, which decides the order; so this is the size of the waiting room a worker holds.
   */
  concurrency?: number;
  log?: (message: string, data?: Record<string, unknown>) => void;
  /**
   * How long `close()` waits for the jobs in hand while Redis is unreachable (default 3000 ms) before it drops the
   * connections: those jobs can record neither their slot nor their result, and would hold the shutdown for as long
   * as the outage lasts. Time with Redis up does not count, so a drain of long executions is never cut short.
   */
  closeTimeoutMs?: number;
}

/**
 * Starts a BullMQ worker on the execution queue. Each job waits for a slot of the cross-worker fair semaphore
 * (per-tenant and global limits across all workers), then runs through the runtime like an in-process execution;
 * the outcome is written to the execution row and returned as the job's result.
 * @example const worker = startExecutionWorker({ redisUrl, keys, db, runtime, perTenant: 5, total: 10 }); await worker.close();
 */
export function startExecutionWorker(options: ExecutionWorkerOptions): ExecutionWorker {
  const { keys, db, runtime } = options;
  const id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const log = options.log ?? (() => undefined);
  const redis: Redis = createRedis(options.redisUrl);
  const semaphore = createFairSemaphore({ redis, keys: keys.limiter, perTenant: options.perTenant, total: options.total });

  /** Runs one job's connector code; failures come back as plain data. */
  async function run(job: ExecutionJobData): Promise<ExecutionJobResult> {
    if (job.kind === 'execute') {
      try {
        const { data, meta } = await runExecution(db, runtime, job.execution, {
          // This attempt lost its job (its lock expired and the job was redelivered, retried or failed) and the row was
          // settled without it; what it reports now is kept out of the record and only logged.
          onDiscarded: (discarded) =>
            log('execution result discarded: the execution was already recorded by the time this attempt finished', { ...discarded, worker: id }),
        });
        return { ok: true, data, meta, worker: id };
      } catch (error) {
        if (error instanceof ExecutionFailed) return { ok: false, error: error.data, meta: error.meta, worker: id };
        throw error;
      }
    }
    const { test } = job;
    const meta = apiMeta(test.id, undefined);
    try {
      const result = await runtime.asTenant(test.tenantId, () =>
        runtime.runtime.authenticate({ tenant: test.tenantId, connector: test.connector, version: test.version, connection: { id: test.connectionId, fields: test.fields } }),
      );
      return { ok: true, data: { checked: result.data.checked }, meta, worker: id };
    } catch (error) {
      if (!isConnectorError(error)) throw error;
      return { ok: false, error: toErrorData(error), meta, worker: id };
    }
  }

  async function processJob(job: Job<ExecutionJobData, ExecutionJobResult>): Promise<ExecutionJobResult> {
    const owner = jobOwner(job.data);
    try {
      const lease = await semaphore.acquire(owner.tenantId);
      try {
        return await run(job.data);
      } finally {
        // The outcome is recorded; a slot that cannot be given back now expires with its lease.
        await lease.release().catch((error: unknown) => log('could not release an execution slot', { job: owner.id, error: (error as Error).message }));
      }
    } finally {
      await redis.zrem(keys.pending, pendingMember(owner)).catch(() => undefined);
    }
  }

  const worker = new Worker<ExecutionJobData, ExecutionJobResult>(keys.queueName, processJob, {
    connection: redis,
    prefix: keys.queuePrefix,
    concurrency: options.concurrency ?? options.total + 200,
  });
  worker.on('failed', (job, error) => log('execution job failed', { executionId: job?.id, error: error.message }));
  worker.on('error', (error) => log('execution worker error', { error: error.message }));
  // Listed as live only once BullMQ is connected, so the API never counts a worker that cannot take jobs.
  let heartbeat: ReturnType<typeof startWorkerHeartbeat> | undefined;
  const ready = worker.waitUntilReady().then(async () => {
    heartbeat = startWorkerHeartbeat(redis, keys.workers, id);
    await heartbeat.first;
  });
  ready.catch(() => undefined);

  let closing: Promise<void> | undefined;
  return {
    id,
    ready,
    close() {
      closing ??= (async () => {
        const drained = await closeOrDrop(
          async () => {
            // Drain: BullMQ stops fetching and waits for every job in hand; waiting ones still get slots as others end.
            await worker.close();
            await ready.catch(() => undefined);
            await heartbeat?.stop();
            semaphore.close();
            await redis.quit().catch(() => undefined);
          },
          () => {
            semaphore.close();
            // Stops the beat; the withdrawal it sends cannot reach Redis now, and the entry expires on its own.
            void heartbeat?.stop();
            dropWorker(worker);
            redis.disconnect();
          },
          { timeoutMs: options.closeTimeoutMs, redis },
        );
        if (!drained) log('execution worker closed without draining: Redis stayed unreachable, so jobs in hand could not report back to the queue', { worker: id });
      })();
      return closing;
    },
  };
}
