import { AsyncLocalStorage } from 'node:async_hooks';
import {
  createRedisLock,
  createRuntime,
  createProcessPool,
  createSandboxPool,
  type Artifact,
  type ArtifactStore,
  type ConnectionStore,
  type PlatformConfig,
  type Runtime,
  type RuntimeConfig,
  type SandboxPool,
  type UsageRecord,
  type UsageSink,
  type Vault,
} from '@businessos/connector-runtime';
import type { ServerConfig } from '../config.ts';
import { ENTER_TENANT_SQL, type Db } from '../db/db.ts';
import { keepableText } from '../db/keepable.ts';
import { markNeedsReauth } from '../installations/connection-status.ts';
import { createDbConnectionState } from './connection-state.ts';
import { createDbArtifactStore } from '../publishing/artifact-store.ts';
import { createDbImageStore } from './sandbox-images.ts';
import { quitOrDrop } from '@businessos/connector-triggers';
import { createRedis } from '../scale/redis.ts';

/** The connector runtime of the service process, with what it was built from. */
export interface ServiceRuntime {
  runtime: Runtime;
  /**
   * The test/development egress switch it was built with (`ServiceRuntimeOptions.allowLoopback`): the service's own
   * calls to a provider's OAuth2 endpoints follow the same setting (see `buildApp`). Absent means false.
   */
  readonly allowLoopback?: boolean;
  /** Runs `fn` with `tenantId` as the tenant whose private listings the artifact store may load. */
  asTenant<T>(tenantId: string, fn: () => Promise<T>): Promise<T>;
  /** Keeps an `?async=true` execution alive until it settles: `close()` waits for these before stopping the runtime. */
  background(work: Promise<unknown>): void;
  /** Flushes usage, stops the runtime and (when it owns it) the sandbox pool. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link createServiceRuntime}. */
export interface ServiceRuntimeOptions {
  db: Db;
  vault: Vault;
  config: ServerConfig;
  /**
   * Test and development only: lets connectors call loopback mock APIs over plain http
   * (`BOS_EGRESS_ALLOW_LOOPBACK=1`). Never set in production: it opens the service's own network to connector code.
   */
  allowLoopback?: boolean;
  /** A sandbox pool to use (closed by its owner); by default one is created for the process and closed by `close()`. */
  sandbox?: SandboxPool;
  /** Further runtime settings (limits, retry, usage batching). */
  runtimeConfig?: RuntimeConfig;
}

/**
 * Reads the test/dev-only egress switch from the environment: `BOS_EGRESS_ALLOW_LOOPBACK=1` lets connectors reach
 * 127.0.0.1 mock APIs over http. Anything else (or unset) keeps loopback and private addresses refused.
 */
export function allowLoopbackFromEnv(env: Record<string, string | undefined>): boolean {
  return env.BOS_EGRESS_ALLOW_LOOPBACK?.trim() === '1';
}

/**
 * Usage records in batches into `connectors.usage_records`: one transaction (one commit) per batch, with one INSERT
 * per tenant in it, each under that tenant's row-level security. A NUL character or lone surrogate in a name is
 * written as U+FFFD: one such record would fail its whole batch, and the meter retries a failed batch as it is, so
 * it would block every usage record after it.
 */
export function createDbUsageSink(db: Db): UsageSink {
  return {
    async write(records: UsageRecord[]) {
      const byTenant = new Map<string, UsageRecord[]>();
      for (const r of records) {
        const list = byTenant.get(r.tenant);
        if (list) list.push(r);
        else byTenant.set(r.tenant, [r]);
      }
      // A busy delivery processor records one execution per delivery: a statement or a commit per record would cost
      // the database more than the rest of the delivery.
      await db.transaction(async (tx) => {
        for (const [tenant, batch] of byTenant) {
          await tx.query(ENTER_TENANT_SQL, [tenant]);
          await tx.query(
            `INSERT INTO connectors.usage_records (tenant_id, connector_name, connector_version, action, status, error_code, duration_ms, attempts, created_at)
             SELECT $1::uuid, u.c, u.v, u.a, u.s, u.e, u.d, u.n, to_timestamp(u.t / 1000)
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[], $9::float8[]) AS u(c, v, a, s, e, d, n, t)`,
            [
              tenant,
              batch.map((r) => keepableText(r.connector)),
              batch.map((r) => keepableText(r.version)),
              batch.map((r) => keepableText(r.action)),
              batch.map((r) => r.status),
              batch.map((r) => (r.code === undefined ? null : keepableText(r.code))),
              batch.map((r) => Math.round(r.durationMs)),
              batch.map((r) => r.attempts),
              batch.map((r) => r.startedAt),
            ],
          );
        }
      });
    },
  };
}

/** Marks connections whose OAuth refresh failed for good as `needs_reauth`, with the reason. */
export function createDbConnectionStore(db: Db): ConnectionStore {
  return {
    async markNeedsReauth(tenant, connectionId, reason) {
      await db.withTenant(tenant, (tx) => markNeedsReauth(tx, connectionId, reason));
    },
  };
}

/** `config.<key>` lookups of manifests answered from `BOS_OAUTH_APPS`. */
export function platformConfigFrom(config: ServerConfig): PlatformConfig {
  return (connector, key) => config.oauthApps[connector]?.[key];
}

/** A pool made by `make` when it is first given a job; closing one never made makes nothing. */
function lazyPool(make: () => SandboxPool): SandboxPool {
  let pool: SandboxPool | undefined;
  const idle = { workers: 0, busyWorkers: 0, queued: 0, warmSandboxes: 0, executions: 0, violations: 0, workerRestarts: 0, quarantined: 0 };
  return {
    run: (job, host) => (pool ??= make()).run(job, host),
    stats: () => pool?.stats() ?? idle,
    quarantined: () => pool?.quarantined() ?? [],
    clearQuarantine: (bundleKey, tenant) => pool?.clearQuarantine(bundleKey, tenant),
    close: async () => pool?.close(),
  };
}

/**
 * Builds the process's runtime over the store: one sandbox pool, the vault, published artifacts from the
 * marketplace tables, usage into `usage_records`, connection status updates, and each connection's `ctx.store` in
 * `connection_state`.
 * @example const rt = createServiceRuntime({ db, vault, config }); await rt.asTenant(t, () => rt.runtime.execute(...)); await rt.close();
 */
export function createServiceRuntime(options: ServiceRuntimeOptions): ServiceRuntime {
  const { db } = options;
  const tenantContext = new AsyncLocalStorage<string>();
  const globalArtifacts = createDbArtifactStore(db);
  const artifacts: ArtifactStore = {
    async get(name: string, version: string, scope?: { tenant: string }): Promise<Artifact | undefined> {
      const tenantId = scope?.tenant ?? tenantContext.getStore();
      return tenantId ? createDbArtifactStore(db, { tenantId }).get(name, version) : globalArtifacts.get(name, version);
    },
  };
  const ownsSandbox = !options.sandbox;
  // Sandbox images in the store: a version published (its dry load took the image) or loaded by any other process
  // starts here without parsing its bundle.
  const sandbox = options.sandbox ?? createSandboxPool({ images: createDbImageStore(db) });
  // With REDIS_URL, OAuth token refreshes are single-flight across every API and worker process.
  const lockRedis = options.config.redisUrl ? createRedis(options.config.redisUrl) : undefined;
  // Built at the first process-tier job: checking whether this machine can build the jail starts a process.
  const processPool = options.config.processTier === 'off' ? undefined : lazyPool(() => createProcessPool({ allowWithoutNetworkIsolation: options.config.processTier === 'unjailed' }));
  const runtime = createRuntime({
    sandbox,
    ...(processPool ? { processPool } : {}),
    ...(lockRedis ? { lock: createRedisLock({ redis: lockRedis, prefix: `${options.config.redisPrefix}:oauth-lock:` }) } : {}),
    vault: options.vault,
    artifacts,
    usage: createDbUsageSink(db),
    connections: createDbConnectionStore(db),
    // `ctx.store` in the database: it survives restarts and is the same in every API and worker process.
    state: createDbConnectionState(db, options.runtimeConfig?.store),
    platformConfig: platformConfigFrom(options.config),
    config: {
      ...options.runtimeConfig,
      // Up to 1,000 records per write (still at least once a second): each write is one commit.
      usage: { batchSize: 1000, ...options.runtimeConfig?.usage },
      // The configured limits; with Redis the cross-worker semaphore holds the same ones across processes.
      limits: { perTenant: options.config.limits.executionsPerTenant, total: options.config.limits.executionsTotal, ...options.runtimeConfig?.limits },
      allowLoopback: options.allowLoopback === true,
    },
  });
  let closing: Promise<void> | undefined;
  const pending = new Set<Promise<unknown>>();
  return {
    runtime,
    allowLoopback: options.allowLoopback === true,
    asTenant: (tenantId, fn) => tenantContext.run(tenantId, fn),
    background(work) {
      const tracked = work.then(
        () => undefined,
        () => undefined,
      );
      pending.add(tracked);
      void tracked.finally(() => pending.delete(tracked));
    },
    close() {
      closing ??= (async () => {
        // Asynchronous executions already accepted finish (and record their outcome) before the runtime stops.
        await Promise.allSettled([...pending]);
        try {
          await runtime.close();
        } finally {
          if (ownsSandbox) await sandbox.close();
          await processPool?.close();
          // A lock command queued while Redis is away would hold a plain quit() for the whole outage.
          if (lockRedis) await quitOrDrop(lockRedis).catch(() => undefined);
        }
      })();
      return closing;
    },
  };
}
