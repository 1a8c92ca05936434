import { ConnectorError } from '@businessos/connector-sdk';

export interface SchedulerOptions {
  /** Executions running at once for one tenant (default 5). */
  perTenant?: number;
  /** Executions running at once in total (default 10). */
  total?: number;
  /** Executions waiting in total (default 200); beyond it callers get QUEUE_FULL at once. */
  maxQueued?: number;
  /** Executions one tenant may have waiting (default 50), so one tenant cannot fill the whole queue. */
  maxQueuedPerTenant?: number;
  /** The `retryAfter` (seconds) a QUEUE_FULL answer carries (default 1). */
  retryAfterSeconds?: number;
}

export interface SchedulerStats {
  running: number;
  queued: number;
  byTenant: Record<string, { running: number; queued: number }>;
}

/** Admits executions under per-tenant and global concurrency limits, serving waiting tenants round-robin. */
export interface Scheduler {
  /** Runs `task` once a slot is free; throws QUEUE_FULL without waiting when the queue is full. */
  run<T>(tenant: string, task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  stats(): SchedulerStats;
}

/** Option `name` of `options`, or `fallback`; a whole number of at least `min` (Infinity allowed for no limit). */
function limit(options: SchedulerOptions, name: 'perTenant' | 'total' | 'maxQueued' | 'maxQueuedPerTenant', fallback: number, min: number): number {
  const value = options[name] ?? fallback;
  if (!(value >= min) || (!Number.isInteger(value) && value !== Infinity)) {
    throw new RangeError(`Scheduler option ${name} must be a whole number of at least ${min} (got ${value}); fix the runtime's limits configuration`);
  }
  return value;
}

interface Waiter {
  start: () => void;
  cancel: (reason: unknown) => void;
}

/**
 * Creates the fair scheduler. Waiting executions sit in one FIFO per tenant; when a slot frees up, tenants
 * are visited in round-robin order starting after the tenant served last, so a tenant with a thousand queued
 * jobs gets one slot in turn like a tenant with one.
 */
export function createScheduler(options: SchedulerOptions = {}): Scheduler {
  // A zero, negative or NaN limit would park every execution forever; refuse it at start instead.
  const perTenant = limit(options, 'perTenant', 5, 1);
  const total = limit(options, 'total', 10, 1);
  const maxQueued = limit(options, 'maxQueued', 200, 0);
  const maxQueuedPerTenant = limit(options, 'maxQueuedPerTenant', 50, 0);
  const retryAfter = options.retryAfterSeconds ?? 1;
  if (!(retryAfter >= 0) || !Number.isFinite(retryAfter)) throw new RangeError(`Scheduler option retryAfterSeconds must be a finite number of seconds, at least 0 (got ${retryAfter})`);
  const running = new Map<string, number>();
  const queues = new Map<string, Waiter[]>();
  /** Tenants with waiters, in round-robin order. */
  let ring: string[] = [];
  let queued = 0;
  let active = 0;

  const runningOf = (tenant: string) => running.get(tenant) ?? 0;

  function acquire(tenant: string): void {
    active++;
    running.set(tenant, runningOf(tenant) + 1);
  }

  function release(tenant: string): void {
    active--;
    const n = runningOf(tenant) - 1;
    if (n <= 0) running.delete(tenant);
    else running.set(tenant, n);
    dispatch();
  }

  function dispatch(): void {
    while (active < total && ring.length > 0) {
      const index = ring.findIndex((t) => runningOf(t) < perTenant);
      if (index < 0) return;
      const tenant = ring[index]!;
      const queue = queues.get(tenant)!;
      const waiter = queue.shift()!;
      queued--;
      // The tenant served moves to the back of the ring; tenants before it keep their place ahead.
      ring = [...ring.slice(0, index), ...ring.slice(index + 1)];
      if (queue.length > 0) ring.push(tenant);
      else queues.delete(tenant);
      acquire(tenant);
      waiter.start();
    }
  }

  const cancelled = (tenant: string) => new ConnectorError('TIMEOUT', `Execution for tenant ${tenant} was cancelled while waiting for a slot`);

  return {
    run<T>(tenant: string, task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
      // An abort listener added to an already aborted signal never fires: such a waiter would stay queued and run.
      if (signal?.aborted) return Promise.reject(cancelled(tenant));
      const execute = (): Promise<T> => {
        let result: Promise<T>;
        try {
          result = task();
        } catch (error) {
          result = Promise.reject(error);
        }
        return result.finally(() => release(tenant));
      };
      if (active < total && runningOf(tenant) < perTenant && !queues.has(tenant)) {
        acquire(tenant);
        return execute();
      }
      const mine = queues.get(tenant)?.length ?? 0;
      if (queued >= maxQueued || mine >= maxQueuedPerTenant) {
        const which = mine >= maxQueuedPerTenant ? `tenant ${tenant} already has ${mine} executions waiting` : `${queued} executions are waiting`;
        return Promise.reject(new ConnectorError('QUEUE_FULL', `The runtime is at capacity (${which}); try again in ${retryAfter} s`, { retryAfter }));
      }
      return new Promise<T>((resolve, reject) => {
        const waiter: Waiter = {
          start: () => {
            signal?.removeEventListener('abort', onAbort);
            execute().then(resolve, reject);
          },
          cancel: reject,
        };
        const onAbort = () => {
          const queue = queues.get(tenant);
          const i = queue?.indexOf(waiter) ?? -1;
          if (!queue || i < 0) return;
          queue.splice(i, 1);
          queued--;
          if (queue.length === 0) {
            queues.delete(tenant);
            ring = ring.filter((t) => t !== tenant);
          }
          waiter.cancel(cancelled(tenant));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        let queue = queues.get(tenant);
        if (!queue) {
          queue = [];
          queues.set(tenant, queue);
          ring.push(tenant);
        }
        queue.push(waiter);
        queued++;
      });
    },
    stats() {
      const byTenant: SchedulerStats['byTenant'] = {};
      for (const [t, n] of running) byTenant[t] = { running: n, queued: 0 };
      for (const [t, q] of queues) byTenant[t] = { running: runningOf(t), queued: q.length };
      return { running: active, queued, byTenant };
    },
  };
}
