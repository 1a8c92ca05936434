// Entry of a sandbox worker thread. Runs guests through the engine, keeps warm sandboxes per
// (tenant, bundle sha256, limits), counts quotas, and relays host calls to the pool as JSON text.
import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import type { ErrorData, LogLevel } from '@businessos/connector-sdk';
import { hostCallBytesError, jsonDeeperThan, MAX_JSON_DEPTH, warmKeyOf, type DoneStats, type FromWorker, type RunMessage, type ToWorker } from './protocol.ts';
import { isHostViolation } from './guest-errors.ts';
import { createQuickJSEngine } from './quickjs-engine.ts';
import type { EngineHostBridge, EngineSandbox } from './types.ts';

const config = (workerData ?? {}) as { maxWarm?: number; warmIdleMs?: number; interrupts?: boolean; maxCodeCache?: number; images?: boolean };
const MAX_CODE_CACHE = config.maxCodeCache ?? 32;
/** Bytes of sandbox images kept beside the cached code; the oldest entries lose their image first (the pool's store still has it). */
const MAX_IMAGE_BYTES = 32 * 1024 * 1024;
const MAX_WARM = config.maxWarm ?? 64;
const WARM_IDLE_MS = config.warmIdleMs ?? 300_000;
/** Every log line costs at least this much of the log quota, so floods of empty lines are bounded too. */
const LOG_LINE_OVERHEAD = 32;

const port = parentPort;
if (!port) throw new Error('sandbox worker must run in a worker thread');

const engine = createQuickJSEngine({ interrupts: config.interrupts ?? true });
/** Bundle sources by sha256, each with the image of its first load when one was taken or sent. */
const codeCache = new Map<string, { code: string; image?: Uint8Array | undefined }>();
const warm = new Map<string, { sandbox: EngineSandbox; bundleKey: string; lastUsed: number }[]>();
const pendingHost = new Map<number, Map<number, { resolve(json: string): void; reject(error: ErrorData): void }>>();
let nextCallId = 1;

function send(message: FromWorker): void {
  port!.postMessage(message);
}

/** The warm keys the pool was last told of: a done message carries the list only when it changed. */
let sentWarm = new Set<string>();

function warmKeys(): { warmKeys?: string[] } {
  if (warm.size === sentWarm.size && [...warm.keys()].every((k) => sentWarm.has(k))) return {};
  sentWarm = new Set(warm.keys());
  return { warmKeys: [...sentWarm] };
}

function takeWarm(key: string): EngineSandbox | undefined {
  const list = warm.get(key);
  const entry = list?.pop();
  if (list && list.length === 0) warm.delete(key);
  return entry?.sandbox;
}

function putWarm(key: string, bundleKey: string, sandbox: EngineSandbox): void {
  const list = warm.get(key) ?? [];
  list.push({ sandbox, bundleKey, lastUsed: Date.now() });
  warm.set(key, list);
  let count = 0;
  for (const l of warm.values()) count += l.length;
  while (count > MAX_WARM) {
    let oldestKey: string | undefined;
    let oldest = Infinity;
    for (const [k, l] of warm) {
      const first = l[0];
      if (first && first.lastUsed < oldest) {
        oldest = first.lastUsed;
        oldestKey = k;
      }
    }
    if (oldestKey === undefined) break;
    const l = warm.get(oldestKey)!;
    l.shift()?.sandbox.dispose();
    if (l.length === 0) warm.delete(oldestKey);
    count -= 1;
  }
}

function sweepIdle(): void {
  const cutoff = Date.now() - WARM_IDLE_MS;
  for (const [k, l] of warm) {
    for (const e of l.filter((x) => x.lastUsed < cutoff)) e.sandbox.dispose();
    const kept = l.filter((x) => x.lastUsed >= cutoff);
    if (kept.length === 0) warm.delete(k);
    else warm.set(k, kept);
  }
}
setInterval(sweepIdle, Math.min(60_000, WARM_IDLE_MS)).unref();

function trimImages(): void {
  let bytes = 0;
  for (const entry of codeCache.values()) bytes += entry.image?.byteLength ?? 0;
  for (const entry of codeCache.values()) {
    if (bytes <= MAX_IMAGE_BYTES) return;
    bytes -= entry.image?.byteLength ?? 0;
    entry.image = undefined;
  }
}

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

async function run(msg: RunMessage): Promise<void> {
  const { id, limits } = msg;
  if (msg.code !== undefined) {
    const digest = createHash('sha256').update(msg.code).digest('hex');
    if (digest !== msg.sha256.toLowerCase()) {
      send({ t: 'done', id, ok: false, error: { code: 'INVALID_INPUT', message: `Bundle ${msg.bundleKey} does not match its sha256 (${msg.sha256}); reload it from the artifact store` }, stats: { hostCalls: 0, logBytes: 0, resultBytes: 0, warm: false }, ...warmKeys() });
      return;
    }
    const image = msg.image ?? codeCache.get(msg.sha256)?.image;
    codeCache.delete(msg.sha256);
    codeCache.set(msg.sha256, { code: msg.code, image });
    if (codeCache.size > MAX_CODE_CACHE) codeCache.delete(codeCache.keys().next().value!);
    trimImages();
  }
  const key = warmKeyOf(msg.tenant, msg.bundleKey, msg.sha256, limits);
  let sandbox = takeWarm(key);
  const isWarm = sandbox !== undefined;
  const cached = codeCache.get(msg.sha256);
  const code = cached?.code;
  if (!sandbox && code === undefined) {
    send({ t: 'need-code', id });
    return;
  }
  const stats: DoneStats = { hostCalls: 0, logBytes: 0, resultBytes: 0, warm: isWarm };
  // Bytes of arguments of host calls not answered yet: the host holds them (parsed, often twice) until it answers.
  let pendingArgBytes = 0;
  let captured: Uint8Array | undefined;
  const cpuStart = process.threadCpuUsage?.();
  const calls = new Map<number, { resolve(json: string): void; reject(error: ErrorData): void }>();
  pendingHost.set(id, calls);
  const finishStats = () => {
    if (cpuStart) {
      const d = process.threadCpuUsage(cpuStart);
      stats.cpuMs = (d.user + d.system) / 1000;
    }
    pendingHost.delete(id);
    for (const c of calls.values()) c.reject({ code: 'SANDBOX_CRASH', message: 'execution ended' });
  };
  const bridge: EngineHostBridge = {
    call(op, args) {
      stats.hostCalls += 1;
      if (stats.hostCalls > limits.maxHostCalls) {
        throw ({ code: 'SANDBOX_QUOTA', message: `The connector made more than ${limits.maxHostCalls} host calls in one execution; batch requests or raise limits.maxHostCalls` } satisfies ErrorData);
      }
      if (jsonDeeperThan(args, MAX_JSON_DEPTH)) {
        return Promise.reject({ code: 'INVALID_INPUT', message: `The ${op} call's arguments are nested more than ${MAX_JSON_DEPTH} levels deep; send flatter data` } satisfies ErrorData);
      }
      const argBytes = utf8Bytes(args);
      if (pendingArgBytes + argBytes > limits.maxHostCallBytes) {
        return Promise.reject(hostCallBytesError(op, argBytes, pendingArgBytes, limits.maxHostCallBytes));
      }
      pendingArgBytes += argBytes;
      const callId = nextCallId++;
      return new Promise<string>((resolve, reject) => {
        const done = () => {
          pendingArgBytes -= argBytes;
        };
        calls.set(callId, {
          resolve(json) {
            done();
            resolve(json);
          },
          reject(error) {
            done();
            reject(error);
          },
        });
        send({ t: 'host', id, callId, op, args });
      });
    },
    log(level: LogLevel, message: string, data: string | undefined) {
      stats.logBytes += LOG_LINE_OVERHEAD + utf8Bytes(message) + (data === undefined ? 0 : utf8Bytes(data));
      if (stats.logBytes > limits.maxLogBytes) {
        throw { code: 'SANDBOX_QUOTA', message: `The connector logged more than ${limits.maxLogBytes} bytes in one execution; log less or raise limits.maxLogBytes` } satisfies ErrorData;
      }
      if (data !== undefined && jsonDeeperThan(data, MAX_JSON_DEPTH)) data = JSON.stringify(`(log data nested more than ${MAX_JSON_DEPTH} levels deep was dropped)`);
      send(data === undefined ? { t: 'log', id, level, message } : { t: 'log', id, level, message, data });
    },
  };
  try {
    if (!sandbox) {
      sandbox = await engine.create(code!, limits, msg.deadlineAt, config.images === false ? undefined : cached?.image, msg.sha256);
      if (sandbox.restored) stats.restored = true;
      else if (config.images !== false && cached) {
        // First load of this code here: keep its image (taken before the call, so no tenant data) for the next
        // tenant on this worker, and hand it to the pool when it has none.
        captured = sandbox.captureImage?.();
        cached.image = captured;
        trimImages();
      }
    }
    const image = msg.wantImage ? captured : undefined;
    const json = await sandbox.execute(msg.call, msg.connection, bridge, msg.deadlineAt);
    stats.resultBytes = utf8Bytes(json);
    if (stats.resultBytes > limits.maxResultBytes) {
      sandbox.dispose();
      finishStats();
      send({ t: 'done', id, ok: false, error: { code: 'SANDBOX_QUOTA', message: `The connector's result is ${stats.resultBytes} bytes, over the ${limits.maxResultBytes} byte limit; return less data (paginate) or raise limits.maxResultBytes` }, violation: true, stats, ...warmKeys() });
      return;
    }
    if (sandbox.broken) sandbox.dispose();
    else putWarm(key, msg.bundleKey, sandbox);
    finishStats();
    if (jsonDeeperThan(json, MAX_JSON_DEPTH)) {
      send({ t: 'done', id, ok: false, error: { code: 'INVALID_OUTPUT', message: `The connector's result is nested more than ${MAX_JSON_DEPTH} levels deep; return flatter data` }, stats, ...warmKeys(), ...(image ? { image } : {}) });
      return;
    }
    send({ t: 'done', id, ok: true, json, stats, ...warmKeys(), ...(image ? { image } : {}) });
  } catch (reason) {
    if (sandbox) {
      if (sandbox.broken) sandbox.dispose();
      else putWarm(key, msg.bundleKey, sandbox);
    }
    finishStats();
    const error = reason as ErrorData;
    // An image is only worth keeping from a load whose call did not break the sandbox.
    const image = msg.wantImage && sandbox && !sandbox.broken ? captured : undefined;
    // Only what the engine marked as detected by the host is a violation: an error the guest threw is not, whatever
    // its code, and neither is a failure of this side that no check attributed to the guest.
    const violation = isHostViolation(error);
    send({ t: 'done', id, ok: false, error: typeof error?.code === 'string' ? error : { code: 'SANDBOX_CRASH', message: String(reason) }, ...(violation ? { violation } : {}), stats, ...warmKeys(), ...(image ? { image } : {}) });
  }
}

port.on('message', (msg: ToWorker) => {
  switch (msg.t) {
    case 'run':
      // Once no job is in flight, build the blank the next cold start will take (not while a guest awaits the host).
      void run(msg).finally(() =>
        setImmediate(() => {
          if (pendingHost.size === 0) engine.prepare?.(msg.limits);
        }),
      );
      break;
    case 'host-result': {
      const calls = pendingHost.get(msg.id);
      const pending = calls?.get(msg.callId);
      if (!pending) return;
      calls!.delete(msg.callId);
      if (msg.ok) pending.resolve(msg.json);
      else pending.reject(JSON.parse(msg.json) as ErrorData);
      break;
    }
    case 'drop-warm':
      for (const [k, l] of warm) {
        if (msg.bundleKey !== undefined && l[0]?.bundleKey !== msg.bundleKey) continue;
        for (const e of l) e.sandbox.dispose();
        warm.delete(k);
      }
      break;
  }
});
send({ t: 'ready' });
