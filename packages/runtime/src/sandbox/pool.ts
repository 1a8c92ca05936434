// The QuickJS sandbox pool: a few worker threads that run guests, so guest code never runs on the caller's
// event loop. Jobs are routed to a worker holding a warm sandbox for the same tenant and bundle bytes. A
// wall-clock watchdog terminates (and replaces) a worker whose job outlives its deadline plus a grace period,
// which covers what the QuickJS interrupt handler cannot stop.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { toErrorData, type ErrorData, type HttpRequest } from '@businessos/connector-sdk';
import { engineBuildId } from './engine-build.ts';
import { createMemoryImageStore, type SandboxImageStore } from './image-store.ts';
import { warmKeyOf, type FromWorker, type ToWorker } from './protocol.ts';
import { createQuarantine, type QuarantineOptions } from './quarantine.ts';
import type { SandboxHost, SandboxJob, SandboxLimits, SandboxPool, SandboxPoolStats, SandboxResult, SandboxStats } from './types.ts';

/** Defaults of {@link SandboxLimits}. */
export const DEFAULT_SANDBOX_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  memoryBytes: 64 * 1024 * 1024,
  deadlineMs: 30_000,
  maxHostCalls: 1000,
  maxLogBytes: 256 * 1024,
  maxResultBytes: 8 * 1024 * 1024,
  maxStackBytes: 512 * 1024,
  maxHostCallBytes: 16 * 1024 * 1024,
});

/** Options of {@link createSandboxPool}. */
export interface SandboxPoolOptions {
  /** Worker threads (default min(2, cores)). */
  workers?: number;
  /** Executions one worker runs at once (default 1: a guest stuck in a loop then delays nobody else). */
  jobsPerWorker?: number;
  /** Default limits; each job may override any field. */
  limits?: Partial<SandboxLimits>;
  /** Extra wall-clock time after a job's deadline before the watchdog terminates its worker (default 1000 ms). */
  watchdogGraceMs?: number;
  /** Warm sandboxes kept per worker (default 64) and how long an idle one lives (default 5 minutes). */
  maxWarmPerWorker?: number;
  warmIdleMs?: number;
  /** Bundle sources each worker keeps so warm jobs need not resend the code (default 32). */
  maxCodeCachePerWorker?: number;
  /** V8 heap cap of each worker's own (host-side) heap in MiB (default 256). Guest memory is separate. */
  workerHeapMb?: number;
  quarantine?: QuarantineOptions;
  /**
   * Where sandbox images are kept (default: in this process, 64 MiB). A worker that loads a bundle for the first
   * time captures an image of it before the call; later cold starts of that bundle, on any worker (and in any
   * process sharing the store), restore it instead of parsing the bundle. `false` turns images off.
   */
  images?: SandboxImageStore | false;
  /** Testing only: `false` disables the engine's interrupt handler so only the watchdog enforces deadlines. */
  engineInterrupts?: boolean;
  /** Clock for quarantine windows (tests). */
  now?: () => number;
}

interface Pending {
  id: number;
  job: SandboxJob;
  host: SandboxHost;
  limits: SandboxLimits;
  warmKey: string;
  resolve(result: SandboxResult): void;
  started: number;
  deadlineAt: number;
  watchdog?: ReturnType<typeof setTimeout>;
  slot?: Slot;
  hostCalls: number;
  logBytes: number;
}

interface Slot {
  worker: Worker;
  active: Map<number, Pending>;
  warm: Set<string>;
  /** sha256 values whose code this worker was sent (it may have evicted some: it then asks again). */
  codes: Set<string>;
  dead: boolean;
  /** The worker has loaded the engine; jobs are only dispatched to ready workers so start-up is not billed to a deadline. */
  ready: boolean;
}

const VIOLATIONS: ReadonlySet<string> = new Set(['SANDBOX_DEADLINE', 'SANDBOX_MEMORY', 'SANDBOX_CRASH', 'SANDBOX_QUOTA']);
const WORKER_URL = new URL('./worker.ts', import.meta.url);

function emptyStats(warm = false): SandboxStats {
  return { durationMs: 0, hostCalls: 0, logBytes: 0, resultBytes: 0, warm };
}

/** Merges per-job limit overrides over the pool defaults, rejecting nonsense values. */
export function resolveLimits(defaults: SandboxLimits, overrides: Partial<SandboxLimits> | undefined): SandboxLimits {
  const out = { ...defaults };
  for (const [k, v] of Object.entries(overrides ?? {})) {
    if (!(k in out)) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw { code: 'INVALID_INPUT', message: `limits.${k} must be a positive number, got ${String(v)}`, path: `/limits/${k}` } satisfies ErrorData;
    }
    out[k as keyof SandboxLimits] = v;
  }
  return out;
}

/**
 * Checks the shape of a job handed to a pool and resolves its limits over the pool's defaults; throws
 * ErrorData (INVALID_INPUT) naming what is wrong. Shared by the worker-thread and process pools.
 */
export function checkJob(job: SandboxJob | undefined, defaults: SandboxLimits): SandboxLimits {
  if (!job || typeof job.tenant !== 'string' || !job.tenant || typeof job.bundle?.code !== 'string' || typeof job.bundle.sha256 !== 'string' || typeof job.bundle.key !== 'string') {
    throw { code: 'INVALID_INPUT', message: 'A sandbox job needs tenant, bundle.key, bundle.code and bundle.sha256' } satisfies ErrorData;
  }
  return resolveLimits(defaults, job.limits);
}

/**
 * Creates the default (QuickJS) sandbox pool.
 * @example
 * const pool = createSandboxPool({ workers: 2 });
 * const result = await pool.run({ tenant: 't1', bundle, call: { kind: 'action', action: 'listOrders', params: {} } }, host);
 */
export function createSandboxPool(options: SandboxPoolOptions = {}): SandboxPool {
  const size = Math.max(1, options.workers ?? Math.min(2, availableParallelism()));
  const perWorker = Math.max(1, options.jobsPerWorker ?? 1);
  const defaults = resolveLimits({ ...DEFAULT_SANDBOX_LIMITS }, options.limits);
  const grace = options.watchdogGraceMs ?? 1000;
  const now = options.now ?? Date.now;
  const quarantine = createQuarantine(options.quarantine, now);
  const slots: Slot[] = [];
  const queue: Pending[] = [];
  let nextId = 1;
  let closed = false;
  let startFailures = 0;
  const counters = { executions: 0, violations: 0, workerRestarts: 0 };
  const images = options.images === false ? undefined : (options.images ?? createMemoryImageStore());
  const build = images ? engineBuildId() : '';

  function spawn(): Slot {
    const worker = new Worker(WORKER_URL, {
      env: {},
      stdout: false,
      stderr: false,
      workerData: { maxWarm: options.maxWarmPerWorker ?? 64, warmIdleMs: options.warmIdleMs ?? 300_000, interrupts: options.engineInterrupts ?? true, maxCodeCache: options.maxCodeCachePerWorker ?? 32, images: images !== undefined },
      resourceLimits: { stackSizeMb: 16, maxOldGenerationSizeMb: options.workerHeapMb ?? 256 },
    });
    const slot: Slot = { worker, active: new Map(), warm: new Set(), codes: new Set(), dead: false, ready: false };
    worker.unref();
    worker.on('message', (msg: FromWorker) => onMessage(slot, msg));
    worker.on('error', (err) => retire(slot, { code: 'SANDBOX_CRASH', message: `The sandbox worker failed (${err.message}); the job was stopped and the worker replaced` }));
    worker.on('exit', () => retire(slot, { code: 'SANDBOX_CRASH', message: 'The sandbox worker exited; the job was stopped and the worker replaced' }));
    return slot;
  }

  /** Ends a worker for good: its jobs fail with `error` (or their own overdue error), a replacement starts. */
  function retire(slot: Slot, error: ErrorData, overdue?: Pending): void {
    if (slot.dead) return;
    slot.dead = true;
    void slot.worker.terminate();
    // The overdue job is the one the watchdog caught; a crashed worker is blamed on its job only when it ran alone.
    // Other jobs that shared the worker fail without counting against their bundles.
    const alone = slot.active.size === 1;
    for (const p of slot.active.values()) {
      complete(p, { ok: false, error: p === overdue ? overdueError() : error, stats: statsOf(p) }, overdue ? p === overdue : alone);
    }
    slot.active.clear();
    const i = slots.indexOf(slot);
    if (i >= 0) slots.splice(i, 1);
    if (closed) return;
    startFailures = slot.ready ? 0 : startFailures + 1;
    if (startFailures >= 3) {
      // Workers die before they are ready: respawning would loop. Fail what waits and stay degraded.
      for (const p of queue.splice(0)) p.resolve({ ok: false, error: { code: 'SANDBOX_CRASH', message: `Sandbox workers cannot start (${error.message}); check the runtime installation` }, stats: emptyStats() });
      if (slots.length > 0) return;
      setTimeout(() => {
        if (closed || slots.length > 0) return;
        counters.workerRestarts += 1;
        slots.push(spawn());
      }, 5000).unref();
      return;
    }
    counters.workerRestarts += 1;
    slots.push(spawn());
    dispatch();
  }

  function overdueError(): ErrorData {
    return { code: 'SANDBOX_DEADLINE', message: 'The connector ran past its deadline and did not stop; its worker was terminated. Look for endless loops or raise limits.deadlineMs' };
  }

  function statsOf(p: Pending, extra?: Partial<SandboxStats>): SandboxStats {
    return { ...emptyStats(), hostCalls: p.hostCalls, logBytes: p.logBytes, ...extra, durationMs: now() - p.started };
  }

  /** `violation`: the host itself detected a sandbox violation of this job (never an error the guest raised). */
  function complete(p: Pending, result: SandboxResult, violation: boolean): void {
    if (p.watchdog) clearTimeout(p.watchdog);
    p.slot?.active.delete(p.id);
    if (p.slot && p.slot.active.size === 0) p.slot.worker.unref();
    p.slot = undefined;
    counters.executions += 1;
    if (!result.ok && violation && VIOLATIONS.has(result.error.code)) {
      counters.violations += 1;
      quarantine.record(p.job.bundle.key, p.job.tenant, result.error);
    }
    p.resolve(result);
  }

  function post(slot: Slot, msg: ToWorker): void {
    if (!slot.dead) slot.worker.postMessage(msg);
  }

  function onMessage(slot: Slot, msg: FromWorker): void {
    if (msg.t === 'ready') {
      slot.ready = true;
      dispatch();
      return;
    }
    const p = slot.active.get(msg.id);
    if (!p) return;
    switch (msg.t) {
      case 'need-code':
        slot.codes.delete(p.job.bundle.sha256);
        send(slot, p, true);
        return;
      case 'log': {
        p.logBytes += msg.message.length + (msg.data?.length ?? 0);
        let data: unknown;
        try {
          data = msg.data === undefined ? undefined : JSON.parse(msg.data);
        } catch {
          data = undefined;
        }
        try {
          p.host.log(msg.level, msg.message, data);
        } catch {
          // A failing log sink must not fail the connector.
        }
        return;
      }
      case 'host':
        p.hostCalls += 1;
        void hostCall(p, msg.op, msg.args).then(
          (json) => post(slot, { t: 'host-result', id: p.id, callId: msg.callId, ok: true, json }),
          (error: unknown) => post(slot, { t: 'host-result', id: p.id, callId: msg.callId, ok: false, json: JSON.stringify(toErrorData(error)) }),
        );
        return;
      case 'done': {
        if (msg.warmKeys) slot.warm = new Set(msg.warmKeys);
        if (msg.image && images) {
          // A store that fails only costs later cold starts their image.
          void Promise.resolve()
            .then(() => images.put(build, p.job.bundle.sha256, msg.image!))
            .catch(() => undefined);
        }
        let result: SandboxResult;
        let violation = false;
        if (msg.ok) {
          let value: unknown;
          try {
            value = JSON.parse(msg.json);
            result = { ok: true, value, stats: statsOf(p, msg.stats) };
          } catch {
            result = { ok: false, error: { code: 'INVALID_OUTPUT', message: 'The connector returned something that is not JSON' }, stats: statsOf(p, msg.stats) };
          }
        } else {
          result = { ok: false, error: msg.error, stats: statsOf(p, msg.stats) };
          violation = msg.violation === true;
        }
        complete(p, result, violation);
        dispatch();
        return;
      }
    }
  }

  async function hostCall(p: Pending, op: 'request' | 'storeGet' | 'storeSet' | 'storeDelete', args: string): Promise<string> {
    // JSON.parse gives fresh host objects: nothing the guest built (getters, proxies, prototypes) reaches here.
    const list = JSON.parse(args) as unknown[];
    if (!Array.isArray(list)) throw { code: 'INVALID_INPUT', message: 'Malformed host call' } satisfies ErrorData;
    const { host } = p;
    let answer: unknown;
    switch (op) {
      case 'request': {
        const req = list[0];
        if (typeof req !== 'object' || req === null || Array.isArray(req)) {
          throw { code: 'INVALID_INPUT', message: 'transport(request) needs a request object { method, url, ... }' } satisfies ErrorData;
        }
        answer = await host.request(req as HttpRequest);
        break;
      }
      case 'storeGet':
        if (!host.storeGet) throw { code: 'NOT_IMPLEMENTED', message: 'This host offers no store to connectors' } satisfies ErrorData;
        answer = await host.storeGet(String(list[0]));
        break;
      case 'storeSet':
        if (!host.storeSet) throw { code: 'NOT_IMPLEMENTED', message: 'This host offers no store to connectors' } satisfies ErrorData;
        await host.storeSet(String(list[0]), list[1]);
        answer = undefined;
        break;
      case 'storeDelete':
        if (!host.storeDelete) throw { code: 'NOT_IMPLEMENTED', message: 'This host offers no store to connectors' } satisfies ErrorData;
        await host.storeDelete(String(list[0]));
        answer = undefined;
        break;
    }
    return answer === undefined ? '' : JSON.stringify(answer);
  }

  function send(slot: Slot, p: Pending, withCode: boolean): void {
    if (withCode && images) {
      // The worker lacks this code, so this is probably a cold start: send the store's image with it, or ask for one.
      void Promise.resolve()
        .then(() => images.get(build, p.job.bundle.sha256))
        .catch(() => undefined)
        .then((image) => {
          if (p.slot === slot) sendRun(slot, p, true, image ? { image } : { wantImage: true });
        });
      return;
    }
    sendRun(slot, p, withCode, {});
  }

  function sendRun(slot: Slot, p: Pending, withCode: boolean, image: { image?: Uint8Array; wantImage?: boolean }): void {
    const { job } = p;
    post(slot, {
      t: 'run',
      id: p.id,
      tenant: job.tenant,
      bundleKey: job.bundle.key,
      sha256: job.bundle.sha256,
      ...(withCode ? { code: job.bundle.code, ...image } : {}),
      call: job.call,
      connection: job.connection,
      limits: p.limits,
      deadlineAt: p.deadlineAt,
    });
    slot.codes.add(job.bundle.sha256);
  }

  function dispatch(): void {
    while (queue.length > 0) {
      const free = slots.filter((s) => s.ready && !s.dead && s.active.size < perWorker);
      if (free.length === 0) return;
      const p = queue.shift()!;
      const slot = free.find((s) => s.warm.has(p.warmKey)) ?? free.sort((a, b) => a.active.size - b.active.size || a.warm.size - b.warm.size)[0]!;
      p.slot = slot;
      p.started = now();
      p.deadlineAt = Date.now() + p.limits.deadlineMs;
      slot.active.set(p.id, p);
      slot.worker.ref();
      p.watchdog = setTimeout(() => retire(slot, { code: 'SANDBOX_CRASH', message: 'Another job on this worker overran its deadline; the worker was replaced. Retry the job.' }, p), p.limits.deadlineMs + grace);
      send(slot, p, !slot.codes.has(p.job.bundle.sha256));
    }
  }

  for (let i = 0; i < size; i += 1) slots.push(spawn());

  return {
    run(job, host) {
      if (closed) return Promise.resolve({ ok: false, error: { code: 'SANDBOX_CRASH', message: 'The sandbox pool is closed' }, stats: emptyStats() });
      let limits: SandboxLimits;
      try {
        limits = checkJob(job, defaults);
      } catch (error) {
        return Promise.resolve({ ok: false, error: toErrorData(error), stats: emptyStats() });
      }
      const blocked = quarantine.check(job.bundle.key, job.tenant);
      if (blocked) return Promise.resolve({ ok: false, error: blocked, stats: emptyStats() });
      return new Promise<SandboxResult>((resolve) => {
        queue.push({
          id: nextId++,
          job,
          host,
          limits,
          warmKey: warmKeyOf(job.tenant, job.bundle.key, job.bundle.sha256, limits),
          resolve,
          started: now(),
          deadlineAt: 0,
          hostCalls: 0,
          logBytes: 0,
        });
        dispatch();
      });
    },
    stats(): SandboxPoolStats {
      return {
        workers: slots.length,
        busyWorkers: slots.filter((s) => s.active.size > 0).length,
        queued: queue.length,
        warmSandboxes: slots.reduce((n, s) => n + s.warm.size, 0),
        executions: counters.executions,
        violations: counters.violations,
        workerRestarts: counters.workerRestarts,
        quarantined: quarantine.list().length,
      };
    },
    quarantined: () => quarantine.list(),
    clearQuarantine(bundleKey, tenant) {
      quarantine.clear(bundleKey, tenant);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const p of queue.splice(0)) p.resolve({ ok: false, error: { code: 'SANDBOX_CRASH', message: 'The sandbox pool was closed before the job ran' }, stats: emptyStats() });
      const all = slots.splice(0);
      for (const s of all) {
        s.dead = true;
        for (const p of s.active.values()) complete(p, { ok: false, error: { code: 'SANDBOX_CRASH', message: 'The sandbox pool was closed while the job ran' }, stats: statsOf(p) }, false);
        s.active.clear();
      }
      await Promise.all(all.map((s) => s.worker.terminate()));
    },
  };
}
