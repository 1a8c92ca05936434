import { randomUUID } from 'node:crypto';
import {
  ConnectorError,
  toErrorData,
  type ConnectorManifest,
  type Credentials,
  type ErrorCode,
  type ErrorData,
  type HttpRequest,
  type HttpResponse,
  type JsonSchema,
  type KeyValueStore,
  type LogLevel,
  type OAuth2AuthSpec,
  type TriggerOperation,
} from '@businessos/connector-sdk';
import { compileSchema, formatIssues, resolveRequestUrl, toIssues, validateManifest } from '@businessos/connector-sdk/host';
import { sha256Hex, type Artifact, type ArtifactStore } from './artifacts/artifact-store.ts';
import { silentLogger, systemClock, type Clock, type RuntimeLogger } from './clock.ts';
import { cutText } from './cut-text.ts';
import { applyAuth } from './egress/apply-auth.ts';
import { createEgressClient, type EgressClient, type EgressOptions, type EgressStats } from './egress/egress-client.ts';
import { createScheduler, type Scheduler, type SchedulerOptions } from './limits/scheduler.ts';
import type { Lock } from './oauth/lock.ts';
import { createTokenRefresher, type ConnectionStore, type PlatformConfig, type TokenRefresher } from './oauth/token-refresher.ts';
import { createRedactor, secretsOf } from './redact.ts';
import { createCircuitBreakers, type CircuitBreakerOptions, type CircuitBreakers } from './resilience/circuit-breaker.ts';
import { defaultRetryPolicy, retryDelayMs, type RetryPolicy } from './resilience/retry.ts';
import { vetGuestError } from './sandbox/guest-errors.ts';
import { DEFAULT_SANDBOX_LIMITS } from './sandbox/pool.ts';
import type { SandboxCall, SandboxHost, SandboxLimits, SandboxPool } from './sandbox/types.ts';
import { createUsageMeter, type UsageMeter, type UsageSink } from './usage/usage.ts';
import type { Vault } from './vault/vault.ts';

/** Runtime settings, parsed once by the caller (nothing here reads the environment). */
export interface RuntimeConfig {
  /** Test mode: loopback mock APIs over plain http on any port. Never in production. Default false. */
  allowLoopback?: boolean;
  /** Concurrency and queue limits (defaults: 5 per tenant, 10 in total, 200 queued). */
  limits?: SchedulerOptions;
  retry?: Partial<RetryPolicy>;
  circuitBreaker?: Omit<CircuitBreakerOptions, 'clock'>;
  egress?: Omit<EgressOptions, 'allowLoopback'>;
  /** Per-execution sandbox limits passed with every job. */
  sandboxLimits?: Partial<SandboxLimits>;
  oauth?: { skewMs?: number; lockTtlMs?: number; lockWaitMs?: number; storeAttempts?: number; storeRetryMs?: number; writeBackMs?: number; maxUnstored?: number };
  /** Usage batching (defaults: 100 records or 1 s). */
  usage?: { batchSize?: number; flushIntervalMs?: number };
  /** Development: replace a connector's baseUrl (`{ acme: 'http://127.0.0.1:4010' }`). */
  baseUrlOverrides?: Record<string, string>;
  /** Bundles kept loaded (default 500). */
  maxCachedBundles?: number;
  /**
   * Limits of the key/value store connectors get per connection (`ctx.store`); a write over one fails with
   * PAYLOAD_TOO_LARGE. `maxKeyBytes` (default 512) and `maxValueBytes` (default 256 KiB, as JSON) apply to every
   * store; `maxKeys` (default 1000) and `maxBytes` (keys and values, default 4 MiB) to the built-in in-memory one.
   */
  store?: { maxKeyBytes?: number; maxValueBytes?: number; maxKeys?: number; maxBytes?: number };
  /**
   * How long webhook transforms reuse a connection's decrypted credentials, ms (default 1000; 0: read the vault
   * for every transform). A busy endpoint's deliveries then cost one vault read per second, not one each. Every other
   * execution reads the vault. A token refresh by this runtime drops the reused copy at once; credentials changed
   * elsewhere (a reconnect, another process's refresh) reach transforms within this time.
   */
  transformCredentialsTtlMs?: number;
}

/** What the runtime is built from. Everything is passed in; nothing is global. */
export interface RuntimeDeps {
  sandbox: SandboxPool;
  /**
   * Where connectors whose manifest says `runtime: "process"` (they need Node APIs) run: a process pool
   * (`createProcessPool`). Without one they are refused with FORBIDDEN; they never run in `sandbox`, which has no
   * Node APIs.
   */
  processPool?: SandboxPool;
  vault: Vault;
  /** Where bundles are loaded from (the marketplace's artifact store, or a dev loader). */
  artifacts: ArtifactStore;
  usage: UsageSink;
  /** Told when a connection must be reconnected (OAuth refresh failed for good). */
  connections?: ConnectionStore;
  /** Cross-process lock for OAuth refresh (Redis); without it refreshes are single-flight per process. */
  lock?: Lock;
  /** Trigger state per connection (poll cursors); default an in-memory store per connection. */
  state?: (tenant: string, connectionId: string) => KeyValueStore;
  /** `config.<key>` references of manifests (OAuth client ids and secrets). */
  platformConfig?: PlatformConfig;
  /** Replaces the egress client (tests); by default one is created from `config.egress`. */
  egress?: EgressClient;
  clock?: Clock;
  logger?: RuntimeLogger;
  config?: RuntimeConfig;
}

/** The connection an execution uses. Secret values come from the vault, never from the caller's plain fields. */
export interface ConnectionRef {
  /** Vault key of the connection's credentials. */
  id: string;
  /** Non-secret connection fields (e.g. Shopify's `shop`); merged with the fields stored in the vault. */
  fields?: Record<string, string>;
}

interface Target {
  tenant: string;
  connector: string;
  version: string;
  connection?: ConnectionRef;
  signal?: AbortSignal;
}

export interface ExecuteInput extends Target {
  action: string;
  params?: Record<string, unknown>;
  /**
   * The caller's own check of the result (as the caller will receive it, secrets redacted), run before the
   * execution is metered: throw a ConnectorError (say INVALID_OUTPUT for a result the caller cannot store) to fail
   * the execution, so usage records it as the error the caller answers, not as `ok`.
   */
  acceptResult?: (data: unknown) => void;
}

export interface TriggerInput extends Target {
  trigger: string;
  operation: TriggerOperation;
  input?: unknown;
}

/** Several webhook deliveries of one trigger, transformed in one execution (see {@link Runtime.transformDeliveries}). */
export interface TransformBatchInput extends Target {
  trigger: string;
  /** The deliveries, each as the single `transform` step takes it. */
  inputs: unknown[];
}

/** One delivery's outcome in a batch: its events, or why it could not be transformed. */
export type TransformOutcome<T = unknown> = { ok: true; events: T[] } | { ok: false; error: ErrorData };

/** Facts about one execution. */
export interface ExecutionMeta {
  executionId: string;
  durationMs: number;
  attempts: number;
  httpCalls: number;
  bytesIn: number;
  bytesOut: number;
}

/** A successful execution. */
export interface ExecutionResult<T = unknown> {
  data: T;
  meta: ExecutionMeta;
}

/**
 * A failed execution: a {@link ConnectorError} (recognise it by `code`) that also carries the execution's
 * `meta`. Its message and details have passed the redactor.
 */
export class ExecutionError extends ConnectorError {
  readonly meta: ExecutionMeta;
  constructor(data: ErrorData, meta: ExecutionMeta) {
    const { code, message, ...extra } = data;
    super(code, message, extra);
    this.name = 'ExecutionError';
    this.meta = meta;
  }
}

/** A loaded connector version. */
export interface LoadedConnector {
  key: string;
  code: string;
  sha256: string;
  manifest: ConnectorManifest;
}

/** The connector runtime. Failed executions reject with {@link ExecutionError}; nothing else is thrown. */
export interface Runtime {
  /** Runs one action: validates params, runs the bundle in the sandbox, validates the output. */
  execute<T = unknown>(input: ExecuteInput): Promise<ExecutionResult<T>>;
  /** "Test connection": runs the manifest's test request with the connection's credentials. */
  authenticate(input: Target): Promise<ExecutionResult<{ ok: true; checked: boolean; status?: number }>>;
  /** One trigger step: subscribe, unsubscribe, transform (a webhook delivery) or poll. */
  executeTrigger<T = unknown>(input: TriggerInput): Promise<ExecutionResult<T>>;
  /**
   * The `transform` step of one trigger for several deliveries in one sandbox execution (one load, one credential
   * read, one thread round trip), with one outcome per delivery in order: a delivery that fails or returns events
   * outside the trigger's output schema fails alone. The whole call rejects only for what concerns them all (an
   * unknown trigger, a sandbox violation, a guest that breaks the batch protocol); callers may then transform the
   * deliveries one by one to find the culprit. Metered as one execution.
   */
  transformDeliveries<T = unknown>(input: TransformBatchInput): Promise<ExecutionResult<TransformOutcome<T>[]>>;
  /** Dry load: evaluates a bundle in the sandbox and answers its validated manifest (no network, no credentials). */
  loadManifest(bundle: { code: string; sha256?: string }): Promise<ConnectorManifest>;
  /** Loads (or answers the cached) connector version. */
  /** `tenant` scopes the lookup: a tenant may see private versions no other tenant can. */
  load(connector: string, version: string, tenant?: string): Promise<LoadedConnector>;
  stats(): { scheduler: ReturnType<Scheduler['stats']>; usageBuffered: number; cachedBundles: number };
  /** Writes buffered usage records now. */
  flushUsage(): Promise<void>;
  /**
   * Refuses new executions (INTERNAL "runtime is closed"), flushes usage and closes the HTTP agent.
   * Idempotent. The sandbox pool and other passed-in dependencies are the caller's to close.
   */
  close(): Promise<void>;
}

/** Host requests of one execution attempt: how many are running, and whether the attempt is over. */
interface Attempt {
  inflight: number;
  ended: boolean;
}

const LOG_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];
/** Reason given to host requests still running when their attempt ended (made once; see egress-client). */
const ATTEMPT_OVER = Object.freeze(Object.assign(new Error('the execution attempt ended'), { name: 'AbortError' }));

/** The manifest's trigger of that name; NOT_FOUND when the connector has none. */
function triggerOf(manifest: ConnectorManifest, name: string): ConnectorManifest['triggers'][number] {
  const trigger = manifest.triggers.find((t) => t.name === name);
  if (!trigger) throw new ConnectorError('NOT_FOUND', `Connector ${manifest.name}@${manifest.version} has no trigger "${name}"`);
  return trigger;
}

/**
 * Creates a runtime.
 * @example
 * const runtime = createRuntime({ sandbox: createSandboxPool(), vault, artifacts, usage, config: { limits: { perTenant: 5, total: 10 } } });
 * const { data, meta } = await runtime.execute({ tenant: 't1', connector: 'stripe', version: '1.0.0', action: 'createCustomer', params: { email }, connection: { id: 'conn_1' } });
 */
export function createRuntime(deps: RuntimeDeps): Runtime {
  const config = deps.config ?? {};
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? silentLogger;
  const allowLoopback = config.allowLoopback ?? false;
  const egress = deps.egress ?? createEgressClient({ ...config.egress, allowLoopback });
  const ownsEgress = !deps.egress;
  const scheduler = createScheduler(config.limits);
  const retry: RetryPolicy = { ...defaultRetryPolicy, ...config.retry };
  const breakers: CircuitBreakers = createCircuitBreakers({ ...config.circuitBreaker, clock });
  const meter: UsageMeter = createUsageMeter({ sink: deps.usage, logger, ...config.usage });
  const connections: ConnectionStore = deps.connections ?? {
    markNeedsReauth: async (tenant, connectionId, reason) => logger.warn('connection needs re-authorisation (no ConnectionStore configured)', { tenant, connectionId, reason }),
  };
  const refresher: TokenRefresher = createTokenRefresher({
    vault: deps.vault,
    egress,
    connections,
    lock: deps.lock,
    platformConfig: deps.platformConfig,
    clock,
    logger,
    ...config.oauth,
  });
  const storeLimits = {
    maxKeyBytes: config.store?.maxKeyBytes ?? 512,
    maxValueBytes: config.store?.maxValueBytes ?? 256 * 1024,
    maxKeys: config.store?.maxKeys ?? 1000,
    maxBytes: config.store?.maxBytes ?? 4 * 1024 * 1024,
  };
  const memoryState = new Map<string, KeyValueStore>();
  const stateFor = (tenant: string, connectionId: string): KeyValueStore => {
    if (deps.state) return deps.state(tenant, connectionId);
    const key = `${tenant}\u0000${connectionId}`;
    let s = memoryState.get(key);
    if (!s) {
      // Lives as long as this process, for every execution on the connection: bounded, or a connector could fill
      // the host's memory one execution after another.
      const data = new Map<string, string>();
      let bytes = 0;
      const sizeOf = (k: string, json: string | undefined) => (json === undefined ? 0 : Buffer.byteLength(k) + Buffer.byteLength(json));
      s = {
        get: async <T>(k: string) => (data.has(k) ? (JSON.parse(data.get(k)!) as T) : undefined),
        set: async (k, v) => {
          const json = JSON.stringify(v ?? null);
          const after = bytes - sizeOf(k, data.get(k)) + sizeOf(k, json);
          if (!data.has(k) && data.size >= storeLimits.maxKeys) {
            throw new ConnectorError('PAYLOAD_TOO_LARGE', `The connection's store already holds ${data.size} keys, the most allowed; delete keys it no longer needs before adding "${cutText(k, 100)}"`);
          }
          if (after > storeLimits.maxBytes) {
            throw new ConnectorError('PAYLOAD_TOO_LARGE', `Storing "${cutText(k, 100)}" would bring the connection's store to ${after} bytes, over its ${storeLimits.maxBytes}-byte limit; keep less state (cursors, not data)`);
          }
          data.set(k, json);
          bytes = after;
        },
        delete: async (k) => {
          bytes -= sizeOf(k, data.get(k));
          data.delete(k);
        },
      };
      memoryState.set(key, s);
    }
    return s;
  };

  // tenant + name@version -> loaded connector; failures are not cached. The tenant is part of the key because the
  // artifact store answers per tenant (private versions), so one tenant's bundle must never serve another.
  const bundles = new Map<string, Promise<LoadedConnector>>();
  const maxBundles = config.maxCachedBundles ?? 500;

  async function manifestFromSandbox(key: string, code: string, sha256: string): Promise<ConnectorManifest> {
    const host: SandboxHost = {
      request: async () => {
        throw new ConnectorError('EGRESS_DENIED', 'A connector cannot make HTTP calls while its manifest is read');
      },
      log: () => undefined,
    };
    const job = { tenant: '__manifest__', bundle: { key, code, sha256 }, call: { kind: 'manifest' as const }, limits: config.sandboxLimits };
    let result = await deps.sandbox.run(job, host);
    // A bundle that imports Node built-ins does not load in QuickJS: it may be a process-tier connector.
    if (!result.ok && deps.processPool) {
      const again = await deps.processPool.run(job, host);
      if (again.ok) result = again;
    }
    if (!result.ok) throw new ConnectorError(result.error.code, `Reading the manifest of ${key} failed: ${result.error.message}`);
    const checked = validateManifest(result.value);
    if (!checked.ok) {
      throw new ConnectorError('INVALID_INPUT', `The manifest of ${key} is invalid: ${formatIssues(checked.issues.slice(0, 5))}`, { path: checked.issues[0]?.path, details: { issues: checked.issues } });
    }
    return result.value as ConnectorManifest;
  }

  async function loadArtifact(name: string, version: string, tenant: string | undefined): Promise<LoadedConnector> {
    const key = `${name}@${version}`;
    let artifact: Artifact | undefined;
    try {
      artifact = await deps.artifacts.get(name, version, tenant === undefined ? undefined : { tenant });
    } catch (error) {
      if (error instanceof ConnectorError) throw error;
      throw new ConnectorError('INTERNAL', `Loading connector ${key} from the artifact store failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (!artifact) throw new ConnectorError('NOT_FOUND', `Connector ${key} is not in the artifact store; install it from the marketplace or check the version`);
    const actual = sha256Hex(artifact.code);
    if (actual !== artifact.sha256.toLowerCase()) {
      throw new ConnectorError('INTERNAL', `Bundle of ${key} does not match its published sha256 (expected ${artifact.sha256}, got ${actual}); refusing to run it. Republish the connector`);
    }
    let manifest: ConnectorManifest;
    if (artifact.manifest) {
      const checked = validateManifest(artifact.manifest);
      if (!checked.ok) throw new ConnectorError('INTERNAL', `The stored manifest of ${key} is invalid: ${formatIssues(checked.issues.slice(0, 5))}; republish the connector`);
      manifest = artifact.manifest;
    } else {
      manifest = await manifestFromSandbox(key, artifact.code, actual);
    }
    if (manifest.name !== name || manifest.version !== version) {
      throw new ConnectorError('INTERNAL', `Artifact ${key} carries the manifest of ${manifest.name}@${manifest.version}; the artifact store is inconsistent`);
    }
    return { key, code: artifact.code, sha256: actual, manifest };
  }

  function load(name: string, version: string, tenant?: string): Promise<LoadedConnector> {
    const key = `${tenant ?? ''}\u0000${name}@${version}`;
    let pending = bundles.get(key);
    if (pending) {
      bundles.delete(key);
      bundles.set(key, pending); // most recently used goes last
      return pending;
    }
    pending = loadArtifact(name, version, tenant);
    bundles.set(key, pending);
    pending.catch(() => bundles.delete(key));
    while (bundles.size > maxBundles) {
      const oldest = bundles.keys().next().value;
      if (oldest === undefined) break;
      bundles.delete(oldest);
    }
    return pending;
  }

  // tenant + connection -> credentials read lately (a promise, so concurrent transforms share one read); transforms only.
  const credentialTtl = config.transformCredentialsTtlMs ?? 1000;
  const recentCredentials = new Map<string, { value: Promise<Credentials | undefined>; expires: number }>();
  const MAX_RECENT_CREDENTIALS = 10_000;
  const credentialKey = (tenant: string, connectionId: string) => `${tenant}\u0000${connectionId}`;

  function readCredentials(tenant: string, connectionId: string, reuse: boolean): Promise<Credentials | undefined> {
    if (!reuse || credentialTtl <= 0) return deps.vault.getCredentials(tenant, connectionId);
    const key = credentialKey(tenant, connectionId);
    const now = clock.now();
    const hit = recentCredentials.get(key);
    if (hit && hit.expires > now) return hit.value;
    const value = deps.vault.getCredentials(tenant, connectionId);
    recentCredentials.set(key, { value, expires: now + credentialTtl });
    value.catch(() => {
      if (recentCredentials.get(key)?.value === value) recentCredentials.delete(key);
    });
    while (recentCredentials.size > MAX_RECENT_CREDENTIALS) {
      const oldest = recentCredentials.keys().next().value;
      if (oldest === undefined) break;
      recentCredentials.delete(oldest);
    }
    return value;
  }

  // Schemas belong to cached manifests, so object identity is a cheap cache key.
  const validators = new WeakMap<object, ReturnType<typeof compileSchema>>();
  function assertSchema(schema: JsonSchema | undefined, value: unknown, what: string, code: ErrorCode, base = ''): void {
    if (!schema) return;
    let fn = validators.get(schema);
    if (!fn) {
      fn = compileSchema(schema);
      validators.set(schema, fn);
    }
    if (fn(value)) return;
    const issues = toIssues(fn.errors, base);
    throw new ConnectorError(code, `Invalid ${what}: ${formatIssues(issues.slice(0, 5))}${issues.length > 5 ? ` (and ${issues.length - 5} more)` : ''}`, {
      path: issues[0]?.path,
      details: { issues },
    });
  }

  interface Plan {
    label: string;
    call: SandboxCall;
    /** Retries are allowed only for idempotent operations. */
    idempotent: boolean | ((manifest: ConnectorManifest) => boolean);
    /** May use credentials read by a recent execution on the same connection (see `transformCredentialsTtlMs`). */
    reuseCredentials?: boolean;
    check?: (manifest: ConnectorManifest) => void;
    validateOutput?: (manifest: ConnectorManifest, value: unknown) => void;
    /** See ExecuteInput.acceptResult. */
    acceptResult?: (data: unknown) => void;
  }

  let closing: Promise<void> | undefined;

  async function run<T>(target: Target, plan: Plan): Promise<ExecutionResult<T>> {
    if (closing) throw new ExecutionError({ code: 'INTERNAL', message: 'The connector runtime is shutting down; send the execution to another instance' }, { executionId: randomUUID(), durationMs: 0, attempts: 0, httpCalls: 0, bytesIn: 0, bytesOut: 0 });
    const executionId = randomUUID();
    const startedAt = clock.now();
    const stats: EgressStats = { httpCalls: 0, bytesIn: 0, bytesOut: 0 };
    let attempts = 0;
    const secrets = new Set<string>();
    const meta = (): ExecutionMeta => ({ executionId, durationMs: Math.max(0, clock.now() - startedAt), attempts, ...stats });
    // Rebuilt only when a secret was added (e.g. a refreshed token).
    let cachedRedactor: { size: number; redactor: ReturnType<typeof createRedactor> } | undefined;
    const redactor = () => {
      if (!cachedRedactor || cachedRedactor.size !== secrets.size) cachedRedactor = { size: secrets.size, redactor: createRedactor(secrets) };
      return cachedRedactor.redactor;
    };
    let outcome: { status: 'ok' } | { status: 'error'; code: ErrorCode } = { status: 'ok' };
    try {
      const data = await scheduler.run(target.tenant, async () => {
        const loaded = await load(target.connector, target.version, target.tenant);
        const { manifest } = loaded;
        const pool = manifest.runtime === 'process' ? deps.processPool : deps.sandbox;
        if (!pool) {
          throw new ConnectorError('FORBIDDEN', `${manifest.name}@${manifest.version} runs in the process tier (runtime: "process", for connectors that need Node APIs), which this runtime does not offer; an operator can enable it (see the process tier in ARCHITECTURE.md)`);
        }
        plan.check?.(manifest);
        const idempotent = typeof plan.idempotent === 'function' ? plan.idempotent(manifest) : plan.idempotent;
        const spec = manifest.auth;
        let credentials: Credentials | undefined;
        if (target.connection) credentials = await readCredentials(target.tenant, target.connection.id, plan.reuseCredentials === true);
        if (spec.type !== 'none' && !credentials) {
          throw new ConnectorError('AUTH_FAILED', target.connection
            ? `Connection ${target.connection.id} has no stored credentials for ${manifest.name}; connect the account first`
            : `${manifest.name} needs a connection (auth ${spec.type}); pass connection: { id }`);
        }
        const addSecrets = (c: Credentials | undefined) => {
          for (const s of secretsOf(c, spec)) secrets.add(s);
        };
        addSecrets(credentials);
        if (spec.type === 'oauth2' && spec.clientSecret?.startsWith('config.')) {
          const value = deps.platformConfig?.(manifest.name, spec.clientSecret.slice('config.'.length));
          if (value) secrets.add(value);
        } else if (spec.type === 'oauth2' && spec.clientSecret) {
          secrets.add(spec.clientSecret);
        }
        const secretFieldNames = new Set(Object.entries(spec.fields ?? {}).filter(([, f]) => f.secret).map(([n]) => n));
        const allFields: Record<string, string> = { ...(credentials?.fields ?? {}), ...(target.connection?.fields ?? {}) };
        const guestFields = Object.fromEntries(Object.entries(allFields).filter(([n]) => !secretFieldNames.has(n)));
        const baseUrlOverride = config.baseUrlOverrides?.[manifest.name];

        for (;;) {
          attempts++;
          const attemptAbort = new AbortController();
          const signal = target.signal ? AbortSignal.any([target.signal, attemptAbort.signal]) : attemptAbort.signal;
          const attempt: Attempt = { inflight: 0, ended: false };
          const host = createHost({ manifest, tenant: target.tenant, connectionId: target.connection?.id, executionId, stats, signal, attempt, guestFields, allFields, baseUrlOverride, redactor, secrets, getCredentials: () => credentials, setCredentials: (c) => { credentials = c; addSecrets(c); if (target.connection) recentCredentials.delete(credentialKey(target.tenant, target.connection.id)); } });
          let result;
          try {
            result = await pool.run(
              { tenant: target.tenant, bundle: { key: loaded.key, code: loaded.code, sha256: loaded.sha256 }, call: plan.call, connection: { fields: guestFields }, limits: config.sandboxLimits },
              host,
            );
          } finally {
            // Aborting dispatches an event; only requests still running need it, later ones are refused.
            attempt.ended = true;
            if (attempt.inflight > 0) attemptAbort.abort(ATTEMPT_OVER);
          }
          if (result.ok) {
            plan.validateOutput?.(manifest, result.value);
            return result.value;
          }
          const delay = idempotent ? retryDelayMs(attempts, result.error, retry) : undefined;
          if (delay === undefined) throw result.error;
          logger.info('retrying execution', { executionId, attempt: attempts, code: result.error.code, delayMs: delay });
          await clock.sleep(delay, target.signal);
        }
      }, target.signal);
      const redacted = redactor().value(data);
      plan.acceptResult?.(redacted);
      return { data: redacted as T, meta: meta() };
    } catch (error) {
      const data = redactor().value(toErrorData(error));
      outcome = { status: 'error', code: data.code };
      throw new ExecutionError(data, meta());
    } finally {
      const m = meta();
      meter.record({
        executionId,
        tenant: target.tenant,
        connector: target.connector,
        version: target.version,
        action: plan.label,
        status: outcome.status,
        ...(outcome.status === 'error' ? { code: outcome.code } : {}),
        durationMs: m.durationMs,
        attempts,
        httpCalls: stats.httpCalls,
        bytesIn: stats.bytesIn,
        bytesOut: stats.bytesOut,
        startedAt,
      });
    }
  }

  /** The key, when it is a string within the store's key limit; throws PAYLOAD_TOO_LARGE or INVALID_INPUT otherwise. */
  function checkStoreKey(key: string): string {
    if (typeof key !== 'string' || key.length === 0) throw new ConnectorError('INVALID_INPUT', 'A store key must be a non-empty string', { path: '/key' });
    const bytes = Buffer.byteLength(key);
    if (bytes > storeLimits.maxKeyBytes) {
      throw new ConnectorError('PAYLOAD_TOO_LARGE', `A store key of ${bytes} bytes is over the ${storeLimits.maxKeyBytes}-byte limit; use short keys ("${cutText(key, 40)}...")`, { path: '/key' });
    }
    return key;
  }

  function createHost(ctx: {
    manifest: ConnectorManifest;
    tenant: string;
    connectionId: string | undefined;
    executionId: string;
    stats: EgressStats;
    signal: AbortSignal;
    attempt: Attempt;
    guestFields: Record<string, string>;
    allFields: Record<string, string>;
    baseUrlOverride: string | undefined;
    redactor: () => ReturnType<typeof createRedactor>;
    secrets: Set<string>;
    getCredentials: () => Credentials | undefined;
    setCredentials: (c: Credentials) => void;
  }): SandboxHost {
    const { manifest } = ctx;
    const spec = manifest.auth;
    const oauthTarget = spec.type === 'oauth2' && ctx.connectionId
      ? { tenant: ctx.tenant, connectionId: ctx.connectionId, manifest: { name: manifest.name, hosts: manifest.hosts, baseUrl: manifest.baseUrl, auth: spec as OAuth2AuthSpec }, fields: ctx.allFields, stats: ctx.stats }
      : undefined;
    const state = ctx.connectionId ? stateFor(ctx.tenant, ctx.connectionId) : undefined;
    // A token the provider refused is refreshed at most once per attempt, so a connector that keeps
    // calling a 401 endpoint cannot turn into a refresh storm.
    let refreshedAfter401 = false;

    async function send(request: HttpRequest, breakerKey: string): Promise<{ response: HttpResponse; token: string | undefined }> {
      let credentials = ctx.getCredentials();
      if (oauthTarget && credentials) {
        const fresh = await refresher.ensureFresh(oauthTarget, credentials);
        if (fresh !== credentials) ctx.setCredentials(fresh);
        credentials = fresh;
      }
      breakers.check(breakerKey);
      try {
        const response = await egress.send({
          manifest,
          fields: ctx.allFields,
          urlFields: ctx.guestFields,
          request,
          authorize: (t) => applyAuth(t, spec, credentials),
          stats: ctx.stats,
          signal: ctx.signal,
          baseUrlOverride: ctx.baseUrlOverride,
        });
        if (response.status >= 500) breakers.failure(breakerKey);
        else breakers.success(breakerKey);
        return { response, token: credentials?.accessToken };
      } catch (error) {
        const code = (error as { code?: string }).code;
        // Only the provider's health counts; a refused or oversized request says nothing about it.
        if (code === 'NETWORK_ERROR' || code === 'TIMEOUT') breakers.failure(breakerKey);
        throw error;
      }
    }

    return {
      async request(request) {
        ctx.attempt.inflight++;
        try {
          if (ctx.attempt.ended) throw new ConnectorError('INTERNAL', 'The execution attempt that made this request has ended; the request was not sent');
          if (typeof request !== 'object' || request === null) throw new ConnectorError('INVALID_INPUT', 'A request must be an object { method, url }');
          const url = resolveRequestUrl(manifest, ctx.allFields, request.url, undefined, ctx.baseUrlOverride, ctx.guestFields);
          const breakerKey = `${manifest.name}|${url.host}`;
          let { response, token } = await send(request, breakerKey);
          if (response.status === 401 && oauthTarget && token && !refreshedAfter401) {
            refreshedAfter401 = true;
            // The provider refused the token: refresh once (unless another worker already did) and retry once.
            const current = ctx.getCredentials();
            if (current) {
              const fresh = await refresher.ensureFresh(oauthTarget, current, { rejectedToken: token });
              ctx.setCredentials(fresh);
              ({ response, token } = await send(request, breakerKey));
            }
          }
          // The guest must never see a secret, even one the provider echoes back.
          return ctx.redactor().value(response);
        } catch (error) {
          throw ctx.redactor().value(toErrorData(error));
        } finally {
          ctx.attempt.inflight--;
        }
      },
      log(level, message, data) {
        const r = ctx.redactor();
        const lvl = LOG_LEVELS.includes(level) ? level : 'info';
        logger[lvl](r.text(String(message)), { executionId: ctx.executionId, connector: manifest.name, tenant: ctx.tenant, source: 'connector', ...(data === undefined ? {} : { data: r.value(data) }) });
      },
      ...(state
        ? {
            storeGet: async (key: string) => state.get(checkStoreKey(key)),
            storeSet: async (key: string, value: unknown) => {
              checkStoreKey(key);
              const bytes = Buffer.byteLength(JSON.stringify(value ?? null));
              if (bytes > storeLimits.maxValueBytes) {
                throw new ConnectorError('PAYLOAD_TOO_LARGE', `The value for store key "${cutText(key, 100)}" is ${bytes} bytes as JSON, over the ${storeLimits.maxValueBytes}-byte limit; keep state small (cursors, ids)`, { path: '/value' });
              }
              await state.set(key, value);
            },
            storeDelete: async (key: string) => state.delete(checkStoreKey(key)),
          }
        : {}),
    };
  }

  return {
    execute<T>(input: ExecuteInput) {
      const params = input.params ?? {};
      return run<T>(input, {
        label: input.action,
        call: { kind: 'action', action: input.action, params },
        idempotent: (manifest) => manifest.actions.find((a) => a.name === input.action)?.idempotent === true,
        check(manifest) {
          const action = manifest.actions.find((a) => a.name === input.action);
          if (!action) {
            throw new ConnectorError('NOT_FOUND', `Connector ${manifest.name}@${manifest.version} has no action "${input.action}" (actions: ${manifest.actions.map((a) => a.name).join(', ') || 'none'})`);
          }
          assertSchema(action.params, params, `params of ${manifest.name}.${action.name}`, 'INVALID_INPUT');
        },
        validateOutput(manifest, value) {
          const action = manifest.actions.find((a) => a.name === input.action);
          assertSchema(action?.output, value, `output of ${manifest.name}.${input.action} (the connector returned data that does not match its declared output schema)`, 'INVALID_OUTPUT');
        },
        ...(input.acceptResult ? { acceptResult: input.acceptResult } : {}),
      });
    },
    authenticate(input) {
      return run(input, { label: 'authenticate', call: { kind: 'authenticate' }, idempotent: true });
    },
    executeTrigger<T>(input: TriggerInput) {
      const readOnly = input.operation === 'poll' || input.operation === 'transform';
      return run<T>(input, {
        label: `trigger:${input.trigger}:${input.operation}`,
        call: { kind: 'trigger', trigger: input.trigger, operation: input.operation, input: input.input ?? null },
        idempotent: readOnly,
        reuseCredentials: input.operation === 'transform',
        check(manifest) {
          triggerOf(manifest, input.trigger);
        },
        validateOutput(manifest, value) {
          const schema = triggerOf(manifest, input.trigger).output;
          if (!schema) return;
          const what = `event of ${manifest.name}.${input.trigger}`;
          if (input.operation === 'poll') {
            const items = (value as { items?: unknown[] } | null)?.items ?? [];
            items.forEach((item, i) => assertSchema(schema, item, what, 'INVALID_OUTPUT', `/items/${i}`));
          } else if (input.operation === 'transform' && Array.isArray(value)) {
            value.forEach((event, i) => assertSchema(schema, event, what, 'INVALID_OUTPUT', `/${i}`));
          }
        },
      });
    },
    async transformDeliveries<T>(input: TransformBatchInput): Promise<ExecutionResult<TransformOutcome<T>[]>> {
      if (!Array.isArray(input.inputs)) {
        throw new ExecutionError({ code: 'INVALID_INPUT', message: 'transformDeliveries needs inputs: an array of webhook deliveries', path: '/inputs' }, { executionId: randomUUID(), durationMs: 0, attempts: 0, httpCalls: 0, bytesIn: 0, bytesOut: 0 });
      }
      let schema: JsonSchema | undefined;
      let what = '';
      const result = await run<unknown>(input, {
        label: `trigger:${input.trigger}:transform`,
        call: { kind: 'transforms', trigger: input.trigger, inputs: input.inputs },
        idempotent: true,
        reuseCredentials: true,
        check(manifest) {
          schema = triggerOf(manifest, input.trigger).output;
          what = `event of ${manifest.name}.${input.trigger}`;
        },
        validateOutput(_manifest, value) {
          if (!Array.isArray(value) || value.length !== input.inputs.length) {
            throw new ConnectorError('INVALID_OUTPUT', `The sandbox answered a batch of ${input.inputs.length} transforms with ${Array.isArray(value) ? value.length : typeof value} outcomes`);
          }
        },
      });
      // Only for the wording of memory and stack faults (the pool has checked the limits themselves).
      const limits = { ...DEFAULT_SANDBOX_LIMITS, ...config.sandboxLimits };
      const outcomes = (result.data as unknown[]).map((raw): TransformOutcome<T> => {
        const outcome = (typeof raw === 'object' && raw !== null ? raw : {}) as { ok?: unknown; value?: unknown; error?: unknown };
        if (outcome.ok !== true) return { ok: false, error: vetGuestError(outcome.error, limits) };
        if (!Array.isArray(outcome.value)) return { ok: false, error: { code: 'INVALID_OUTPUT', message: `The transform of ${input.trigger} returned ${outcome.value === null ? 'null' : typeof outcome.value}, not an array of events` } };
        try {
          outcome.value.forEach((event, i) => assertSchema(schema, event, what, 'INVALID_OUTPUT', `/${i}`));
        } catch (error) {
          return { ok: false, error: toErrorData(error) };
        }
        return { ok: true, events: outcome.value as T[] };
      });
      return { data: outcomes, meta: result.meta };
    },
    async loadManifest(bundle) {
      const sha = sha256Hex(bundle.code);
      if (bundle.sha256 && bundle.sha256.toLowerCase() !== sha) {
        throw new ConnectorError('INVALID_INPUT', `Bundle does not match the sha256 given (expected ${bundle.sha256}, got ${sha})`);
      }
      return manifestFromSandbox(`dry-load@${sha.slice(0, 12)}`, bundle.code, sha);
    },
    load,
    stats: () => ({ scheduler: scheduler.stats(), usageBuffered: meter.buffered(), cachedBundles: bundles.size }),
    flushUsage: () => meter.flush(),
    close() {
      closing ??= (async () => {
        // Let running executions finish (they are bounded by their deadlines) before closing the agent.
        while (scheduler.stats().running > 0 || scheduler.stats().queued > 0) await clock.sleep(10);
        await meter.close();
        // Refreshed OAuth tokens the vault refused earlier: one last try, and a clear log line for what is still lost.
        // Bounded: with Redis (its lock) or the vault unreachable, a shutdown must still end.
        let flushTimer: ReturnType<typeof setTimeout> | undefined;
        const unstored = await Promise.race([
          refresher.flushUnstored(),
          new Promise<undefined>((resolve) => (flushTimer = setTimeout(() => resolve(undefined), 5_000))),
        ])
          .catch(() => undefined)
          .finally(() => clearTimeout(flushTimer));
        if (unstored !== 0) logger.error('refreshed OAuth tokens could not be stored before shutdown; those connections need re-authorisation if their provider rotates refresh tokens', { connections: unstored ?? 'unknown' });
        if (ownsEgress) await egress.close();
      })();
      return closing;
    },
  };
}
