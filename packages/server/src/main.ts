import path from 'node:path';
import { createVault, loadOrCreateMasterKeyFile, type RuntimeConfig } from '@businessos/connector-runtime';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { bootstrapPlatform, writeAdminKeyFile } from './bootstrap.ts';
import { configOrReport, type ServerConfig } from './config.ts';
import type { Db } from './db/db.ts';
import { migrate } from './db/migrate.ts';
import { deferredDb } from './db/deferred.ts';
import { openDb } from './db/open.ts';
import { allowLoopbackFromEnv, createServiceRuntime, type ServiceRuntime } from './execution/service-runtime.ts';
import { seedBundledConnectors } from './marketplace/seed.ts';
import { startScaleOut, type ScaleOut } from './scale/scale-out.ts';
import { createPgVaultStore } from './vault/pg-vault-store.ts';
import type { PollingService } from './polling/polling-service.ts';
import { createTriggerWork, type TriggerWork } from './triggers/trigger-work.ts';
import { registerWebApp } from '@businessos/web/serve';

/** A running service and how to stop it. */
export interface RunningServer {
  app: FastifyInstance;
  db: Db;
  /** The address it listens on, e.g. `http://127.0.0.1:3000`. */
  address: string;
  /** Opening the store, migrations, bootstrap and seeding; the service listens (liveness) before this settles. */
  startup: Promise<void>;
  /** Polling triggers of this process (undefined without a master key, i.e. without a runtime). */
  polling: PollingService | undefined;
  /**
   * Stops accepting connections, lets in-flight requests finish (up to the grace period), drains the work in hand,
   * closes the store. Ends during a Redis outage too: the Redis-backed parts give up on it after a few seconds.
   */
  stop(): Promise<void>;
}

/**
 * Opens the store, applies migrations, bootstraps the platform admin on an empty store, and listens.
 * @example const server = await startServer(loadConfig(process.env)); await server.stop();
 */
export async function startServer(
  given: ServerConfig,
  log: (line: string) => void = console.log,
  options: { allowLoopbackEgress?: boolean; runtimeConfig?: RuntimeConfig } = {},
): Promise<RunningServer> {
  // Embedded mode keeps a generated master key beside the store, so connections work out of the box.
  const masterKey = given.masterKey ?? (given.databaseUrl ? undefined : (await loadOrCreateMasterKeyFile(path.join(given.dataDir, 'master.key'))).key);
  if (!masterKey) log('No BOS_MASTER_KEY: connections cannot store credentials until one is configured.');
  const config: ServerConfig = { ...given, masterKey };
  const opening = openDb(config);
  const db = deferredDb(opening, config.databaseUrl ? 'postgres' : 'pglite');
  const vault = masterKey ? createVault({ store: createPgVaultStore(db), masterKey, previousMasterKeys: given.previousMasterKeys }) : undefined;
  // One runtime (and sandbox pool) for the process; loopback egress only when explicitly asked (tests, development).
  const runtime: ServiceRuntime | undefined = vault ? createServiceRuntime({ db, vault, config, allowLoopback: options.allowLoopbackEgress === true, ...(options.runtimeConfig ? { runtimeConfig: options.runtimeConfig } : {}) }) : undefined;
  // Webhook triggers, the events outbox and polling. With REDIS_URL and BOS_API_WORKER=0 this process only receives:
  // webhook transforms, renewals and polls run in `npm run worker` processes, as executions do.
  const triggerWork: TriggerWork | undefined =
    runtime && vault ? createTriggerWork({ db, runtime, vault, config, background: !config.redisUrl || config.apiWorker, log }) : undefined;
  const triggers = triggerWork?.triggers;
  // With REDIS_URL: the response cache, the execution queue and (unless BOS_API_WORKER=0) a worker in this process.
  const scale: ScaleOut | undefined = config.redisUrl ? startScaleOut({ config, db, runtime, log }) : undefined;
  if (options.allowLoopbackEgress) log('BOS_EGRESS_ALLOW_LOOPBACK=1: connectors may call loopback addresses over http (test/development only).');
  // The store's part of start-up. Stopping waits for it (its transactions finish before the store closes), but not for
  // the steps after it that wait for Redis: during an outage they would never end.
  const stored = (async () => {
    const store = await opening;
    await migrate(store);
    const boot = await bootstrapPlatform(store);
    if (boot.secret) {
      const lines = ['', '  Platform admin API key (shown once, store it now):', `    ${boot.secret}`];
      if (!config.databaseUrl) lines.push(`  Also written to ${await writeAdminKeyFile(config.dataDir, boot.secret)} (mode 0600).`);
      log(lines.concat('').join('\n'));
    }
    for (const outcome of await seedBundledConnectors(store)) {
      if (outcome.status === 'failed') log(`Bundled connector ${outcome.packageName} was not added to the catalogue: ${outcome.error}`);
    }
  })();
  const startup = (async () => {
    await stored;
    await triggerWork?.start();
    await scale?.cache.invalidate({ catalog: true });
    // The in-process worker is listed as live before the service reports ready.
    await scale?.worker?.ready;
  })();
  startup.catch(() => {});
  let app: FastifyInstance;
  let address: string;
  try {
    app = await buildApp({ config, db, logger: { level: config.logLevel }, startup, ...(vault ? { vault } : {}), ...(runtime ? { runtime } : {}), ...(triggers ? { triggers } : {}), ...(scale ? { cache: scale.cache, executionQueue: scale.queue } : {}) });
    // The marketplace page (packages/web), served at `/` for GET requests no API route matched.
    await registerWebApp(app, { required: false });
    address = await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await stored.catch(() => {});
    await scale?.close();
    await triggerWork?.close();
    await runtime?.close();
    await db.close();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const grace = setTimeout(() => app.server.closeAllConnections(), config.limits.shutdownGraceSeconds * 1000);
      // Keep-alive connections that finish their last request while we drain would otherwise linger until the grace
      // period ends: drop them as soon as they go idle.
      const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
      try {
        await app.close();
      } finally {
        clearTimeout(grace);
        clearInterval(sweep);
        // Before the runtime stops, the in-process worker drains the jobs in hand (recording their outcome) and polls in
        // progress finish; BullMQ schedules stay for the next start. The two are independent, so they close side by
        // side: while Redis is unreachable each gives up on it after a few seconds, and those waits do not add up.
        await Promise.all([
          scale?.close().catch((error: unknown) => log(`Closing the execution queue failed: ${(error as Error).message}`)),
          triggerWork?.close(),
        ]);
        // Flush buffered usage and stop the sandbox pool while the store is still open.
        await runtime?.close().catch((error: unknown) => log(`Closing the connector runtime failed: ${(error as Error).message}`));
        // Let start-up work finish its transaction before the store closes under it.
        await stored.catch(() => {});
        await db.close();
      }
    })();
    return stopping;
  };
  return { app, db, address, startup, polling: triggerWork?.polling.service, stop };
}

/**
 * Entry point of `npm start`: reads the environment once, runs until SIGTERM/SIGINT, and resolves to the exit code.
 */
export async function main(_argv: string[] = []): Promise<number> {
  const config = configOrReport(process.env);
  if (!config) return 2;
  let server: RunningServer;
  try {
    server = await startServer(config, console.log, { allowLoopbackEgress: allowLoopbackFromEnv(process.env) });
  } catch (error) {
    console.error(`The connectors service could not start: ${(error as Error).message}`);
    return 1;
  }
  server.app.log.info({ address: server.address, store: config.databaseUrl ? 'postgres' : `pglite (${config.dataDir}/pglite)` }, 'connectors service listening');
  return new Promise<number>((resolve) => {
    server.startup.then(
      () => server.app.log.info('start-up complete: store migrated and catalogue seeded'),
      (error: unknown) => {
        console.error(`The connectors service could not start: ${(error as Error).message}`);
        server.stop().finally(() => resolve(1));
      },
    );
    const onSignal = (signal: NodeJS.Signals): void => {
      server.app.log.info({ signal }, 'shutting down: draining in-flight requests');
      process.once(signal, () => process.exit(130));
      server.stop().then(
        () => resolve(0),
        (error: unknown) => {
          console.error(`Shutdown failed: ${(error as Error).message}`);
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
}
