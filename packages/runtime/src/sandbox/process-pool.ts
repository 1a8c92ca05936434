// Process tier, for connectors whose manifest says `runtime: "process"` (they need Node APIs). Each
// (tenant, bundle) gets its own forked Node child: empty environment, Node's permission model (read only its
// own temp folder, write only a scratch folder inside it; no child processes, workers, addons, WASI or
// inspector), a V8 heap cap, no network at all (its own network namespace via `unshare -n`), and a SIGKILL
// watchdog. All HTTP goes over IPC to the same SandboxHost as the QuickJS tier.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toErrorData, type ErrorData, type HttpRequest, type LogLevel } from '@businessos/connector-sdk';
import { checkJob, DEFAULT_SANDBOX_LIMITS, resolveLimits } from './pool.ts';
import { PROCESS_RUNNER_SOURCE } from './process-runner.ts';
import { jsonDeeperThan, MAX_JSON_DEPTH, warmKeyOf } from './protocol.ts';
import { createQuarantine, type QuarantineOptions } from './quarantine.ts';
import { guestErrorData } from './guest-errors.ts';
import type { SandboxHost, SandboxJob, SandboxLimits, SandboxPool, SandboxPoolStats, SandboxResult, SandboxStats } from './types.ts';

/** Options of {@link createProcessPool}. */
export interface ProcessPoolOptions {
  /** Children alive at once, busy or idle (default 4). */
  maxProcesses?: number;
  /** Default limits; `memoryBytes` becomes the child's V8 heap cap (--max-old-space-size). */
  limits?: Partial<SandboxLimits>;
  /** How long an idle child is kept for its tenant and bundle (default 5 minutes). */
  idleMs?: number;
  /**
   * Operator opt-in to run children WITHOUT a private network namespace when `unshare -n` is unavailable.
   * Without it such a pool refuses every job: Node's permission model does not block the network.
   */
  allowWithoutNetworkIsolation?: boolean;
  /** Node binary for children (default: the current one). */
  nodePath?: string;
  /** Parent folder of the children's private temp folders (default: the OS temp folder). */
  tmpRoot?: string;
  quarantine?: QuarantineOptions;
  now?: () => number;
}

interface Job {
  job: SandboxJob;
  host: SandboxHost;
  limits: SandboxLimits;
  warmKey: string;
  resolve(result: SandboxResult): void;
  started: number;
  stats: SandboxStats;
  timer?: ReturnType<typeof setTimeout>;
}

interface Child {
  proc: ChildProcess;
  dir: string;
  warmKey: string;
  bundleKey: string;
  ready: Promise<ErrorData | undefined>;
  current: Job | undefined;
  lastUsed: number;
  dead: boolean;
  /** Why we killed it, when we did. */
  killedFor: ErrorData | undefined;
  stderr: string;
  runs: number;
}

const VIOLATIONS: ReadonlySet<string> = new Set(['SANDBOX_DEADLINE', 'SANDBOX_MEMORY', 'SANDBOX_CRASH', 'SANDBOX_QUOTA']);
const STDERR_KEEP = 8192;

let namespaceProbe: boolean | undefined;

/** True when this machine can start a process in its own network namespace (`unshare -n`). */
export function canIsolateNetwork(): boolean {
  if (namespaceProbe === undefined) {
    const probe = spawnSync('unshare', ['-n', '--', 'true'], { stdio: 'ignore', timeout: 5000 });
    namespaceProbe = probe.status === 0;
  }
  return namespaceProbe;
}

function emptyStats(): SandboxStats {
  return { durationMs: 0, hostCalls: 0, logBytes: 0, resultBytes: 0, warm: false };
}

/**
 * Creates the process-tier pool. Same {@link SandboxPool} interface as {@link createSandboxPool}.
 * @example
 * const pool = createProcessPool({ maxProcesses: 4 });
 * await pool.run({ tenant, bundle, call: { kind: 'action', action: 'convert', params } }, host);
 */
export function createProcessPool(options: ProcessPoolOptions = {}): SandboxPool {
  const maxProcesses = Math.max(1, options.maxProcesses ?? 4);
  const defaults = resolveLimits({ ...DEFAULT_SANDBOX_LIMITS }, options.limits);
  const idleMs = options.idleMs ?? 300_000;
  const now = options.now ?? Date.now;
  const nodePath = options.nodePath ?? process.execPath;
  const tmpRoot = options.tmpRoot ?? tmpdir();
  const quarantine = createQuarantine(options.quarantine, now);
  const isolated = canIsolateNetwork();
  const children = new Set<Child>();
  const queue: Job[] = [];
  const counters = { executions: 0, violations: 0, workerRestarts: 0 };
  let closed = false;
  let starting = 0;

  const sweeper = setInterval(() => {
    const cutoff = now() - idleMs;
    for (const c of children) if (!c.current && c.lastUsed < cutoff) kill(c, undefined);
  }, Math.min(idleMs, 60_000));
  sweeper.unref();

  function kill(child: Child, reason: ErrorData | undefined): void {
    if (child.dead) return;
    child.killedFor ??= reason;
    child.proc.kill('SIGKILL');
  }

  function finish(job: Job, result: SandboxResult): void {
    if (job.timer) clearTimeout(job.timer);
    counters.executions += 1;
    if (!result.ok && VIOLATIONS.has(result.error.code)) {
      counters.violations += 1;
      quarantine.record(job.job.bundle.key, result.error);
    }
    result.stats.durationMs = now() - job.started;
    job.resolve(result);
  }

  function exitError(child: Child, code: number | null, signal: NodeJS.Signals | null): ErrorData {
    if (child.killedFor) return child.killedFor;
    if (/heap out of memory|Reached heap limit|Allocation failed/i.test(child.stderr)) {
      return { code: 'SANDBOX_MEMORY', message: `The connector process ran out of heap; reduce what it holds at once or raise limits.memoryBytes` };
    }
    const tail = child.stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 500);
    return { code: 'SANDBOX_CRASH', message: `The connector process exited (${signal ?? `code ${code}`})${tail ? `: ${tail}` : ''}; it was replaced` };
  }

  async function start(job: Job): Promise<Child> {
    const dir = await mkdtemp(join(tmpRoot, 'bos-proc-'));
    await mkdir(join(dir, 'scratch'));
    await writeFile(join(dir, 'bundle.mjs'), job.job.bundle.code, { mode: 0o600 });
    await writeFile(join(dir, 'runner.mjs'), PROCESS_RUNNER_SOURCE, { mode: 0o600 });
    const heapMb = Math.max(16, Math.floor(job.limits.memoryBytes / (1024 * 1024)));
    const nodeArgs = [
      '--permission',
      `--allow-fs-read=${dir}`,
      `--allow-fs-write=${join(dir, 'scratch')}`,
      `--max-old-space-size=${heapMb}`,
      `--stack-size=${Math.max(256, Math.floor(job.limits.maxStackBytes / 1024))}`,
      '--disable-proto=delete',
      join(dir, 'runner.mjs'),
    ];
    const [command, args] = isolated ? ['unshare', ['-n', '--', nodePath, ...nodeArgs]] : [nodePath, nodeArgs];
    const proc = spawn(command, args, { env: {}, cwd: join(dir, 'scratch'), stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
    let settleReady: (error: ErrorData | undefined) => void = () => undefined;
    const child: Child = {
      proc,
      dir,
      warmKey: job.warmKey,
      bundleKey: job.job.bundle.key,
      ready: new Promise((resolve) => {
        settleReady = resolve;
      }),
      current: undefined,
      lastUsed: now(),
      dead: false,
      killedFor: undefined,
      stderr: '',
      runs: 0,
    };
    children.add(child);
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      child.stderr = (child.stderr + chunk).slice(-STDERR_KEEP);
    });
    proc.on('message', (msg: unknown) => onMessage(child, msg, settleReady));
    proc.on('error', () => kill(child, { code: 'SANDBOX_CRASH', message: 'The connector process could not be started; check the runtime installation' }));
    proc.on('exit', (code, signal) => {
      child.dead = true;
      children.delete(child);
      const error = exitError(child, code, signal);
      settleReady(error);
      const job = child.current;
      child.current = undefined;
      if (job) finish(job, { ok: false, error, stats: job.stats });
      void rm(dir, { recursive: true, force: true });
      if (!closed && job) counters.workerRestarts += 1;
      dispatch();
    });
    return child;
  }

  function onMessage(child: Child, raw: unknown, settleReady: (error: ErrorData | undefined) => void): void {
    // The child is untrusted: check every message's shape before acting on it.
    if (typeof raw !== 'object' || raw === null) return kill(child, { code: 'SANDBOX_CRASH', message: 'The connector process sent a malformed message and was stopped' });
    const msg = raw as Record<string, unknown>;
    if (msg.t === 'ready') return settleReady(undefined);
    if (msg.t === 'load-error') {
      settleReady({ code: 'INVALID_OUTPUT', message: `The bundle failed to load: ${String(msg.message).slice(0, 500)}` });
      return kill(child, undefined);
    }
    const job = child.current;
    if (!job) return undefined;
    const { limits, stats, host } = job;
    switch (msg.t) {
      case 'log': {
        const message = typeof msg.message === 'string' ? msg.message : '';
        const data = typeof msg.data === 'string' ? msg.data : undefined;
        stats.logBytes += 32 + Buffer.byteLength(message) + (data ? Buffer.byteLength(data) : 0);
        if (stats.logBytes > limits.maxLogBytes) {
          return kill(child, { code: 'SANDBOX_QUOTA', message: `The connector logged more than ${limits.maxLogBytes} bytes in one execution; log less or raise limits.maxLogBytes` });
        }
        const level = (['debug', 'info', 'warn', 'error'].includes(String(msg.level)) ? msg.level : 'info') as LogLevel;
        let parsed: unknown;
        try {
          parsed = data === undefined ? undefined : jsonDeeperThan(data, MAX_JSON_DEPTH) ? `(log data nested more than ${MAX_JSON_DEPTH} levels deep was dropped)` : JSON.parse(data);
        } catch {
          parsed = undefined;
        }
        try {
          host.log(level, message, parsed);
        } catch {
          // A failing log sink must not fail the connector.
        }
        return undefined;
      }
      case 'host': {
        stats.hostCalls += 1;
        if (stats.hostCalls > limits.maxHostCalls) {
          return kill(child, { code: 'SANDBOX_QUOTA', message: `The connector made more than ${limits.maxHostCalls} host calls in one execution; batch requests or raise limits.maxHostCalls` });
        }
        const callId = msg.callId;
        const reply = (ok: boolean, json: string) => {
          if (!child.dead && child.current === job && child.proc.connected) child.proc.send({ t: 'host-result', callId, ok, json });
        };
        hostCall(host, msg.op, msg.args).then(
          (json) => reply(true, json),
          (error: unknown) => {
            const data = toErrorData(error);
            const wire: ErrorData = { code: data.code, message: data.message };
            if (data.retryAfter !== undefined) wire.retryAfter = data.retryAfter;
            if (data.upstreamStatus !== undefined) wire.upstreamStatus = data.upstreamStatus;
            reply(false, JSON.stringify(wire));
          },
        );
        return undefined;
      }
      case 'done': {
        child.current = undefined;
        child.lastUsed = now();
        let result: SandboxResult;
        if (msg.ok === true && typeof msg.json === 'string') {
          stats.resultBytes = Buffer.byteLength(msg.json);
          if (stats.resultBytes > limits.maxResultBytes) {
            result = { ok: false, error: { code: 'SANDBOX_QUOTA', message: `The connector's result is ${stats.resultBytes} bytes, over the ${limits.maxResultBytes} byte limit; return less data or raise limits.maxResultBytes` }, stats };
          } else if (jsonDeeperThan(msg.json, MAX_JSON_DEPTH)) {
            // The host's own JSON.stringify would overflow its stack on it later, wherever the value goes.
            result = { ok: false, error: { code: 'INVALID_OUTPUT', message: `The connector's result is nested more than ${MAX_JSON_DEPTH} levels deep; return flatter data` }, stats };
          } else {
            try {
              result = { ok: true, value: JSON.parse(msg.json), stats };
            } catch {
              result = { ok: false, error: { code: 'INVALID_OUTPUT', message: 'The connector returned something that is not JSON' }, stats };
            }
          }
        } else {
          let text: string;
          try {
            text = JSON.stringify(msg.error ?? {});
          } catch {
            text = '{}';
          }
          result = { ok: false, error: guestErrorData(text, limits), stats };
        }
        finish(job, result);
        dispatch();
        return undefined;
      }
      default:
        return kill(child, { code: 'SANDBOX_CRASH', message: 'The connector process sent an unknown message and was stopped' });
    }
  }

  async function hostCall(host: SandboxHost, op: unknown, args: unknown): Promise<string> {
    if (typeof args !== 'string') throw { code: 'INVALID_INPUT', message: 'Malformed host call' } satisfies ErrorData;
    if (jsonDeeperThan(args, MAX_JSON_DEPTH)) throw { code: 'INVALID_INPUT', message: `The host call's arguments are nested more than ${MAX_JSON_DEPTH} levels deep; send flatter data` } satisfies ErrorData;
    const list = JSON.parse(args) as unknown[];
    if (!Array.isArray(list)) throw { code: 'INVALID_INPUT', message: 'Malformed host call' } satisfies ErrorData;
    let answer: unknown;
    switch (op) {
      case 'request': {
        const req = list[0];
        if (typeof req !== 'object' || req === null || Array.isArray(req)) throw { code: 'INVALID_INPUT', message: 'transport(request) needs a request object' } satisfies ErrorData;
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
        break;
      case 'storeDelete':
        if (!host.storeDelete) throw { code: 'NOT_IMPLEMENTED', message: 'This host offers no store to connectors' } satisfies ErrorData;
        await host.storeDelete(String(list[0]));
        break;
      default:
        throw { code: 'INVALID_INPUT', message: `Unknown host call ${String(op)}` } satisfies ErrorData;
    }
    return answer === undefined ? '' : JSON.stringify(answer);
  }

  async function execute(job: Job, child: Child): Promise<void> {
    child.current = job;
    child.lastUsed = now();
    job.stats.warm = child.runs > 0;
    job.timer = setTimeout(() => {
      kill(child, { code: 'SANDBOX_DEADLINE', message: 'The connector process ran past its deadline and was killed; look for endless loops or slow upstream calls, or raise limits.deadlineMs' });
    }, Math.max(0, job.limits.deadlineMs - (now() - job.started)));
    const loadError = await child.ready;
    if (child.current !== job) return;
    if (loadError) {
      child.current = undefined;
      finish(job, { ok: false, error: loadError, stats: job.stats });
      kill(child, undefined);
      return;
    }
    child.runs += 1;
    child.proc.send({ t: 'run', id: 1, call: job.job.call, connection: job.job.connection ?? {} });
  }

  function dispatch(): void {
    if (closed) return;
    for (let i = 0; i < queue.length; ) {
      const job = queue[i]!;
      const idle = [...children].find((c) => !c.dead && !c.current && c.warmKey === job.warmKey);
      if (idle) {
        queue.splice(i, 1);
        void execute(job, idle);
        continue;
      }
      if (children.size + starting >= maxProcesses) {
        const victim = [...children].filter((c) => !c.current && !c.dead).sort((a, b) => a.lastUsed - b.lastUsed)[0];
        if (!victim) return;
        kill(victim, undefined);
        children.delete(victim);
      }
      queue.splice(i, 1);
      // Count the start at once so concurrent dispatches do not overshoot maxProcesses.
      starting += 1;
      start(job).then(
        (child) => {
          starting -= 1;
          void execute(job, child);
        },
        (error: unknown) => {
          starting -= 1;
          finish(job, { ok: false, error: { code: 'SANDBOX_CRASH', message: `The connector process could not be prepared (${String((error as Error)?.message ?? error)})` }, stats: job.stats });
          dispatch();
        },
      );
    }
  }

  return {
    run(job, host) {
      if (closed) return Promise.resolve({ ok: false, error: { code: 'SANDBOX_CRASH', message: 'The process pool is closed' }, stats: emptyStats() });
      if (!isolated && !options.allowWithoutNetworkIsolation) {
        return Promise.resolve({
          ok: false,
          error: { code: 'FORBIDDEN', message: 'Process-tier connectors are refused: this machine cannot give the child its own network namespace (unshare -n failed). Run the runtime where unshare is permitted, or pass allowWithoutNetworkIsolation for trusted connectors only' },
          stats: emptyStats(),
        });
      }
      let limits: SandboxLimits;
      try {
        limits = checkJob(job, defaults);
        if (createHash('sha256').update(job.bundle.code).digest('hex') !== job.bundle.sha256.toLowerCase()) {
          throw { code: 'INVALID_INPUT', message: `Bundle ${job.bundle.key} does not match its sha256 (${job.bundle.sha256}); reload it from the artifact store` } satisfies ErrorData;
        }
      } catch (error) {
        return Promise.resolve({ ok: false, error: toErrorData(error), stats: emptyStats() });
      }
      const blocked = quarantine.check(job.bundle.key);
      if (blocked) return Promise.resolve({ ok: false, error: blocked, stats: emptyStats() });
      return new Promise<SandboxResult>((resolve) => {
        queue.push({ job, host, limits, warmKey: warmKeyOf(job.tenant, job.bundle.key, job.bundle.sha256, limits), resolve, started: now(), stats: emptyStats() });
        dispatch();
      });
    },
    stats(): SandboxPoolStats {
      const real = [...children];
      return {
        workers: real.length,
        busyWorkers: real.filter((c) => c.current).length,
        queued: queue.length,
        warmSandboxes: real.filter((c) => !c.current && c.runs > 0).length,
        executions: counters.executions,
        violations: counters.violations,
        workerRestarts: counters.workerRestarts,
        quarantined: quarantine.list().length,
      };
    },
    quarantined: () => quarantine.list(),
    clearQuarantine(bundleKey) {
      quarantine.clear(bundleKey);
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      for (const job of queue.splice(0)) finish(job, { ok: false, error: { code: 'SANDBOX_CRASH', message: 'The process pool was closed before the job ran' }, stats: job.stats });
      const exits: Promise<unknown>[] = [];
      for (const c of children) {
        if (!c.dead) exits.push(new Promise((r) => c.proc.once('exit', r)));
        kill(c, { code: 'SANDBOX_CRASH', message: 'The process pool was closed while the job ran' });
      }
      await Promise.all(exits);
    },
  };
}
