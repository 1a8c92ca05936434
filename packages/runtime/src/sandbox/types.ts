// The sandbox boundary as plain types. Only JSON-serialisable data crosses between the host and a guest;
// the engine (QuickJS today, perhaps a V8 isolate later) sits behind SandboxEngine.
import type { ErrorData, HttpRequest, HttpResponse, LogLevel } from '@businessos/connector-sdk';

/** What one execution asks the connector to do. */
export type SandboxCall =
  | { kind: 'action'; action: string; params: unknown }
  | { kind: 'trigger'; trigger: string; operation: 'subscribe' | 'unsubscribe' | 'transform' | 'poll'; input: unknown }
  | { kind: 'authenticate' }
  /**
   * Several webhook deliveries of one trigger transformed in one execution, one after another. The value is one
   * outcome per input, in order: `{ ok: true, value }` or `{ ok: false, error }` (a failing delivery does not stop the
   * others; the host vets each error's code as it does a whole execution's).
   */
  | { kind: 'transforms'; trigger: string; inputs: unknown[] }
  /** Dry load: evaluate the bundle and return `connector.manifest`. */
  | { kind: 'manifest' };

/**
 * Implemented by the caller; runs on the caller's thread. Every value passed in or returned is JSON-copied
 * at the boundary, so the guest never holds a host object. Errors thrown by `request` or the store reach the
 * guest as ConnectorError-shaped data (`toErrorData`), so use catalogue codes (EGRESS_DENIED, TIMEOUT...).
 */
export interface SandboxHost {
  request(req: HttpRequest): Promise<HttpResponse>;
  log(level: LogLevel, message: string, data?: unknown): void;
  storeGet?(key: string): Promise<unknown>;
  storeSet?(key: string, value: unknown): Promise<void>;
  storeDelete?(key: string): Promise<void>;
}

/** Per-execution limits. Any field left out takes the pool's default. */
export interface SandboxLimits {
  /** Hard cap of the sandbox's WebAssembly memory (default 64 MiB). Fixed when a sandbox is created: a warm sandbox keeps the cap it was created with. */
  memoryBytes: number;
  /** CPU/wall deadline of one execution (default 30 000 ms). */
  deadlineMs: number;
  /** Host calls (requests and store operations) per execution (default 1000); logs count against maxLogBytes instead. */
  maxHostCalls: number;
  /** Bytes of log messages and data per execution (default 256 KiB); the call that goes over fails with SANDBOX_QUOTA. */
  maxLogBytes: number;
  /**
   * Bytes of host-call arguments (request objects, store keys and values, as JSON) waiting for an answer at once
   * (default 16 MiB). A call that would go over fails with PAYLOAD_TOO_LARGE, which the guest may catch: it bounds
   * what a guest holds in the host's memory, far outside its own memory cap.
   */
  maxHostCallBytes: number;
  /** Bytes of the JSON result (default 8 MiB). */
  maxResultBytes: number;
  /** Guest stack size (default 512 KiB). Fixed when a sandbox is created. */
  maxStackBytes: number;
}

/** One execution. */
export interface SandboxJob {
  tenant: string;
  /** `key` is `name@version`; `sha256` is the hex digest of `code` (checked by whoever loaded it, used here for warm reuse). */
  bundle: { key: string; code: string; sha256: string };
  call: SandboxCall;
  connection?: { fields?: Record<string, string> };
  limits?: Partial<SandboxLimits>;
}

/** What one execution cost. */
export interface SandboxStats {
  durationMs: number;
  cpuMs?: number;
  hostCalls: number;
  logBytes: number;
  resultBytes: number;
  /** True when a warm sandbox (bundle already evaluated for this tenant) served the job. */
  warm: boolean;
  /** A cold start that began from a sandbox image instead of evaluating the bundle. */
  restored?: boolean;
}

/** The outcome of one execution: a JSON value or catalogue error data. `run` never rejects for guest faults. */
export type SandboxResult = { ok: true; value: unknown; stats: SandboxStats } | { ok: false; error: ErrorData; stats: SandboxStats };

/**
 * A bundle key in quarantine, refused with QUARANTINED until `until` (epoch ms): for one tenant (`scope: 'tenant'`,
 * after that tenant's own violations) or for every tenant (`scope: 'everyone'`, after violations from several tenants).
 */
export interface QuarantineEntry {
  bundleKey: string;
  scope: 'tenant' | 'everyone';
  /** The tenant refused, for `scope: 'tenant'`. */
  tenant?: string;
  /** The tenants whose violations within the window led to it, for `scope: 'everyone'` (for operators; never in errors). */
  tenants?: string[];
  until: number;
  violations: number;
  lastError: ErrorData;
}

/** Counters of a pool, for health endpoints and metrics. */
export interface SandboxPoolStats {
  workers: number;
  busyWorkers: number;
  queued: number;
  warmSandboxes: number;
  executions: number;
  violations: number;
  workerRestarts: number;
  quarantined: number;
}

/** Runs jobs in isolated sandboxes off the caller's event loop. */
export interface SandboxPool {
  run(job: SandboxJob, host: SandboxHost): Promise<SandboxResult>;
  stats(): SandboxPoolStats;
  /** Bundle keys currently refused, for one tenant or for everyone. */
  quarantined(): QuarantineEntry[];
  /**
   * Lifts quarantines and forgets the violations counted so far: of one tenant for one bundle key (`bundleKey`,
   * `tenant`), of one bundle key for every tenant (`bundleKey`), or all of them without an argument.
   */
  clearQuarantine(bundleKey?: string, tenant?: string): void;
  /** Stops all workers/children; pending jobs end with SANDBOX_CRASH. */
  close(): Promise<void>;
}

/** Host calls a guest can make, as seen by an engine: JSON strings in, JSON strings out. */
export interface EngineHostBridge {
  /** `op` is request | storeGet | storeSet | storeDelete; resolves with the JSON of the answer or rejects with ErrorData. */
  call(op: 'request' | 'storeGet' | 'storeSet' | 'storeDelete', argsJson: string): Promise<string>;
  log(level: LogLevel, message: string, dataJson: string | undefined): void;
}

/** One live guest: a bundle evaluated for one tenant. */
export interface EngineSandbox {
  /** Runs one call; resolves with the result's JSON text, or rejects with ErrorData. */
  execute(call: SandboxCall, connection: { fields?: Record<string, string> } | undefined, bridge: EngineHostBridge, deadlineAt: number): Promise<string>;
  /** True once a violation left the guest unusable; the pool then disposes of it. */
  readonly broken: boolean;
  /** Bytes of engine memory currently reserved by this sandbox (never above its cap). */
  readonly memoryBytes: number;
  /** True when the sandbox started from an image instead of evaluating the bundle. */
  readonly restored?: boolean;
  /**
   * The sandbox's state as an image (see sandbox-image.ts), only before its first call (so it holds no tenant
   * data); undefined once a call ran or when the engine cannot capture.
   */
  captureImage?(): Uint8Array | undefined;
  dispose(): void;
}

/**
 * The engine interface: QuickJS (one WebAssembly instance per sandbox) implements it; a V8-isolate engine
 * (isolated-vm) could replace it without touching the pool. Engines run inside a worker thread.
 */
export interface SandboxEngine {
  readonly name: string;
  /**
   * Evaluates `code` (an ESM bundle with `export default` connector) in a fresh sandbox, or starts it from `image`
   * (captured from the same code by the same engine build) when the engine can use it. `codeSha256` is the caller's
   * verified digest of `code`, if it has one (else the engine hashes the code when an image needs it). Rejects with ErrorData.
   */
  create(code: string, limits: Pick<SandboxLimits, 'memoryBytes' | 'maxStackBytes'>, deadlineAt: number, image?: Uint8Array, codeSha256?: string): Promise<EngineSandbox>;
  /** Prepares, in idle time, what the next `create` with these limits needs (a blank instance), so it starts faster. */
  prepare?(limits: Pick<SandboxLimits, 'memoryBytes' | 'maxStackBytes'>): void;
}
