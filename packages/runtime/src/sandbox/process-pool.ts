// Process tier, for connectors whose manifest says `runtime: "process"` (they need Node APIs). Each
// (tenant, bundle) gets its own Node child: empty environment, Node's permission model (read only its own
// temp folder, write only a scratch folder inside it; no child processes, workers, addons, WASI or
// inspector), a V8 heap cap, and a SIGKILL watchdog, inside a jail (see JAIL_SCRIPT): its own network, mount
// and PID namespaces, a root holding only system libraries, node and its folder, and an unprivileged user.
// All HTTP goes as newline-delimited JSON over a pipe (fd 3) to the same SandboxHost as the QuickJS tier.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { toErrorData, type ErrorData, type HttpRequest, type LogLevel } from '@businessos/connector-sdk';
import { checkJob, DEFAULT_SANDBOX_LIMITS, resolveLimits } from './pool.ts';
import { PROCESS_RUNNER_SOURCE } from './process-runner.ts';
import { hostCallBytesError, jsonDeeperThan, MAX_JSON_DEPTH, warmKeyOf } from './protocol.ts';
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
   * Operator opt-in to run children WITHOUT the jail (network, mount and PID namespaces, unprivileged user) when
   * this machine cannot build it. Without it such a pool refuses every job: Node's permission model blocks
   * neither the network, nor Unix sockets on the filesystem, nor signals to the host.
   */
  allowWithoutNetworkIsolation?: boolean;
  /**
   * `false`: do not build the jail even where this machine could, as on one that cannot (jobs are then refused
   * unless `allowWithoutNetworkIsolation`). For tests of that path, and for operators who isolate the whole runtime
   * by other means. Default: the jail wherever it can be built.
   */
  jail?: false;
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
  /** Execution id sent to the child; messages carrying another one belong to an earlier execution. */
  id: number;
  /** Bytes of host-call arguments waiting for an answer (see limits.maxHostCallBytes). */
  pendingArgBytes: number;
}

interface Child {
  proc: ChildProcess;
  /** Newline-delimited JSON both ways (the child's fd 3). */
  channel: Readable & Writable;
  dir: string;
  warmKey: string;
  bundleKey: string;
  ready: Promise<ErrorData | undefined>;
  current: Job | undefined;
  lastUsed: number;
  dead: boolean;
  /** Set once we killed it: what it still sends is ignored. */
  stopping: boolean;
  /** It said `ready`; a second `ready` or `load-error` is noise. */
  loaded: boolean;
  /** Why we killed it, when we did. */
  killedFor: ErrorData | undefined;
  /** We killed it for a violation the host itself detected (deadline, quota, malformed or oversized messages). */
  killedForViolation: boolean;
  stderr: string;
  runs: number;
  /** Messages for no execution or a finished one; a few are late work of a sloppy connector, many are a flood. */
  stale: number;
}

const VIOLATIONS: ReadonlySet<string> = new Set(['SANDBOX_DEADLINE', 'SANDBOX_MEMORY', 'SANDBOX_CRASH', 'SANDBOX_QUOTA']);
const HOST_OPS: ReadonlySet<string> = new Set(['request', 'storeGet', 'storeSet', 'storeDelete']);
const STDERR_KEEP = 8192;
/** Largest message from a child: a result up to limits.maxResultBytes, or a host call whose request body goes up to this. */
const MIN_FRAME_BYTES = 16 * 1024 * 1024;
const FRAME_SLACK_BYTES = 64 * 1024;
const MAX_STALE_MESSAGES = 100;
/** Replies the child has not read yet (it can stop reading while its host calls go on: a busy loop is enough). */
const MAX_UNREAD_BYTES = 64 * 1024 * 1024;
const NOBODY = '65534';

/**
 * Builds the child's jail; /bin/sh runs it as root inside fresh network, mount (private) and PID namespaces, with
 * `$1` the jail's mount point, `$2` the child's folder (holding `scratch`), `$3` the node binary, then node's
 * arguments. A network namespace alone leaves every Unix socket on the filesystem reachable (PostgreSQL's,
 * Docker's) and lets a same-user child signal the host, so: the root is a tmpfs with read-only binds of the system
 * libraries and node's folder, a /proc of the new PID namespace (which holds the child alone) and the child's
 * folder; node runs as nobody with no capabilities and no new privileges, and dies with the process above it.
 */
const JAIL_SCRIPT = String.raw`set -eu
# sh exports PWD; node's environment stays empty.
unset PWD OLDPWD
jail=$1; box=$2; node=$3; shift 3
bindro() { mkdir -p "$jail$1"; mount --bind -o ro,nosuid,nodev "$1" "$jail$1"; }
mount -t tmpfs -o mode=0755,size=1m,nosuid,nodev bos-jail "$jail"
for p in /usr /lib /lib32 /lib64 /libx32; do
  if [ -L "$p" ]; then ln -s "$(readlink "$p")" "$jail$p"; elif [ -d "$p" ]; then bindro "$p"; fi
done
bindro "$(dirname "$node")"
mkdir -p "$jail/etc" "$jail/proc" "$jail$box"
for f in /etc/ld.so.cache /etc/localtime; do
  if [ -f "$f" ]; then touch "$jail$f"; mount --bind -o ro "$f" "$jail$f"; fi
done
mount -t proc -o nosuid,nodev,noexec proc "$jail/proc"
mount --bind "$box" "$jail$box"
chown ${NOBODY}:${NOBODY} "$box/scratch"
exec unshare --root="$jail" --wd="$box/scratch" -- setpriv --reuid=${NOBODY} --regid=${NOBODY} --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs --pdeathsig=KILL -- "$node" "$@"
`;

/** Command and arguments that run `node` with `nodeArgs` in the jail; `dir` holds `root` (empty) and `box/scratch`. */
function jailCommand(dir: string, node: string, nodeArgs: string[]): [string, string[]] {
  // setpriv first: the jail dies with the process that started it, whatever the child does.
  const unshare = ['unshare', '--net', '--mount', '--propagation=private', '--pid', '--fork', '--kill-child', '--'];
  return ['setpriv', ['--pdeathsig=KILL', '--', ...unshare, '/bin/sh', '-c', JAIL_SCRIPT, 'bos-jail', join(dir, 'root'), join(dir, 'box'), node, ...nodeArgs]];
}

function realNode(nodePath: string): string {
  try {
    return realpathSync(nodePath);
  } catch {
    return nodePath;
  }
}

const jailProbes = new Map<string, boolean>();

/**
 * True when this machine can run `nodePath` in the jail: its own network, mount and PID namespaces, a root of
 * system libraries only, as nobody (needs root, util-linux `unshare` and `setpriv`, and mounts allowed).
 */
export function canIsolateNetwork(nodePath: string = process.execPath): boolean {
  const node = realNode(nodePath);
  let ok = jailProbes.get(node);
  if (ok === undefined) {
    let dir: string | undefined;
    try {
      dir = mkdtempSync(join(tmpdir(), 'bos-proc-probe-'));
      mkdirSync(join(dir, 'root'));
      mkdirSync(join(dir, 'box', 'scratch'), { recursive: true });
      const [command, args] = jailCommand(dir, node, ['-e', '0']);
      ok = spawnSync(command, args, { stdio: 'ignore', env: {}, timeout: 10_000 }).status === 0;
    } catch {
      ok = false;
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
    jailProbes.set(node, ok);
  }
  return ok;
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
  const nodePath = realNode(options.nodePath ?? process.execPath);
  const tmpRoot = options.tmpRoot ?? tmpdir();
  const quarantine = createQuarantine(options.quarantine, now);
  const isolated = options.jail === false ? false : canIsolateNetwork(nodePath);
  const children = new Set<Child>();
  const queue: Job[] = [];
  const counters = { executions: 0, violations: 0, workerRestarts: 0 };
  let nextJobId = 1;
  let closed = false;
  let starting = 0;

  const sweeper = setInterval(() => {
    const cutoff = now() - idleMs;
    for (const c of children) if (!c.current && c.lastUsed < cutoff) kill(c, undefined);
  }, Math.min(idleMs, 60_000));
  sweeper.unref();

  /**
   * Kills the child (idle, evicted, broken channel, failed load, pool closing). `reason`: what its current job, if
   * any, fails with; never counted as a violation.
   */
  function kill(child: Child, reason: ErrorData | undefined): void {
    if (child.dead) return;
    child.killedFor ??= reason;
    child.stopping = true;
    // The whole process group (its own, see start): the jail's wrapper and node inside it.
    try {
      if (child.proc.pid === undefined) throw new Error('not started');
      process.kill(-child.proc.pid, 'SIGKILL');
    } catch {
      child.proc.kill('SIGKILL');
    }
  }

  function send(child: Child, message: unknown): void {
    if (child.dead || child.stopping || !child.channel.writable) return;
    const line = `${JSON.stringify(message)}\n`;
    if (child.channel.writableLength + line.length > MAX_UNREAD_BYTES) {
      return stopForViolation(child, { code: 'SANDBOX_QUOTA', message: `The connector process left more than ${MAX_UNREAD_BYTES} bytes of host replies unread and was stopped; do not block the event loop while requests are in flight` });
    }
    child.channel.write(line);
  }

  /** Kills the child for a violation the host detected itself; its current job fails with `error`, which counts. */
  function stopForViolation(child: Child, error: ErrorData): void {
    if (child.dead || child.killedFor) return;
    child.killedFor = error;
    child.killedForViolation = true;
    kill(child, undefined);
  }

  function frameLimit(child: Child): number {
    // Between executions nothing large is expected (late work is dropped anyway).
    if (!child.current) return FRAME_SLACK_BYTES;
    return Math.max(MIN_FRAME_BYTES, child.current.limits.maxResultBytes) + FRAME_SLACK_BYTES;
  }

  /**
   * Splits the child's bytes into lines, never holding more than one message's limit: the child can write anything
   * on its fd 3 (Node's own IPC would buffer an endless line and throw on a malformed one in the host's event loop).
   */
  function readChannel(child: Child, settleReady: (error: ErrorData | undefined) => void): void {
    let parts: Buffer[] = [];
    let size = 0;
    const tooBig = () => {
      parts = [];
      size = 0;
      stopForViolation(child, { code: 'SANDBOX_QUOTA', message: `The connector process sent a message of more than ${frameLimit(child)} bytes and was stopped; return less data or send smaller request bodies` });
    };
    child.channel.on('data', (chunk: Buffer) => {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
        if (child.stopping) return;
        const piece = chunk.subarray(start, nl);
        start = nl + 1;
        const line = size === 0 ? piece : Buffer.concat([...parts, piece]);
        parts = [];
        size = 0;
        if (line.length > frameLimit(child)) return tooBig();
        let msg: unknown;
        try {
          msg = JSON.parse(line.toString('utf8'));
        } catch {
          return stopForViolation(child, { code: 'SANDBOX_CRASH', message: 'The connector process sent a malformed message and was stopped' });
        }
        onMessage(child, msg, settleReady);
      }
      if (child.stopping || start === chunk.length) return;
      parts.push(chunk.subarray(start));
      size += chunk.length - start;
      if (size > frameLimit(child)) tooBig();
    });
    // A write to a child that just died fails; its exit settles the job.
    child.channel.on('error', () => kill(child, undefined));
  }

  /**
   * `violation`: the host itself detected a sandbox violation of this job (it killed the child for one, or the child
   * died). Never an error the child reported, whatever its code: the child writes its own messages and can claim
   * any fault, and counting claims would let it feed the quarantine.
   */
  function finish(job: Job, result: SandboxResult, violation: boolean): void {
    if (job.timer) clearTimeout(job.timer);
    counters.executions += 1;
    if (!result.ok && violation && VIOLATIONS.has(result.error.code)) {
      counters.violations += 1;
      quarantine.record(job.job.bundle.key, job.job.tenant, result.error);
    }
    result.stats.durationMs = now() - job.started;
    job.resolve(result);
  }

  /**
   * Why the child's current job failed, and whether that counts as a violation: the reason we killed it for, or
   * its own death (a heap-cap exit or any other crash or exit), which the host saw happen whatever the child says.
   */
  function exitError(child: Child, code: number | null, signal: NodeJS.Signals | null): { error: ErrorData; violation: boolean } {
    if (child.killedFor) return { error: child.killedFor, violation: child.killedForViolation };
    // The child writes its stderr, so this only names the exit; the exit itself is what counts.
    if (/heap out of memory|Reached heap limit|Allocation failed/i.test(child.stderr)) {
      return { error: { code: 'SANDBOX_MEMORY', message: `The connector process ran out of heap; reduce what it holds at once or raise limits.memoryBytes` }, violation: true };
    }
    const tail = child.stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 500);
    return { error: { code: 'SANDBOX_CRASH', message: `The connector process exited (${signal ?? `code ${code}`})${tail ? `: ${tail}` : ''}; it was replaced` }, violation: true };
  }

  async function start(job: Job): Promise<Child> {
    // dir (private to the host) holds the jail's mount point and box, the only folder the child sees. The box and
    // its files stay root's and read-only to the child; the jail hands scratch to the child's user.
    const dir = await mkdtemp(join(tmpRoot, 'bos-proc-'));
    const box = join(dir, 'box');
    await mkdir(join(dir, 'root'));
    await mkdir(join(box, 'scratch'), { recursive: true, mode: 0o755 });
    await writeFile(join(box, 'bundle.mjs'), job.job.bundle.code, { mode: 0o644 });
    await writeFile(join(box, 'runner.mjs'), PROCESS_RUNNER_SOURCE, { mode: 0o644 });
    const heapMb = Math.max(16, Math.floor(job.limits.memoryBytes / (1024 * 1024)));
    const nodeArgs = [
      '--permission',
      `--allow-fs-read=${box}`,
      `--allow-fs-write=${join(box, 'scratch')}`,
      `--max-old-space-size=${heapMb}`,
      `--stack-size=${Math.max(256, Math.floor(job.limits.maxStackBytes / 1024))}`,
      '--disable-proto=delete',
      join(box, 'runner.mjs'),
    ];
    const [command, args] = isolated ? jailCommand(dir, nodePath, nodeArgs) : [nodePath, nodeArgs];
    // Its own process group: the watchdog kills the group, and a kill(0) from inside never reaches the host.
    const proc = spawn(command, args, { env: {}, cwd: join(box, 'scratch'), stdio: ['ignore', 'ignore', 'pipe', 'pipe'], detached: true });
    let settleReady: (error: ErrorData | undefined) => void = () => undefined;
    const channel = proc.stdio[3] as Readable & Writable;
    const child: Child = {
      proc,
      channel,
      dir,
      warmKey: job.warmKey,
      bundleKey: job.job.bundle.key,
      ready: new Promise((resolve) => {
        settleReady = resolve;
      }),
      current: undefined,
      lastUsed: now(),
      dead: false,
      stopping: false,
      loaded: false,
      killedFor: undefined,
      killedForViolation: false,
      stderr: '',
      runs: 0,
      stale: 0,
    };
    children.add(child);
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (chunk: string) => {
      child.stderr = (child.stderr + chunk).slice(-STDERR_KEEP);
    });
    readChannel(child, settleReady);
    proc.on('error', () => kill(child, { code: 'SANDBOX_CRASH', message: 'The connector process could not be started; check the runtime installation' }));
    proc.on('exit', (code, signal) => {
      child.dead = true;
      children.delete(child);
      const { error, violation } = exitError(child, code, signal);
      settleReady(error);
      const job = child.current;
      child.current = undefined;
      if (job) finish(job, { ok: false, error, stats: job.stats }, violation && !closed);
      void rm(dir, { recursive: true, force: true });
      if (!closed && job) counters.workerRestarts += 1;
      dispatch();
    });
    return child;
  }

  function onMessage(child: Child, raw: unknown, settleReady: (error: ErrorData | undefined) => void): void {
    // The child is untrusted: check every message's shape before acting on it.
    if (typeof raw !== 'object' || raw === null) return stopForViolation(child, { code: 'SANDBOX_CRASH', message: 'The connector process sent a malformed message and was stopped' });
    const msg = raw as Record<string, unknown>;
    if (!child.loaded && msg.t === 'ready') {
      child.loaded = true;
      return settleReady(undefined);
    }
    if (!child.loaded && msg.t === 'load-error') {
      const error: ErrorData = { code: 'INVALID_OUTPUT', message: `The bundle failed to load: ${String(msg.message).slice(0, 500)}` };
      settleReady(error);
      return kill(child, error);
    }
    const job = child.current;
    if (!job || msg.id !== job.id || msg.t === 'ready' || msg.t === 'load-error') {
      // Late work of an execution that already finished must not act for (or bill, or log to) the next one.
      child.stale += 1;
      if (child.stale > MAX_STALE_MESSAGES) {
        stopForViolation(child, { code: 'SANDBOX_CRASH', message: `The connector process sent more than ${MAX_STALE_MESSAGES} messages for executions that had already finished and was stopped` });
      }
      return undefined;
    }
    const { limits, stats, host } = job;
    switch (msg.t) {
      case 'log': {
        const message = typeof msg.message === 'string' ? msg.message : '';
        const data = typeof msg.data === 'string' ? msg.data : undefined;
        stats.logBytes += 32 + Buffer.byteLength(message) + (data ? Buffer.byteLength(data) : 0);
        if (stats.logBytes > limits.maxLogBytes) {
          return stopForViolation(child, { code: 'SANDBOX_QUOTA', message: `The connector logged more than ${limits.maxLogBytes} bytes in one execution; log less or raise limits.maxLogBytes` });
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
          return stopForViolation(child, { code: 'SANDBOX_QUOTA', message: `The connector made more than ${limits.maxHostCalls} host calls in one execution; batch requests or raise limits.maxHostCalls` });
        }
        const callId = msg.callId;
        const reply = (ok: boolean, json: string) => {
          if (child.current === job) send(child, { t: 'host-result', callId, ok, json });
        };
        // The host holds a call's arguments (parsed, often copied) until it answers: bounded per execution, as in
        // the QuickJS tier, or parallel calls would pile up far more than the child's own heap cap.
        const argBytes = typeof msg.args === 'string' ? Buffer.byteLength(msg.args) : 0;
        if (job.pendingArgBytes + argBytes > limits.maxHostCallBytes) {
          const op = typeof msg.op === 'string' && HOST_OPS.has(msg.op) ? msg.op : 'host';
          reply(false, JSON.stringify(hostCallBytesError(op, argBytes, job.pendingArgBytes, limits.maxHostCallBytes)));
          return undefined;
        }
        job.pendingArgBytes += argBytes;
        hostCall(host, msg.op, msg.args)
          .finally(() => {
            job.pendingArgBytes -= argBytes;
          })
          .then(
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
        // Only a result the host measured over its limit is a violation; an error the child reports never is.
        let violation = false;
        if (msg.ok === true && typeof msg.json === 'string') {
          stats.resultBytes = Buffer.byteLength(msg.json);
          if (stats.resultBytes > limits.maxResultBytes) {
            result = { ok: false, error: { code: 'SANDBOX_QUOTA', message: `The connector's result is ${stats.resultBytes} bytes, over the ${limits.maxResultBytes} byte limit; return less data or raise limits.maxResultBytes` }, stats };
            violation = true;
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
        finish(job, result, violation);
        dispatch();
        return undefined;
      }
      default:
        return stopForViolation(child, { code: 'SANDBOX_CRASH', message: 'The connector process sent an unknown message and was stopped' });
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
    child.stale = 0;
    job.stats.warm = child.runs > 0;
    job.timer = setTimeout(() => {
      stopForViolation(child, { code: 'SANDBOX_DEADLINE', message: 'The connector process ran past its deadline and was killed; look for endless loops or slow upstream calls, or raise limits.deadlineMs' });
    }, Math.max(0, job.limits.deadlineMs - (now() - job.started)));
    const loadError = await child.ready;
    if (child.current !== job) return;
    if (loadError) {
      child.current = undefined;
      finish(job, { ok: false, error: loadError, stats: job.stats }, false);
      kill(child, undefined);
      return;
    }
    child.runs += 1;
    send(child, { t: 'run', id: job.id, call: job.job.call, connection: job.job.connection ?? {} });
  }

  function dispatch(): void {
    if (closed) return;
    for (let i = 0; i < queue.length; ) {
      const job = queue[i]!;
      // A child being stopped (for a violation, say) is no longer handed jobs: its exit would fail them.
      const idle = [...children].find((c) => !c.dead && !c.stopping && !c.current && c.warmKey === job.warmKey);
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
          // The host's own failure (temp folder, files): not the connector's.
          finish(job, { ok: false, error: { code: 'SANDBOX_CRASH', message: `The connector process could not be prepared (${String((error as Error)?.message ?? error)})` }, stats: job.stats }, false);
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
          error: { code: 'FORBIDDEN', message: 'Process-tier connectors are refused: this machine cannot jail the child (own network, mount and PID namespaces as nobody; needs root, util-linux unshare and setpriv, and mounts). Run the runtime where that is permitted, or pass allowWithoutNetworkIsolation for trusted connectors only' },
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
      const blocked = quarantine.check(job.bundle.key, job.tenant);
      if (blocked) return Promise.resolve({ ok: false, error: blocked, stats: emptyStats() });
      return new Promise<SandboxResult>((resolve) => {
        queue.push({ job, host, limits, warmKey: warmKeyOf(job.tenant, job.bundle.key, job.bundle.sha256, limits), resolve, started: now(), stats: emptyStats(), id: nextJobId++, pendingArgBytes: 0 });
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
    clearQuarantine(bundleKey, tenant) {
      quarantine.clear(bundleKey, tenant);
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      for (const job of queue.splice(0)) finish(job, { ok: false, error: { code: 'SANDBOX_CRASH', message: 'The process pool was closed before the job ran' }, stats: job.stats }, false);
      const exits: Promise<unknown>[] = [];
      for (const c of children) {
        if (!c.dead) exits.push(new Promise((r) => c.proc.once('exit', r)));
        kill(c, { code: 'SANDBOX_CRASH', message: 'The process pool was closed while the job ran' });
      }
      await Promise.all(exits);
    },
  };
}
