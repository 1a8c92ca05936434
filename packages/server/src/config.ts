import path from 'node:path';

/** Every setting of the connectors service, parsed and validated once at start-up. */
export interface ServerConfig {
  /** TCP port to listen on (`PORT`, default 3000). */
  port: number;
  /** Interface to bind (`HOST`, default 0.0.0.0). */
  host: string;
  /** PostgreSQL connection string (`DATABASE_URL`); when absent the embedded PGlite store is used. */
  databaseUrl: string | undefined;
  /** Redis connection string (`REDIS_URL`); when absent everything runs in one process. */
  redisUrl: string | undefined;
  /** Prefix of every Redis key, queue and cache entry of this deployment (`BOS_REDIS_PREFIX`, default `bos`). */
  redisPrefix: string;
  /**
   * With Redis: whether `npm start` also consumes the execution queue and runs the background trigger work
   * (`BOS_API_WORKER`, default 1). Set 0 on API nodes when `npm run worker` processes do both.
   */
  apiWorker: boolean;
  /** 32-byte key that encrypts stored credentials (`BOS_MASTER_KEY`, base64 or hex). */
  masterKey: Buffer | undefined;
  /** Master keys still accepted while a rotation runs (`BOS_PREVIOUS_MASTER_KEYS`, comma-separated). */
  previousMasterKeys: Buffer[];
  /** Folder for the embedded store and the bootstrap admin key (`BOS_DATA_DIR`, default ./data), absolute. */
  dataDir: string;
  /** Base URL the service is reachable at from browsers and providers (`BOS_PUBLIC_URL`), without a trailing slash. */
  publicUrl: string;
  /**
   * OAuth apps the platform registered with providers, per connector name (`BOS_OAUTH_APPS`, JSON:
   * `{"shopify": {"client_id": "...", "client_secret": "..."}}`); manifests refer to them as `config.client_id`.
   */
  oauthApps: Record<string, Record<string, string>>;
  /**
   * npm registry that approved versions are also published to (`BOS_NPM_REGISTRY`, with `BOS_NPM_TOKEN` and an
   * optional `BOS_NPM_SCOPE` such as `@acme` put before unscoped package names); undefined: no npm publishing.
   */
  npm: { registry: string; token: string; scope: string | undefined } | undefined;
  /** Log level (`BOS_LOG_LEVEL`, default info). */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * The process tier, for connectors whose manifest says `runtime: "process"` (`BOS_PROCESS_TIER`): `jailed`
   * (default: each runs in a jail of its own network, mount and PID namespaces as nobody; refused where this machine
   * cannot build the jail), `off` (always refused), or `unjailed` (run without the jail where it cannot be built:
   * for connectors the operator trusts, on machines without the privileges).
   */
  processTier: 'jailed' | 'off' | 'unjailed';
  limits: {
    /** Largest accepted JSON request body in bytes (`BOS_BODY_LIMIT`, default 1 MiB). */
    bodyBytes: number;
    /** Largest accepted connector artifact in bytes (`BOS_ARTIFACT_LIMIT`, default 5 MiB). */
    artifactBytes: number;
    /** Largest page size of list endpoints (`BOS_MAX_PAGE_SIZE`, default 100). */
    maxPageSize: number;
    /** Seconds to wait for in-flight requests on shutdown (`BOS_SHUTDOWN_GRACE_SECONDS`, default 10). */
    shutdownGraceSeconds: number;
    /** Executions running at once per tenant, across all workers (`BOS_EXECUTIONS_PER_TENANT`, default 5). */
    executionsPerTenant: number;
    /** Executions running at once in total, across all workers (`BOS_EXECUTIONS_TOTAL`, default 10). */
    executionsTotal: number;
    /** With Redis: how long a synchronous execute waits for a worker's result (`BOS_EXECUTION_WAIT_SECONDS`, default 60). */
    executionWaitSeconds: number;
  };
}

/** One problem with one environment variable. */
export interface ConfigIssue {
  variable: string;
  message: string;
}

/** Thrown by {@link loadConfig} with every problem found, not just the first. */
export class ConfigError extends Error {
  readonly code = 'INVALID_INPUT';
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i.variable}: ${i.message}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * Parses the service configuration from an environment map. The only place that reads environment variables:
 * `main()` passes `process.env`, tests pass a literal object.
 * @throws {ConfigError} listing every invalid variable and what to set instead.
 * @example const config = loadConfig({ PORT: '8080', DATABASE_URL: 'postgres://localhost/bos' });
 */
export function loadConfig(env: Record<string, string | undefined>, cwd: string = process.cwd()): ServerConfig {
  const issues: ConfigIssue[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      issues.push({ variable: name, message: `"${raw}" is not a whole number between ${min} and ${max}` });
      return fallback;
    }
    return Number(raw);
  };
  const url = (name: string, protocols: string[]): string | undefined => {
    const raw = read(name);
    if (raw === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      issues.push({ variable: name, message: `is not a URL; expected e.g. ${protocols[0]}//host:port/...` });
      return undefined;
    }
    if (!protocols.includes(parsed.protocol)) {
      issues.push({ variable: name, message: `uses ${parsed.protocol} but must use ${protocols.join(' or ')}` });
      return undefined;
    }
    return raw;
  };

  const port = integer('PORT', 3000, 0, 65535);
  const host = read('HOST') ?? '0.0.0.0';
  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const redisUrl = url('REDIS_URL', ['redis:', 'rediss:']);
  const redisPrefix = read('BOS_REDIS_PREFIX') ?? 'bos';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(redisPrefix)) issues.push({ variable: 'BOS_REDIS_PREFIX', message: 'must be 1-64 letters, digits, _ . or -' });
  const apiWorkerRaw = read('BOS_API_WORKER') ?? '1';
  if (apiWorkerRaw !== '0' && apiWorkerRaw !== '1') issues.push({ variable: 'BOS_API_WORKER', message: `"${apiWorkerRaw}" must be 1 (the API also runs executions) or 0 (only npm run worker does)` });
  const apiWorker = apiWorkerRaw !== '0';

  let masterKey: Buffer | undefined;
  const rawKey = read('BOS_MASTER_KEY');
  if (rawKey !== undefined) {
    const decoded = /^[0-9a-fA-F]{64}$/.test(rawKey) ? Buffer.from(rawKey, 'hex') : Buffer.from(rawKey, 'base64');
    if (decoded.length !== 32) {
      issues.push({ variable: 'BOS_MASTER_KEY', message: 'must be 32 random bytes as 64 hex digits or base64 (generate one with `openssl rand -base64 32`)' });
    } else {
      masterKey = decoded;
    }
  }

  const previousMasterKeys: Buffer[] = [];
  for (const [i, raw] of (read('BOS_PREVIOUS_MASTER_KEYS') ?? '').split(',').map((k) => k.trim()).filter(Boolean).entries()) {
    const decoded = /^[0-9a-fA-F]{64}$/.test(raw) ? Buffer.from(raw, 'hex') : Buffer.from(raw, 'base64');
    if (decoded.length === 32) previousMasterKeys.push(decoded);
    else issues.push({ variable: 'BOS_PREVIOUS_MASTER_KEYS', message: `key ${i + 1} must be 32 bytes as 64 hex digits or base64` });
  }

  const dataDir = path.resolve(cwd, read('BOS_DATA_DIR') ?? './data');
  const publicRaw = url('BOS_PUBLIC_URL', ['http:', 'https:']);
  const publicUrl = (publicRaw ?? `http://localhost:${port}`).replace(/\/+$/, '');

  let oauthApps: Record<string, Record<string, string>> = {};
  const appsRaw = read('BOS_OAUTH_APPS');
  if (appsRaw !== undefined) {
    try {
      const parsed: unknown = JSON.parse(appsRaw);
      const valid =
        typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) &&
        Object.values(parsed).every((app) => typeof app === 'object' && app !== null && Object.values(app).every((v) => typeof v === 'string'));
      if (valid) oauthApps = parsed as Record<string, Record<string, string>>;
      else issues.push({ variable: 'BOS_OAUTH_APPS', message: 'must map connector names to objects of strings, e.g. {"shopify":{"client_id":"...","client_secret":"..."}}' });
    } catch {
      issues.push({ variable: 'BOS_OAUTH_APPS', message: 'is not valid JSON' });
    }
  }

  let npm: ServerConfig['npm'];
  const npmRegistry = url('BOS_NPM_REGISTRY', ['http:', 'https:']);
  const npmToken = read('BOS_NPM_TOKEN');
  const npmScope = read('BOS_NPM_SCOPE');
  if (npmScope !== undefined && !/^@[a-z0-9][a-z0-9._~-]*$/.test(npmScope)) issues.push({ variable: 'BOS_NPM_SCOPE', message: `"${npmScope}" is not an npm scope; expected e.g. @acme` });
  if (npmRegistry !== undefined && npmToken === undefined) issues.push({ variable: 'BOS_NPM_TOKEN', message: 'is required with BOS_NPM_REGISTRY: an auth token allowed to publish there (npm token create, or the registry\'s own)' });
  if (npmRegistry === undefined && (npmToken !== undefined || npmScope !== undefined)) issues.push({ variable: 'BOS_NPM_REGISTRY', message: 'is missing: BOS_NPM_TOKEN and BOS_NPM_SCOPE only apply with a registry URL' });
  if (npmRegistry !== undefined && npmToken !== undefined) npm = { registry: npmRegistry.replace(/\/*$/, '/'), token: npmToken, scope: npmScope };

  const levelRaw = read('BOS_LOG_LEVEL') ?? 'info';
  const logLevel = (LOG_LEVELS as readonly string[]).includes(levelRaw) ? (levelRaw as ServerConfig['logLevel']) : 'info';
  if (logLevel !== levelRaw) issues.push({ variable: 'BOS_LOG_LEVEL', message: `"${levelRaw}" is not one of ${LOG_LEVELS.join(', ')}` });

  const tierRaw = read('BOS_PROCESS_TIER') ?? 'jailed';
  const processTier = (['jailed', 'off', 'unjailed'] as const).find((t) => t === tierRaw) ?? 'jailed';
  if (processTier !== tierRaw) issues.push({ variable: 'BOS_PROCESS_TIER', message: `"${tierRaw}" is not one of jailed (default), off, unjailed` });

  const limits = {
    bodyBytes: integer('BOS_BODY_LIMIT', 1024 * 1024, 1024, 100 * 1024 * 1024),
    artifactBytes: integer('BOS_ARTIFACT_LIMIT', 5 * 1024 * 1024, 1024, 100 * 1024 * 1024),
    maxPageSize: integer('BOS_MAX_PAGE_SIZE', 100, 1, 1000),
    shutdownGraceSeconds: integer('BOS_SHUTDOWN_GRACE_SECONDS', 10, 0, 600),
    executionsPerTenant: integer('BOS_EXECUTIONS_PER_TENANT', 5, 1, 1000),
    executionsTotal: integer('BOS_EXECUTIONS_TOTAL', 10, 1, 10000),
    executionWaitSeconds: integer('BOS_EXECUTION_WAIT_SECONDS', 60, 1, 3600),
  };

  if (issues.length > 0) throw new ConfigError(issues);
  return { port, host, databaseUrl, redisUrl, redisPrefix, apiWorker, masterKey, previousMasterKeys, dataDir, publicUrl, oauthApps, npm, logLevel, processTier, limits };
}

/** The configuration of a command (`npm start`, `npm run worker`), or undefined after printing every problem with it. */
export function configOrReport(env: Record<string, string | undefined>): ServerConfig | undefined {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return undefined;
    }
    throw error;
  }
}
