import path from 'node:path';
import { createVault } from '@businessos/connector-runtime';
import { configOrReport, type ServerConfig } from '../config.ts';
import { migrate } from '../db/migrate.ts';
import { openDb } from '../db/open.ts';
import { allowLoopbackFromEnv, createServiceRuntime } from '../execution/service-runtime.ts';
import { createTriggerWork } from '../triggers/trigger-work.ts';
import { createPgVaultStore } from '../vault/pg-vault-store.ts';
import { startExecutionWorker } from './execution-worker.ts';
import { keyspace } from './redis.ts';

/** How long a starting worker waits for Redis before it gives up with a message. */
const READY_TIMEOUT_MS = 15_000;

/** Why a worker cannot start with `config`, or undefined when it can. */
export function workerConfigProblem(config: ServerConfig): string | undefined {
  if (!config.redisUrl) return 'REDIS_URL is not set: workers consume the execution queue in Redis. Without Redis, `npm start` runs executions in its own process.';
  if (!config.databaseUrl) return 'DATABASE_URL is not set: workers share the PostgreSQL store with the API (the embedded store belongs to one process).';
  if (!config.masterKey) return 'BOS_MASTER_KEY is not set: workers decrypt connection credentials with the same master key as the API.';
  return undefined;
}

/**
 * Entry point of `npm run worker`: consumes the execution queue, runs the background trigger work (the delivery
 * processor's webhook transforms, subscription renewals, polling jobs) until SIGTERM/SIGINT, then drains the work in
 * hand, flushes usage records and exits. Resolves to the exit code.
 */
export async function workerMain(): Promise<number> {
  const config = configOrReport(process.env);
  if (!config) return 2;
  const problem = workerConfigProblem(config);
  if (problem) {
    console.error(`The execution worker cannot start: ${problem}`);
    return 2;
  }
  const db = await openDb(config);
  try {
    await migrate(db);
  } catch (error) {
    console.error(`The execution worker cannot start: the store could not be migrated: ${(error as Error).message}`);
    await db.close();
    return 1;
  }
  const vault = createVault({ store: createPgVaultStore(db), masterKey: config.masterKey!, previousMasterKeys: config.previousMasterKeys });
  const allowLoopback = allowLoopbackFromEnv(process.env);
  const runtime = createServiceRuntime({ db, vault, config, allowLoopback });
  const keys = keyspace(config.redisPrefix);
  const log = (message: string, data?: Record<string, unknown>) => console.log(JSON.stringify({ time: new Date().toISOString(), msg: message, ...data }));
  const worker = startExecutionWorker({
    redisUrl: config.redisUrl!,
    keys,
    db,
    runtime,
    perTenant: config.limits.executionsPerTenant,
    total: config.limits.executionsTotal,
    log,
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      worker.ready,
      new Promise((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS))),
    ]);
  } catch (error) {
    console.error(`The execution worker cannot start: Redis at REDIS_URL is not reachable: ${(error as Error).message}`);
    // Nothing was taken off the queue; closing BullMQ would wait for the unreachable Redis, so it is left to exit.
    await runtime.close().catch(() => undefined);
    await db.close();
    return 1;
  } finally {
    clearTimeout(timer);
  }
  log('execution worker started', { worker: worker.id, queue: `${keys.queuePrefix}:${keys.queueName}`, perTenant: config.limits.executionsPerTenant, total: config.limits.executionsTotal, store: path.basename(new URL(config.databaseUrl!).pathname), loopbackEgress: allowLoopback });
  // Trigger work, as in an API process: webhook deliveries any process stored (PostgreSQL announces them; a sweep
  // finds what was missed) are transformed into events here, expiring subscriptions renewed, poll jobs run.
  const triggerWork = createTriggerWork({ db, runtime, vault, config, background: true, log: (line) => log(line) });
  try {
    log('trigger work started', { worker: worker.id, pollingSubscriptions: await triggerWork.start() });
  } catch (error) {
    log('polling subscriptions could not be scheduled; their existing schedules still run', { worker: worker.id, error: (error as Error).message });
  }
  return new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      log('execution worker stopping: draining the jobs in hand', { worker: worker.id, signal });
      process.once(signal, () => process.exit(130));
      void (async () => {
        let code = 0;
        try {
          // Jobs, polls and transforms in hand finish before the runtime they run on stops; side by side, so that
          // while Redis is unreachable the few seconds each waits for it before giving up do not add up.
          await Promise.all([worker.close(), triggerWork.close()]);
          // Flushes buffered usage records while the store is still open.
          await runtime.close();
        } catch (error) {
          console.error(`Worker shutdown failed: ${(error as Error).message}`);
          code = 1;
        } finally {
          await db.close().catch(() => undefined);
        }
        log('execution worker stopped', { worker: worker.id });
        resolve(code);
      })();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}
