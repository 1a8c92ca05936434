// QuickJS engine: every sandbox is its own WebAssembly instance with its own WebAssembly.Memory whose
// maximum is the sandbox's memory cap, so no guest allocation (strings, arrays, typed arrays) can go past it.
// The compiled WebAssembly.Module is shared; instances, memories, runtimes and contexts are not.
import { createHash, randomBytes } from 'node:crypto';
import * as variantModule from '@jitl/quickjs-wasmfile-release-sync';
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
} from 'quickjs-emscripten-core';
import type { ErrorData, LogLevel } from '@businessos/connector-sdk';
import { engineBuildId, quickJSWasmBytes } from './engine-build.ts';
import { classifyEngineFault, guestErrorData, hostViolation, reportedFault } from './guest-errors.ts';
import { GUEST_PRELUDE } from './guest-prelude.ts';
import { applyImage, captureImage, decodeImage, dirtyChunks, MAX_IMAGE_BYTES, type DecodedImage } from './sandbox-image.ts';
import type { EngineHostBridge, EngineSandbox, SandboxCall, SandboxEngine, SandboxLimits } from './types.ts';
import { cutText } from '../cut-text.ts';

// The repo's TypeScript lib has no DOM/WebAssembly globals; these are the few members used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
// quickjs-emscripten 0.32 keeps these protected; restoring an image needs the raw pointers behind the wrappers.
interface RuntimeInternals {
  rt: { value: number };
}
interface ContextInternals {
  ctx: { value: number };
  memory: { heapValueHandle(pointer: number): QuickJSHandle };
}

/**
 * The wrapper internals images need, or undefined when this version of quickjs-emscripten lays them out otherwise
 * (images are then neither captured nor restored, and bundles are parsed as before).
 */
function internalsOf(runtime: QuickJSRuntime, context: QuickJSContext): { rt: number; ctx: number; heapValueHandle(pointer: number): QuickJSHandle } | undefined {
  const r = runtime as unknown as Partial<RuntimeInternals>;
  const c = context as unknown as Partial<ContextInternals>;
  const rt = r.rt?.value;
  const ctx = c.ctx?.value;
  const memory = c.memory;
  if (typeof rt !== 'number' || typeof ctx !== 'number' || typeof memory?.heapValueHandle !== 'function') return undefined;
  return { rt, ctx, heapValueHandle: (pointer) => memory.heapValueHandle(pointer) };
}
type WasmModule = object;
const Wasm = (globalThis as unknown as {
  WebAssembly: { Module: new (bytes: Uint8Array) => WasmModule; Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory };
}).WebAssembly;
// The ESM build's default export is the variant; the package's CommonJS typings hide that from TypeScript.
const baseVariant = (variantModule as unknown as { default: Parameters<typeof newQuickJSWASMModuleFromVariant>[0] }).default;

const PAGE_BYTES = 65_536;
/** The QuickJS build imports a memory of at least 16 MiB; smaller caps are raised to this. */
export const MIN_MEMORY_BYTES = 16 * 1024 * 1024;
/** Above this the guest's own stack check no longer fires before the worker's native stack runs out. */
export const MAX_STACK_BYTES = 1024 * 1024;
// Kept importable from here, where they used to live.
export { classifyEngineFault, guestErrorData };

const LOG_LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error']);
/** Keep a sandbox warm only while its memory stays below this share of the cap. */
const WARM_MEMORY_SHARE = 0.75;
/**
 * Pending jobs run per call into the engine. QuickJS's own job loop only stops when a job throws, and a promise
 * reaction, executor or async function turns the interrupt into a rejection, so the host looks between batches.
 */
const JOB_BATCH = 16;

let compiled: WasmModule | undefined;

function wasmModule(): WasmModule {
  compiled ??= new Wasm.Module(quickJSWasmBytes());
  return compiled;
}


function sandboxError(code: ErrorData['code'], message: string): ErrorData {
  return { code, message };
}

function deadlineError(): ErrorData {
  return hostViolation(sandboxError('SANDBOX_DEADLINE', 'The connector ran past its deadline and was stopped; look for endless loops or slow upstream calls, or raise limits.deadlineMs'));
}

interface Execution {
  bridge: EngineHostBridge;
  inflight: number;
  abort: ErrorData | undefined;
  check(): void;
}

/** Options of {@link createQuickJSEngine}. */
export interface QuickJSEngineOptions {
  /** Compiled QuickJS WebAssembly module to instantiate (default: compiled once per thread from the installed variant). */
  module?: WasmModule;
  /**
   * Testing only: `false` turns off the QuickJS interrupt handler, so the deadline can only be enforced by the
   * pool's wall-clock watchdog (used to prove the watchdog works).
   */
  interrupts?: boolean;
}

/**
 * The QuickJS {@link SandboxEngine}. Meant to run inside a worker thread (see the pool): a guest stuck in
 * native code can only be stopped by terminating the thread.
 */
export function createQuickJSEngine(options: QuickJSEngineOptions = {}): SandboxEngine {
  // Compile up front so the first sandbox's deadline is not spent compiling WebAssembly.
  if (!options.module) wasmModule();
  // One blank instance (no guest code has run in it) is kept ready for the most recent limits, so a cold
  // start pays only for evaluating the bundle.
  let spare: Promise<Blank> | undefined;
  let spareKey = '';

  // Images are only taken and restored with the installed build, whose identity engineBuildId() knows.
  const imageBuild = options.module ? undefined : engineBuildId();
  const blanks: BlankLayout = { dirty: undefined };

  async function blank(memoryBytes: number, maxStackBytes: number, initialBytes = MIN_MEMORY_BYTES): Promise<Blank> {
    const memory = new Wasm.Memory({ initial: Math.ceil(initialBytes / PAGE_BYTES), maximum: memoryBytes / PAGE_BYTES });
    const module = await newQuickJSWASMModuleFromVariant(newVariant(baseVariant as never, { wasmModule: (options.module ?? wasmModule()) as never, wasmMemory: memory as never }));
    const runtime = module.newRuntime();
    // QuickJS's own accounting catches most allocations early with a catchable error; the memory maximum is the real cap.
    runtime.setMemoryLimit(memoryBytes - 4 * 1024 * 1024);
    runtime.setMaxStackSize(maxStackBytes);
    return { memory, runtime, context: runtime.newContext() };
  }

  function effectiveLimits(limits: Pick<SandboxLimits, 'memoryBytes' | 'maxStackBytes'>): { memoryBytes: number; maxStackBytes: number } {
    return {
      memoryBytes: Math.max(MIN_MEMORY_BYTES, Math.floor(limits.memoryBytes / PAGE_BYTES) * PAGE_BYTES),
      maxStackBytes: Math.min(MAX_STACK_BYTES, Math.max(64 * 1024, limits.maxStackBytes)),
    };
  }

  /** A blank for these limits: the spare when one is ready for them, otherwise a new one. */
  async function nextBlank(memoryBytes: number, maxStackBytes: number, initialBytes: number): Promise<Blank> {
    if (initialBytes > MIN_MEMORY_BYTES) return blank(memoryBytes, maxStackBytes, initialBytes);
    const key = `${memoryBytes}/${maxStackBytes}`;
    const reuse = spare && spareKey === key ? spare : undefined;
    if (reuse) spare = undefined;
    return reuse ?? blank(memoryBytes, maxStackBytes);
  }

  /** The image decoded, when it belongs to this build and fits these limits; otherwise the bundle is parsed. */
  function usableImage(image: Uint8Array | undefined, memoryBytes: number, codeSha256: () => string): DecodedImage | undefined {
    if (!image || !imageBuild) return undefined;
    try {
      const decoded = decodeImage(image);
      // Bound to the exact code it was taken from, whatever key a store filed it under.
      return decoded.header.build === imageBuild && decoded.header.byteLength <= memoryBytes && decoded.header.code === codeSha256() ? decoded : undefined;
    } catch {
      return undefined;
    }
  }

  return {
    name: 'quickjs',
    prepare(limits) {
      // Called by the worker when it is idle: building a blank while a guest awaits a host answer would delay it.
      const { memoryBytes, maxStackBytes } = effectiveLimits(limits);
      const key = `${memoryBytes}/${maxStackBytes}`;
      if (spare && spareKey === key) return;
      spareKey = key;
      const made = blank(memoryBytes, maxStackBytes);
      spare = made;
      made.catch(() => {
        if (spare === made) spare = undefined;
      });
    },
    async create(code, limits, deadlineAt, image, knownSha256) {
      // The pool's worker has verified the code's sha256 already; hash it here only when a caller did not say.
      let digest = knownSha256?.toLowerCase();
      const codeSha256 = () => (digest ??= codeDigest(code));
      const effective = effectiveLimits(limits);
      const { memoryBytes, maxStackBytes } = effective;
      const decoded = usableImage(image, memoryBytes, codeSha256);
      let ready: Blank;
      try {
        ready = await nextBlank(memoryBytes, maxStackBytes, decoded?.header.byteLength ?? MIN_MEMORY_BYTES);
      } catch (error) {
        // No guest code ran yet: the host lacked memory for a new instance, which is no violation of the bundle's
        // (a copy of the classification carries no violation mark).
        throw { ...classifyEngineFault(error, effective) };
      }
      const interrupts = options.interrupts ?? true;
      if (decoded) {
        try {
          return instantiate(ready, { code, codeSha256, image: decoded, build: imageBuild, blanks }, effective, deadlineAt, interrupts);
        } catch (error) {
          if (!(error instanceof RestoreFailed)) throw error;
          // The image could not be applied (that instance is discarded): parse the bundle in a new blank instead.
          try {
            ready = await blank(memoryBytes, maxStackBytes);
          } catch (again) {
            throw { ...classifyEngineFault(again, effective) };
          }
        }
      }
      return instantiate(ready, { code, codeSha256, image: undefined, build: imageBuild, blanks }, effective, deadlineAt, interrupts);
    },
  };
}

interface Blank {
  memory: WasmMemory;
  runtime: QuickJSRuntime;
  context: QuickJSContext;
}

/** What a sandbox starts from: the bundle's code, and an image of it to restore instead of parsing when usable. */
interface SandboxSource {
  code: string;
  /** sha256 (hex) of `code`, computed at most once. */
  codeSha256: () => string;
  image: DecodedImage | undefined;
  /** Build id to stamp on images captured from this sandbox (none: capturing is off). */
  build: string | undefined;
  blanks: BlankLayout;
}

/**
 * Which chunks of memory a blank instance has written by the time an image is applied. Setting up a blank is
 * deterministic (same allocations at the same addresses), so this is measured once per engine by reading a whole
 * blank; later restores clear only these chunks (applyImage still checks a window above them).
 */
interface BlankLayout {
  dirty: Uint32Array | undefined;
}

function instantiate(
  { memory, runtime, context }: Blank,
  source: SandboxSource,
  limits: { memoryBytes: number; maxStackBytes: number },
  createDeadline: number,
  interrupts: boolean,
): EngineSandbox {
  const { code } = source;
  let deadlineAt = createDeadline;
  // No call has run yet: the memory holds only the evaluated bundle and may be captured as an image.
  let pristine = true;
  let restored = false;
  let current: Execution | undefined;
  let broken = false;
  let disposed = false;
  let interruptedFor: ErrorData | undefined;

  if (interrupts) runtime.setInterruptHandler(() => {
    const abort = current?.abort;
    if (abort) {
      interruptedFor = abort;
      return true;
    }
    if (Date.now() > deadlineAt) {
      interruptedFor = deadlineError();
      return true;
    }
    return false;
  });

  const dispose = () => {
    if (disposed) return;
    disposed = true;
    current = undefined;
    // After a violation the engine may hold objects in an inconsistent state and QuickJS would assert while
    // freeing them; the whole WebAssembly instance is garbage once unreferenced, so only a healthy one is freed.
    if (broken) return;
    try {
      runHandle?.dispose();
      connectorHandle?.dispose();
      context.dispose();
      runtime.dispose();
    } catch {
      // An engine that failed mid-call may refuse an orderly shutdown; dropping the references frees the instance.
    }
  };

  /**
   * Runs pending jobs until none is left or the execution was stopped (interrupt or violation); answers the
   * exception handle of a job that threw, if one did.
   */
  const drainJobs = (): QuickJSHandle | undefined => {
    while (!interruptedFor && !current?.abort) {
      const jobs = runtime.executePendingJobs(JOB_BATCH);
      if (jobs.error) return jobs.error;
      if (jobs.value < JOB_BATCH) return undefined;
    }
    return undefined;
  };

  /** Host-measured: the sandbox's WebAssembly memory has grown near its cap (the guest cannot fake this). */
  const memoryNearCap = (): boolean => memory.buffer.byteLength >= limits.memoryBytes * WARM_MEMORY_SHARE;

  /** Turns an exception handle from guest code into ErrorData, disposing the handle. */
  const guestFault = (handle: QuickJSHandle): ErrorData => {
    let dumped: unknown;
    try {
      dumped = context.dump(handle);
    } catch {
      dumped = undefined;
    } finally {
      handle.dispose();
    }
    if (interruptedFor) return interruptedFor;
    const name = typeof dumped === 'object' && dumped !== null ? String((dumped as { name?: unknown }).name) : '';
    const message = typeof dumped === 'object' && dumped !== null ? String((dumped as { message?: unknown }).message) : String(dumped);
    // Whatever threw this was guest code (which may throw anything it likes): a fault, not a violation, unless the
    // host's own measure of the memory backs it.
    if (message === 'out of memory') return reportedFault('memory', limits, memoryNearCap());
    if (message === 'stack overflow' || /call stack/.test(message)) return reportedFault('stack', limits, memoryNearCap());
    return { code: 'INTERNAL', message: cutText(`${name && name !== 'undefined' ? `${name}: ` : ''}${message}`, 2000) };
  };

  const hostCall = context.newFunction('hostCall', (opHandle, argsHandle) => {
    const exec = current;
    // A guest that swallowed the interrupt may run on until the engine returns: it reaches the host no more.
    const stopped = exec && (exec.abort ?? interruptedFor);
    if (stopped) return { error: context.newError(stopped.message) };
    const deferred = context.newPromise();
    const op = context.getString(opHandle);
    const args = context.getString(argsHandle);
    const settle = (ok: boolean, text: string, quota: ErrorData | undefined) => {
      if (disposed || current !== exec || !exec) {
        deferred.dispose();
        return;
      }
      exec.inflight -= 1;
      if (quota) exec.abort = quota;
      try {
        const value = context.newString(text);
        if (ok) deferred.resolve(value);
        else deferred.reject(value);
        value.dispose();
      } catch (error) {
        exec.abort ??= classifyEngineFault(error, limits);
      }
      deferred.dispose();
      exec.check();
    };
    if (!exec) {
      const value = context.newString(JSON.stringify({ code: 'INTERNAL', message: 'Host calls are only allowed while an action or trigger runs' }));
      deferred.reject(value);
      value.dispose();
      return deferred.handle;
    }
    if (op !== 'request' && op !== 'storeGet' && op !== 'storeSet' && op !== 'storeDelete') {
      return { error: context.newError(`Unknown host call ${op}`) };
    }
    let pending: Promise<string>;
    try {
      pending = exec.bridge.call(op, args);
    } catch (reason) {
      // Quotas are checked synchronously so a tight loop of calls stops at once.
      const data = reason as Partial<ErrorData> | undefined;
      exec.abort ??= hostViolation({ code: 'SANDBOX_QUOTA', message: typeof data?.message === 'string' ? data.message : 'Host call quota exceeded' });
      return { error: context.newError(exec.abort.message) };
    }
    exec.inflight += 1;
    pending.then(
      (json) => settle(true, json, undefined),
      (reason: unknown) => {
        const data = reason as Partial<ErrorData> | undefined;
        const code = typeof data?.code === 'string' ? data.code : 'INTERNAL';
        const message = typeof data?.message === 'string' ? data.message : 'Host call failed';
        const wire: ErrorData = { code: code as ErrorData['code'], message };
        if (typeof data?.retryAfter === 'number') wire.retryAfter = data.retryAfter;
        if (typeof data?.upstreamStatus === 'number') wire.upstreamStatus = data.upstreamStatus;
        settle(false, JSON.stringify(wire), code === 'SANDBOX_QUOTA' ? hostViolation({ ...wire }) : undefined);
      },
    );
    return deferred.handle;
  });

  const hostLog = context.newFunction('hostLog', (levelHandle, messageHandle, dataHandle) => {
    const exec = current;
    if (!exec) return undefined;
    const stopped = exec.abort ?? interruptedFor;
    if (stopped) return { error: context.newError(stopped.message) };
    const level = context.getString(levelHandle);
    const message = context.getString(messageHandle);
    const data = context.typeof(dataHandle) === 'string' ? context.getString(dataHandle) : undefined;
    try {
      exec.bridge.log((LOG_LEVELS.has(level) ? level : 'info') as LogLevel, message, data);
    } catch (reason) {
      const quota = reason as ErrorData;
      exec.abort = hostViolation({ code: 'SANDBOX_QUOTA', message: String(quota?.message ?? 'Log quota exceeded') });
      return { error: context.newError(exec.abort.message) };
    }
    return undefined;
  });

  let runHandle: QuickJSHandle | undefined;
  let connectorHandle: QuickJSHandle | undefined;
  const pointers = source.image?.header.pointers;
  const internals = source.image ? internalsOf(runtime, context) : undefined;
  if (
    source.image && pointers && internals &&
    pointers.rt === internals.rt &&
    pointers.ctx === internals.ctx &&
    pointers.run !== undefined && pointers.connector !== undefined &&
    source.image.header.byteLength <= memory.buffer.byteLength
  ) {
    // This instance was set up exactly as the captured one was up to this point (same runtime and context
    // addresses, host functions registered under the same host reference ids), so the image's memory is consistent
    // with the wrappers on this side. hostCall/hostLog are not disposed: their handles pointed into the memory that
    // was just replaced, and the image's glue holds the functions themselves.
    try {
      const bytes = new Uint8Array(memory.buffer);
      source.blanks.dirty ??= dirtyChunks(bytes);
      applyImage(bytes, source.image, source.blanks.dirty);
      runtime.setMemoryLimit(limits.memoryBytes - 4 * 1024 * 1024);
      runtime.setMaxStackSize(limits.maxStackBytes);
      runHandle = internals.heapValueHandle(pointers.run);
      connectorHandle = internals.heapValueHandle(pointers.connector);
      restored = true;
    } catch (error) {
      broken = true;
      dispose();
      throw new RestoreFailed(error);
    }
  } else try {
    const factory = context.evalCode(GUEST_PRELUDE, 'bos-prelude.js');
    if (factory.error) throw guestFault(factory.error);
    const seed = context.newString(nextSeed());
    const made = context.callFunction(factory.value, context.undefined, hostCall, hostLog, seed);
    seed.dispose();
    factory.value.dispose();
    hostCall.dispose();
    hostLog.dispose();
    if (made.error) throw guestFault(made.error);
    runHandle = made.value;

    const evaluated = context.evalCode(code, 'bundle.mjs', { type: 'module' });
    if (evaluated.error) {
      const fault = guestFault(evaluated.error);
      throw fault.code === 'INTERNAL' ? { code: 'INVALID_OUTPUT', message: `The bundle failed to load: ${fault.message}` } : fault;
    }
    let namespace = evaluated.value;
    if (context.typeof(namespace) === 'object' && context.getPromiseState(namespace).type !== 'fulfilled') {
      // Top-level await: run jobs until the module settles (the interrupt handler bounds this).
      const failed = drainJobs();
      if (failed) throw guestFault(failed);
      if (interruptedFor) throw interruptedFor;
      const state = context.getPromiseState(namespace);
      if (state.type === 'pending') throw { code: 'INVALID_OUTPUT', message: 'The bundle awaits something at top level that never settles; remove top-level await' };
      if (state.type === 'rejected') throw { code: 'INVALID_OUTPUT', message: `The bundle failed to load: ${guestFault(state.error).message}` };
      namespace.dispose();
      namespace = state.value;
    }
    connectorHandle = context.getProp(namespace, 'default');
    namespace.dispose();
  } catch (error) {
    broken = true;
    dispose();
    throw isErrorData(error) ? error : classifyEngineFault(error, limits);
  }
  const run = runHandle!;
  const connector = connectorHandle!;
  /** The glue's record of Math.random use (see guest-prelude.ts); unknown counts as drawn. */
  const drewRandom = (): boolean => {
    try {
      const flag = context.getProp(run, 'drewRandom');
      const value: unknown = context.dump(flag);
      flag.dispose();
      return value !== false;
    } catch {
      return true;
    }
  };

  return {
    get broken() {
      return broken || disposed;
    },
    get restored() {
      return restored;
    },
    captureImage() {
      const internals = internalsOf(runtime, context);
      if (!internals || !source.build || !pristine || broken || disposed || memory.buffer.byteLength > MAX_IMAGE_BYTES) return undefined;
      // Numbers the bundle drew while loading are part of its state: an image would give them to every sandbox
      // restored from it, whatever the tenant, so such a bundle is parsed anew for each sandbox instead.
      if (drewRandom()) return undefined;
      return captureImage(new Uint8Array(memory.buffer), source.build, {
        rt: internals.rt,
        ctx: internals.ctx,
        run: run.value as unknown as number,
        connector: connector.value as unknown as number,
      }, source.codeSha256());
    },
    get memoryBytes() {
      return memory.buffer.byteLength;
    },
    dispose,
    execute(call: SandboxCall, connection, bridge, executionDeadline) {
      if (disposed || broken) return Promise.reject(sandboxError('SANDBOX_CRASH', 'This sandbox was discarded after a violation'));
      if (current) return Promise.reject(sandboxError('INTERNAL', 'A sandbox runs one execution at a time'));
      deadlineAt = executionDeadline;
      interruptedFor = undefined;
      pristine = false;
      return new Promise<string>((resolve, reject) => {
        let done = false;
        let promiseHandle: QuickJSHandle | undefined;
        const exec: Execution = { bridge, inflight: 0, abort: undefined, check: () => check() };
        const finish = (outcome: ErrorData | undefined, value?: string) => {
          if (done) return;
          done = true;
          // A violation wins over whatever the guest made of it (it may catch the rejection an interrupt causes).
          const violation = exec.abort ?? interruptedFor;
          const error = violation ?? outcome;
          clearTimeout(timer);
          current = undefined;
          safe(() => promiseHandle?.dispose(), undefined);
          // Work still in flight would run during a later execution: do not keep such a sandbox warm. Neither after
          // a violation or an engine fault, nor when memory stayed high.
          if (violation || (error && error.code.startsWith('SANDBOX_')) || exec.inflight > 0 || safe(() => runtime.hasPendingJob(), true) || memory.buffer.byteLength > limits.memoryBytes * WARM_MEMORY_SHARE) {
            broken = true;
          }
          if (error) reject(error);
          else resolve(value ?? 'null');
        };
        function check(): void {
          if (done) return;
          try {
            if (exec.abort) return finish(exec.abort);
            const failed = drainJobs();
            if (failed) return finish(guestFault(failed));
            const stopped = exec.abort ?? interruptedFor;
            if (stopped) return finish(stopped);
            if (!promiseHandle) return undefined;
            const state = context.getPromiseState(promiseHandle);
            if (state.type === 'pending') {
              if (exec.inflight === 0 && !runtime.hasPendingJob()) {
                return finish(sandboxError('INTERNAL', 'The connector returned a promise that never settles (it awaits something the host never answers)'));
              }
              return undefined;
            }
            if (state.type === 'rejected') return finish(guestFault(state.error));
            const handle = state.value;
            const text = context.typeof(handle) === 'string' ? context.getString(handle) : undefined;
            handle.dispose();
            if (text === undefined) return finish(sandboxError('INTERNAL', 'The sandbox glue returned a non-string; the guest tampered with built-ins'));
            // The glue never answers an empty string: the engine could not copy the answer out (no memory left for it).
            if (text === '' && memoryNearCap()) return finish(classifyEngineFault(new Error('out of memory'), limits));
            if (text.startsWith('1')) return finish(undefined, text.slice(1));
            return finish(guestErrorData(text.slice(1), limits, memoryNearCap()));
          } catch (error) {
            return finish(isErrorData(error) ? error : classifyEngineFault(error, limits));
          }
        }
        current = exec;
        const timer = setTimeout(() => {
          exec.abort = deadlineError();
          finish(exec.abort);
        }, Math.max(0, executionDeadline - Date.now()));
        try {
          const callHandle = context.newString(JSON.stringify(call));
          const connectionHandle = context.newString(JSON.stringify(connection ?? {}));
          const seedHandle = context.newString(nextSeed());
          const result = context.callFunction(run, context.undefined, connector, callHandle, connectionHandle, seedHandle);
          callHandle.dispose();
          connectionHandle.dispose();
          seedHandle.dispose();
          if (result.error) {
            finish(guestFault(result.error));
            return;
          }
          promiseHandle = result.value;
        } catch (error) {
          finish(classifyEngineFault(error, limits));
          return;
        }
        check();
      });
    },
  };
}

// Seeds for the guest's Math.random, drawn from the OS generator in blocks rather than one syscall per call.
let seeds = Buffer.alloc(0);
let seedAt = 0;
function nextSeed(): string {
  if (seedAt + 16 > seeds.length) {
    seeds = randomBytes(16 * 256);
    seedAt = 0;
  }
  const seed = seeds.toString('hex', seedAt, seedAt + 16);
  seedAt += 16;
  return seed;
}

function codeDigest(code: string): string {
  return createHash('sha256').update(code).digest('hex');
}

/** An image that passed its checks still failed to apply; the engine then parses the bundle instead. */
class RestoreFailed extends Error {
  constructor(cause: unknown) {
    super('The sandbox image could not be restored', { cause });
  }
}

function safe<T>(fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch {
    return fallback;
  }
}

function isErrorData(value: unknown): value is ErrorData {
  return typeof value === 'object' && value !== null && typeof (value as ErrorData).code === 'string' && typeof (value as ErrorData).message === 'string';
}
