import { ConnectorError, isConnectorError, type ConnectorManifest, type Credentials, type OAuth2AuthSpec } from '@businessos/connector-sdk';
import { fillTemplate } from '@businessos/connector-sdk/host';
import { silentLogger, systemClock, type Clock, type RuntimeLogger } from '../clock.ts';
import type { EgressClient, EgressStats } from '../egress/egress-client.ts';
import { createRedactor, secretsOf } from '../redact.ts';
import type { Vault } from '../vault/vault.ts';
import { acquireLock, type Lock, type LockLease } from './lock.ts';

/** The service's connection records, as far as the runtime needs to change them. */
export interface ConnectionStore {
  /** The connection's credentials no longer work and cannot be refreshed: the tenant must reconnect. */
  markNeedsReauth(tenant: string, connectionId: string, reason: string): Promise<void>;
}

/**
 * Platform configuration lookups for `config.<key>` references in manifests (an OAuth app's client id and
 * secret per connector). Answers undefined when the operator has not configured the key.
 */
export type PlatformConfig = (connector: string, key: string) => string | undefined;

export interface TokenRefresherOptions {
  vault: Vault;
  egress: EgressClient;
  connections: ConnectionStore;
  /** Cross-process single flight (Redis). Without it, refreshes are single-flight within this process only. */
  lock?: Lock;
  platformConfig?: PlatformConfig;
  clock?: Clock;
  logger?: RuntimeLogger;
  /** Refresh this long before `expiresAt` (default 60 s). */
  skewMs?: number;
  /**
   * Lock lifetime (default 30 s) and how long to wait for another worker's refresh (default 15 s). The call to
   * the token endpoint times out after half the lock lifetime, so a slow provider cannot outlive the lock.
   */
  lockTtlMs?: number;
  lockWaitMs?: number;
  /**
   * Tries at storing refreshed tokens while the refresh lock is still held (default 4), pausing `storeRetryMs`
   * (default 100 ms) and doubling between tries; all of it ends before the lock would expire.
   */
  storeAttempts?: number;
  storeRetryMs?: number;
  /**
   * First pause before writing back tokens the vault store refused (default 2 s, doubling up to 60 s). The write
   * is tried again in the background and on the connection's next use, whichever comes first.
   */
  writeBackMs?: number;
  /** Most connections whose refreshed tokens this process keeps unstored at once (default 1000; the oldest goes first). */
  maxUnstored?: number;
}

/** The connection a refresh is for. */
export interface RefreshTarget {
  tenant: string;
  connectionId: string;
  manifest: Pick<ConnectorManifest, 'name' | 'hosts' | 'baseUrl'> & { auth: OAuth2AuthSpec };
  /** Connection fields (for `{shop}` in token URLs). */
  fields: Record<string, string>;
  stats?: EgressStats;
}

/** Keeps OAuth2 access tokens fresh on the host. */
export interface TokenRefresher {
  /**
   * Answers credentials with a usable access token: `current` when it is not about to expire, otherwise
   * refreshed ones (stored encrypted). With `rejectedToken` (the provider answered 401 to it) a refresh is
   * forced unless another worker has already replaced that token.
   */
  ensureFresh(target: RefreshTarget, current: Credentials, options?: { rejectedToken?: string }): Promise<Credentials>;
  /**
   * Tries now to store every refreshed token set the vault store refused earlier (call it before the process
   * exits: tokens still unstored then are lost). Answers how many connections still have unstored tokens.
   */
  flushUnstored(): Promise<number>;
}

// Far above any real token (large JWTs are a few KiB); a bigger value would be sent on every request.
const MAX_TOKEN_CHARS = 64 * 1024;
// Provider text (error, error_description) quoted in errors and in the needs_reauth reason.
const MAX_PROVIDER_TEXT = 300;

// Warnings about tokens that stay unstored are repeated at these attempt counts only, so an outage does not flood the log.
const WARN_AT = new Set([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]);
const MAX_WRITE_BACK_PAUSE_MS = 60_000;

const sameTokens = (a: Credentials | undefined, b: Credentials | undefined) =>
  !!a && !!b && a.accessToken === b.accessToken && a.refreshToken === b.refreshToken && a.expiresAt === b.expiresAt;

/**
 * Refreshed tokens that the vault store refused, kept in this process until it accepts them. Lives only in the
 * refresher's closure: it is never logged, returned as a whole or reachable from outside.
 */
interface Unstored {
  readonly key: string;
  readonly tenant: string;
  readonly connectionId: string;
  readonly connector: string;
  readonly credentials: Credentials;
  /** What the store held when the tokens came (undefined: nothing). While it still holds that, the kept copy is newer. */
  readonly replaced: Credentials | undefined;
  /** The store's refresh token is not ours: a provider that rotates refresh tokens has already invalidated it. */
  readonly rotated: boolean;
  readonly since: number;
  /** The refresh lock, held on while `rotated` so other processes wait instead of spending the dead refresh token. */
  lease?: Held;
  /** Writes tried so far, and failed write-back rounds (for the backoff and the repeated warning). */
  attempts: number;
  rounds: number;
  nextAttemptAt: number;
  timer?: ReturnType<typeof setTimeout>;
  writing?: Promise<void>;
}

interface Held {
  lease: LockLease;
  /** When the lock expires by itself (clock time). */
  until: number;
}

const isToken = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= MAX_TOKEN_CHARS;

function resolveSecret(value: string | undefined, connector: string, config: PlatformConfig | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  if (!value.startsWith('config.')) return value;
  const key = value.slice('config.'.length);
  const found = config?.(connector, key);
  if (found === undefined || found === '') {
    throw new ConnectorError('INTERNAL', `The OAuth ${what} of connector ${connector} refers to platform config "${key}", which is not configured; set it for ${connector} in the service configuration`);
  }
  return found;
}

/** Origin and path of a token URL for messages (never its query), placeholders filled where the fields allow. */
function describeUrl(url: string, fields: Record<string, string>): string {
  try {
    const parsed = new URL(url.includes('{') ? fillTemplate(url, fields, 'tokenUrl') : url);
    return `${parsed.origin}${parsed.pathname}`.slice(0, MAX_PROVIDER_TEXT);
  } catch {
    return url.slice(0, MAX_PROVIDER_TEXT);
  }
}

/** " to <origin><path>" of a redirect's Location, or nothing when there is none to show. */
function describeLocation(location: string | undefined, from: string, fields: Record<string, string>): string {
  if (!location) return '';
  try {
    const parsed = new URL(location, describeUrl(from, fields));
    return ` to ${`${parsed.origin}${parsed.pathname}`.slice(0, MAX_PROVIDER_TEXT)}`;
  } catch {
    return '';
  }
}

/** Creates the refresher: single flight per connection in-process, plus the optional cross-process lock. */
export function createTokenRefresher(options: TokenRefresherOptions): TokenRefresher {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const skewMs = options.skewMs ?? 60_000;
  const lockTtlMs = options.lockTtlMs ?? 30_000;
  const lockWaitMs = options.lockWaitMs ?? 15_000;
  const requestTimeoutMs = Math.max(1, Math.floor(lockTtlMs / 2));
  // Writes stop this long before the lock would expire, so no write of ours is still running when another worker takes over.
  const leaseMarginMs = Math.min(1_000, Math.floor(lockTtlMs / 10));
  const storeAttempts = Math.max(1, options.storeAttempts ?? 4);
  const storeRetryMs = options.storeRetryMs ?? 100;
  const writeBackMs = Math.max(1, options.writeBackMs ?? 2_000);
  const maxUnstored = Math.max(1, options.maxUnstored ?? 1_000);
  const inFlight = new Map<string, Promise<Credentials>>();
  const unstored = new Map<string, Unstored>();
  const keyOf = (tenant: string, connectionId: string) => `${tenant}\u0000${connectionId}`;
  const lockKeyOf = (tenant: string, connectionId: string) => `oauth-refresh:${tenant}:${connectionId}`;

  const expiring = (c: Credentials) => typeof c.expiresAt === 'number' && c.expiresAt - skewMs <= clock.now();
  const usable = (c: Credentials | undefined, rejected: string | undefined): c is Credentials =>
    !!c?.accessToken && !expiring(c) && c.accessToken !== rejected;

  async function callTokenEndpoint(target: RefreshTarget, current: Credentials): Promise<Credentials> {
    const spec = target.manifest.auth;
    const connector = target.manifest.name;
    const clientId = resolveSecret(spec.clientId, connector, options.platformConfig, 'client id');
    const clientSecret = resolveSecret(spec.clientSecret, connector, options.platformConfig, 'client secret');
    const form: Record<string, string> = {};
    if (spec.grant === 'client_credentials') {
      form.grant_type = 'client_credentials';
      if (spec.scopes.length) form.scope = spec.scopes.join(spec.scopeSeparator);
    } else {
      if (!current.refreshToken) {
        await options.connections.markNeedsReauth(target.tenant, target.connectionId, 'The access token expired and the connection has no refresh token');
        throw new ConnectorError('AUTH_EXPIRED', `Connection ${target.connectionId} has an expired access token and no refresh token; reconnect the account`);
      }
      form.grant_type = 'refresh_token';
      form.refresh_token = current.refreshToken;
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (spec.clientAuth === 'basic') {
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId ?? '')}:${encodeURIComponent(clientSecret ?? '')}`).toString('base64')}`;
    } else {
      if (clientId) form.client_id = clientId;
      if (clientSecret) form.client_secret = clientSecret;
    }
    const url = spec.refreshUrl ?? spec.tokenUrl;
    const response = await options.egress.send({
      manifest: target.manifest,
      fields: target.fields,
      request: { method: 'POST', url, headers, body: form, bodyType: 'form', timeoutMs: requestTimeoutMs },
      stats: target.stats,
      // The form carries the client secret and the refresh token: a 307/308 would send it again to wherever the
      // answer points, and token endpoints have no reason to redirect (RFC 6749 §3.2 has the client call it directly).
      followRedirects: false,
    });
    const data = (typeof response.data === 'object' && response.data !== null ? response.data : {}) as Record<string, unknown>;
    // A hostile or broken provider may echo what we sent; nothing it says reaches an error or the reason unredacted.
    // Redacted before cutting, so a cut cannot leave the start of a secret behind.
    const redactor = createRedactor([clientSecret, current.refreshToken, current.accessToken]);
    const quote = (value: unknown) => (typeof value === 'string' ? redactor.text(value).slice(0, MAX_PROVIDER_TEXT) : undefined);
    if (response.status >= 300 && response.status < 400) {
      throw new ConnectorError(
        'AUTH_FAILED',
        `The token endpoint of ${connector} (${describeUrl(url, target.fields)}) redirected with ${response.status}${redactor.text(describeLocation(response.headers.location, url, target.fields))}; the redirect was not followed, so the client credentials and tokens in the request were not sent on. Set the connector's ${spec.refreshUrl ? 'refreshUrl' : 'tokenUrl'} to the endpoint's final URL, or ask the provider why its token endpoint redirects`,
        { upstreamStatus: response.status },
      );
    }
    const ok = response.status >= 200 && response.status < 300;
    if (ok && isToken(data.access_token)) {
      const next: Credentials = { ...current, accessToken: data.access_token };
      if (isToken(data.refresh_token)) next.refreshToken = data.refresh_token;
      if (typeof data.token_type === 'string') next.tokenType = data.token_type;
      if (typeof data.scope === 'string') next.scope = data.scope;
      const expiresIn = Number(data.expires_in);
      if (Number.isFinite(expiresIn) && expiresIn > 0) next.expiresAt = clock.now() + expiresIn * 1000;
      else delete next.expiresAt;
      return next;
    }
    if (ok) {
      throw new ConnectorError('UPSTREAM_ERROR', `Token refresh for ${connector} answered ${response.status} without a usable access_token; the stored credentials were kept, retry later`, { upstreamStatus: response.status });
    }
    const error = quote(data.error);
    if (error === 'invalid_grant') {
      const description = quote(data.error_description);
      const reason = `The provider refused the refresh token (invalid_grant${description ? `: ${description}` : ''})`;
      await options.connections.markNeedsReauth(target.tenant, target.connectionId, reason);
      throw new ConnectorError('AUTH_EXPIRED', `${reason}; the connection ${target.connectionId} must be reconnected`);
    }
    if (response.status >= 500 || response.status === 429) {
      throw new ConnectorError(response.status === 429 ? 'RATE_LIMITED' : 'UPSTREAM_ERROR', `Token refresh for ${connector} failed with ${response.status}; retry later`, { upstreamStatus: response.status });
    }
    throw new ConnectorError('AUTH_FAILED', `Token refresh for ${connector} answered ${response.status}${error ? ` (${error})` : ''}; check the OAuth app configuration`, { upstreamStatus: response.status });
  }

  const describe = (error: unknown) => (isConnectorError(error) ? error.message : String(error));
  const where = (e: Pick<Unstored, 'tenant' | 'connectionId' | 'connector'>) => ({ tenant: e.tenant, connectionId: e.connectionId, connector: e.connector });
  /** A store error for the log: cut, and with every token of the connection taken out (a store may quote what it was given). */
  const storeError = (error: unknown, ...credentials: (Credentials | undefined)[]) =>
    createRedactor(credentials.flatMap((c) => secretsOf(c))).text(describe(error)).slice(0, MAX_PROVIDER_TEXT);
  const releaseQuietly = async (held: Held | undefined): Promise<void> => {
    if (!held) return;
    await held.lease.release().then(
      () => undefined,
      (error: unknown) => logger.warn('releasing the refresh lock failed', { error: describe(error) }),
    );
  };
  // Writes end a little before the lock would, so none of ours is still running when another worker may take over.
  // Without a lock the same bound keeps a hanging store from holding up the execution.
  const writeDeadline = (held: Held | undefined) => (held?.until ?? clock.now() + lockTtlMs) - leaseMarginMs;
  /** The store still holds what the kept tokens replaced, so they are the newer ones. */
  const stillStale = (entry: Unstored, stored: Credentials | undefined) =>
    stored === undefined ? entry.replaced === undefined : sameTokens(stored, entry.replaced);

  /** Waits for a vault call until `deadline`: the store has no timeout of its own. */
  async function within<T>(work: Promise<T>, deadline: number, what: string): Promise<T> {
    const ms = Math.max(1, deadline - clock.now());
    let timer: ReturnType<typeof setTimeout> | undefined;
    // A write given up on may still land later. It carries the kept tokens, which every later write-back writes too;
    // only one still hanging after a whole further refresh could put older tokens back, and database timeouts end long before.
    work.catch(() => undefined);
    try {
      return await Promise.race([
        work,
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new ConnectorError('TIMEOUT', `The vault store did not ${what} within ${ms} ms`)), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stores refreshed tokens, trying again after short, doubling pauses while the lock leaves room. */
  async function storeWithRetry(target: RefreshTarget, next: Credentials, deadline: number): Promise<{ error?: unknown; attempts: number }> {
    for (let attempts = 1; ; attempts++) {
      try {
        await within(options.vault.putCredentials(target.tenant, target.connectionId, next), deadline, 'confirm the write of refreshed tokens');
        return { attempts };
      } catch (error) {
        const pause = storeRetryMs * 2 ** (attempts - 1);
        if (attempts >= storeAttempts || clock.now() + pause >= deadline) return { error, attempts };
        await clock.sleep(pause);
      }
    }
  }

  /** Takes an entry out of the map and stops its timer; answers the lease it held, for the caller to release or reuse. */
  function forget(entry: Unstored): Held | undefined {
    if (unstored.get(entry.key) === entry) unstored.delete(entry.key);
    clearTimeout(entry.timer);
    entry.timer = undefined;
    const lease = entry.lease;
    entry.lease = undefined;
    return lease;
  }

  function schedule(entry: Unstored): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (unstored.get(entry.key) !== entry) return;
    // A held lock is taken again when half its lifetime is gone (see attemptWriteBack), before anyone else can have it.
    const at = entry.lease ? Math.min(entry.nextAttemptAt, entry.lease.until - lockTtlMs / 2) : entry.nextAttemptAt;
    entry.timer = setTimeout(() => void writeBack(entry), Math.max(0, at - clock.now()));
    // Pending tokens do not keep the process alive; flushUnstored is for a clean shutdown.
    entry.timer.unref();
  }

  /** The store holds something else now than what the kept tokens replaced: they are stored already, or superseded. */
  function settle(entry: Unstored, stored: Credentials | undefined): void {
    void releaseQuietly(forget(entry));
    if (sameTokens(stored, entry.credentials)) {
      logger.info('oauth tokens kept in memory are now stored', { ...where(entry), attempts: entry.attempts });
    } else {
      logger.warn(
        stored
          ? 'discarded refreshed oauth tokens kept in memory: the vault store now holds other credentials for the connection (it was reconnected or refreshed elsewhere)'
          : 'discarded refreshed oauth tokens kept in memory: the connection credentials were deleted from the vault store',
        where(entry),
      );
    }
  }

  function keep(target: RefreshTarget, next: Credentials, stored: Credentials | undefined, error: unknown, attempts: number): void {
    const key = keyOf(target.tenant, target.connectionId);
    const previous = unstored.get(key);
    if (previous) void releaseQuietly(forget(previous));
    const now = clock.now();
    const entry: Unstored = {
      key,
      tenant: target.tenant,
      connectionId: target.connectionId,
      connector: target.manifest.name,
      credentials: next,
      replaced: stored,
      rotated: !!next.refreshToken && next.refreshToken !== stored?.refreshToken,
      since: now,
      attempts,
      rounds: 0,
      nextAttemptAt: now + writeBackMs,
    };
    unstored.set(key, entry);
    logger.warn('oauth tokens were refreshed but the vault store did not accept them; this process uses them from memory and keeps retrying the write', {
      ...where(entry),
      attempts,
      error: storeError(error, next, stored),
      otherProcesses: entry.rotated
        ? 'this process holds the refresh lock until the write succeeds, so other processes wait for it (and may time out) rather than use the stored refresh token, which the provider may have invalidated'
        : 'other processes keep using the stored tokens, which the provider still accepts',
      check: 'the vault store (database) health and its write errors; the tokens are lost if this process stops before they are stored, and the connection may then need re-authorisation',
    });
    while (unstored.size > maxUnstored) {
      const oldest = unstored.values().next().value;
      if (!oldest) break;
      void releaseQuietly(forget(oldest));
      logger.error('dropped refreshed oauth tokens that were never stored, to stay within maxUnstored; the connection may need re-authorisation', where(oldest));
    }
    schedule(entry);
  }

  /** One write-back round: single flight per entry, and never while a refresh of the connection is under way. */
  function writeBack(entry: Unstored): Promise<void> {
    if (entry.writing) return entry.writing;
    // A refresh under way decides the connection's tokens itself (after waiting for a round that started first).
    if (inFlight.has(entry.key) || unstored.get(entry.key) !== entry) return Promise.resolve();
    const run = attemptWriteBack(entry).finally(() => {
      entry.writing = undefined;
      schedule(entry);
    });
    entry.writing = run;
    return run;
  }

  async function attemptWriteBack(entry: Unstored): Promise<void> {
    let held = entry.lease;
    entry.lease = undefined;
    try {
      if (options.lock && !(held && clock.now() < held.until - lockTtlMs / 2)) {
        // Our lease is extended in place while it is still ours, so no other process can take the lock in between
        // and spend the rotated-out refresh token. A lock without extend: let ours go and take it again at once
        // (another process can slip in only during that one round trip). Without a lease of ours, the lock keeps a
        // write-back from racing a refresh elsewhere.
        if (held?.lease.extend) {
          const extended = await within(held.lease.extend(lockTtlMs), clock.now() + lockTtlMs / 2, 'extend the refresh lock').catch(() => false);
          if (extended) held.until = clock.now() + lockTtlMs;
          else held = undefined;
        }
      }
      if (options.lock && !(held && clock.now() < held.until - lockTtlMs / 2)) {
        await releaseQuietly(held);
        held = undefined;
        const lease = await options.lock.tryAcquire(lockKeyOf(entry.tenant, entry.connectionId), lockTtlMs);
        if (!lease) throw new ConnectorError('TIMEOUT', 'Another worker holds the refresh lock of this connection; the write is tried again later');
        held = { lease, until: clock.now() + lockTtlMs };
      }
      const deadline = writeDeadline(held);
      const stored = await within(options.vault.getCredentials(entry.tenant, entry.connectionId), deadline, 'answer the read of the stored tokens');
      if (!stillStale(entry, stored)) return settle(entry, stored);
      entry.attempts++;
      await within(options.vault.putCredentials(entry.tenant, entry.connectionId, entry.credentials), deadline, 'confirm the write of refreshed tokens');
      forget(entry);
      logger.info('oauth tokens kept in memory are now stored', { ...where(entry), attempts: entry.attempts, unstoredMs: clock.now() - entry.since });
    } catch (error) {
      entry.rounds++;
      entry.nextAttemptAt = clock.now() + Math.min(MAX_WRITE_BACK_PAUSE_MS, writeBackMs * 2 ** Math.min(entry.rounds, 16));
      if (WARN_AT.has(entry.rounds)) {
        logger.warn('refreshed oauth tokens are still not stored; this process keeps using them from memory and retrying', {
          ...where(entry),
          attempts: entry.attempts,
          unstoredMs: clock.now() - entry.since,
          error: storeError(error, entry.credentials, entry.replaced),
          check: 'the vault store (database) health and its write errors',
        });
      }
    } finally {
      // While the store's refresh token is dead, the lock stays ours so that other processes wait rather than spend it.
      if (held && entry.rotated && unstored.get(entry.key) === entry) entry.lease = held;
      else await releaseQuietly(held);
    }
  }

  /** The credentials to work from: the kept ones while the store still holds what they replaced, else the stored ones. */
  async function latestKnown(key: string, target: RefreshTarget, fallback: Credentials): Promise<{ latest: Credentials; stored: Credentials | undefined }> {
    const kept = unstored.get(key);
    let stored: Credentials | undefined;
    try {
      stored = await options.vault.getCredentials(target.tenant, target.connectionId);
    } catch (error) {
      if (!kept) throw error;
      return { latest: kept.credentials, stored: kept.replaced };
    }
    if (kept) {
      if (stillStale(kept, stored)) return { latest: kept.credentials, stored };
      settle(kept, stored);
    }
    return { latest: stored ?? fallback, stored };
  }

  async function refreshUnderLock(target: RefreshTarget, current: Credentials, rejected: string | undefined): Promise<Credentials> {
    const key = keyOf(target.tenant, target.connectionId);
    const kept = unstored.get(key);
    if (kept) {
      // A write-back round that started first ends before the tokens change again, so it cannot put older ones back.
      await kept.writing;
      // The lock held on for the kept tokens may be half gone; it is taken again below with a whole lifetime for the token call.
      const lease = kept.lease;
      kept.lease = undefined;
      await releaseQuietly(lease);
    }
    const reread = async () => {
      const latest = await options.vault.getCredentials(target.tenant, target.connectionId);
      const mine = unstored.get(key);
      if (mine && stillStale(mine, latest)) return undefined;
      return usable(latest, rejected) ? latest : undefined;
    };
    let held: Held | undefined;
    if (options.lock) {
      const got = await acquireLock(options.lock, lockKeyOf(target.tenant, target.connectionId), {
        ttlMs: lockTtlMs,
        waitMs: lockWaitMs,
        clock,
        onWait: reread,
      });
      if ('value' in got) return got.value;
      held = { lease: got.lease, until: clock.now() + lockTtlMs };
    }
    try {
      // Another worker may have refreshed between our read and the lock.
      const { latest, stored } = await latestKnown(key, target, current);
      // `usable` already refuses the rejected token, so a different one stored by anyone (or held by the caller) is the replacement.
      if (usable(latest, rejected)) return latest;
      const next = await callTokenEndpoint(target, latest);
      const outcome = await storeWithRetry(target, next, writeDeadline(held));
      if (!('error' in outcome)) {
        const old = unstored.get(key);
        if (old) void releaseQuietly(forget(old));
        logger.info('oauth token refreshed', { tenant: target.tenant, connectionId: target.connectionId, connector: target.manifest.name });
        return next;
      }
      // The provider has issued the tokens and, if it rotates refresh tokens, already invalidated the stored one: failing the
      // execution would not bring that back, and the new tokens work. So the execution goes on with them, and this process
      // keeps them until the store takes them. Other processes cannot see them: while the stored refresh token is dead they
      // wait on the refresh lock, which this process keeps (see attemptWriteBack); if it dies first, they refresh with the
      // dead token and the connection is marked for re-authorisation, which only a shared cache could avoid.
      keep(target, next, stored, outcome.error, outcome.attempts);
      return next;
    } finally {
      const mine = unstored.get(key);
      if (held && mine?.rotated && !mine.lease) mine.lease = held;
      else await releaseQuietly(held);
      // Its timer may have fired (and stood aside) during this refresh.
      if (mine) schedule(mine);
    }
  }

  return {
    async ensureFresh(target, current, refreshOptions = {}) {
      const rejected = refreshOptions.rejectedToken;
      const key = keyOf(target.tenant, target.connectionId);
      const kept = unstored.get(key);
      let base = current;
      if (kept) {
        // The caller read the store at the start of its execution: if that still held what the kept tokens replaced,
        // the kept ones are newer. Credentials of any other origin (a reconnect) are the caller's to use.
        if (sameTokens(current, kept.replaced) || sameTokens(current, kept.credentials)) base = kept.credentials;
        if (clock.now() >= kept.nextAttemptAt) void writeBack(kept);
      }
      if (base.accessToken && !expiring(base) && (rejected === undefined || (base !== current && base.accessToken !== rejected))) return base;
      const pending = inFlight.get(key);
      if (pending) return pending;
      const run = refreshUnderLock(target, base, rejected).finally(() => inFlight.delete(key));
      inFlight.set(key, run);
      return run;
    },
    async flushUnstored() {
      await Promise.all(
        [...unstored.values()].map(async (entry) => {
          // A round already under way may have started before the store recovered: let it end, then try once more.
          await entry.writing;
          await writeBack(entry);
        }),
      );
      return unstored.size;
    },
  };
}
