import { ConnectorError, isConnectorError, type ConnectorManifest, type Credentials, type OAuth2AuthSpec } from '@businessos/connector-sdk';
import { silentLogger, systemClock, type Clock, type RuntimeLogger } from '../clock.ts';
import type { EgressClient, EgressStats } from '../egress/egress-client.ts';
import { createRedactor } from '../redact.ts';
import type { Vault } from '../vault/vault.ts';
import { acquireLock, type Lock } from './lock.ts';

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
}

// Far above any real token (large JWTs are a few KiB); a bigger value would be sent on every request.
const MAX_TOKEN_CHARS = 64 * 1024;
// Provider text (error, error_description) quoted in errors and in the needs_reauth reason.
const MAX_PROVIDER_TEXT = 300;

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

/** Creates the refresher: single flight per connection in-process, plus the optional cross-process lock. */
export function createTokenRefresher(options: TokenRefresherOptions): TokenRefresher {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const skewMs = options.skewMs ?? 60_000;
  const lockTtlMs = options.lockTtlMs ?? 30_000;
  const lockWaitMs = options.lockWaitMs ?? 15_000;
  const requestTimeoutMs = Math.max(1, Math.floor(lockTtlMs / 2));
  const inFlight = new Map<string, Promise<Credentials>>();

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
    });
    const data = (typeof response.data === 'object' && response.data !== null ? response.data : {}) as Record<string, unknown>;
    // A hostile or broken provider may echo what we sent; nothing it says reaches an error or the reason unredacted.
    // Redacted before cutting, so a cut cannot leave the start of a secret behind.
    const redactor = createRedactor([clientSecret, current.refreshToken, current.accessToken]);
    const quote = (value: unknown) => (typeof value === 'string' ? redactor.text(value).slice(0, MAX_PROVIDER_TEXT) : undefined);
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

  async function refreshUnderLock(target: RefreshTarget, current: Credentials, rejected: string | undefined): Promise<Credentials> {
    const reread = async () => {
      const latest = await options.vault.getCredentials(target.tenant, target.connectionId);
      return usable(latest, rejected) ? latest : undefined;
    };
    let release: (() => Promise<boolean>) | undefined;
    if (options.lock) {
      const got = await acquireLock(options.lock, `oauth-refresh:${target.tenant}:${target.connectionId}`, {
        ttlMs: lockTtlMs,
        waitMs: lockWaitMs,
        clock,
        onWait: reread,
      });
      if ('value' in got) return got.value;
      release = () => got.lease.release();
    }
    try {
      // Another worker may have refreshed between our read and the lock.
      const latest = (await options.vault.getCredentials(target.tenant, target.connectionId)) ?? current;
      // `usable` already refuses the rejected token, so a different one stored by anyone (or held by the caller) is the replacement.
      if (usable(latest, rejected)) return latest;
      const next = await callTokenEndpoint(target, latest);
      await options.vault.putCredentials(target.tenant, target.connectionId, next);
      logger.info('oauth token refreshed', { tenant: target.tenant, connectionId: target.connectionId, connector: target.manifest.name });
      return next;
    } finally {
      await release?.().catch((error: unknown) => logger.warn('releasing the refresh lock failed', { error: isConnectorError(error) ? error.message : String(error) }));
    }
  }

  return {
    async ensureFresh(target, current, refreshOptions = {}) {
      const rejected = refreshOptions.rejectedToken;
      if (rejected === undefined && current.accessToken && !expiring(current)) return current;
      const key = `${target.tenant}\u0000${target.connectionId}`;
      const pending = inFlight.get(key);
      if (pending) return pending;
      const run = refreshUnderLock(target, current, rejected).finally(() => inFlight.delete(key));
      inFlight.set(key, run);
      return run;
    },
  };
}
