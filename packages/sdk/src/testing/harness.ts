// The test harness: runs a connector in-process through the same host path as production (params validated,
// URLs resolved against the manifest, credentials applied on the host side, output validated), with every
// request sent to a local mock API and OAuth2 flows played against a local provider. Fully offline.
import { randomBytes } from 'node:crypto';
import type { Credentials, OAuth2AuthSpec } from '../auth.ts';
import type { Connector, ConnectorManifest, LogLevel, TriggerOperation, WebhookDelivery, WebhookSubscription } from '../connector.ts';
import { ConnectorError, fromErrorData, isConnectorError, toErrorData } from '../errors.ts';
import type { Transport } from '../http.ts';
import { createMemoryStore, type KeyValueStore } from '../store.ts';
import { assertValid } from '../host/validate.ts';
import { createLocalTransport } from '../host/local-transport.ts';
import { buildAuthorizeUrl, clientCredentialsToken, createPkcePair, exchangeCode, refreshAccessToken, type PlatformConfig } from '../host/oauth2.ts';
import { createLocalEnv, runAction } from '../host/run.ts';
import { secretValues } from '../host/apply-auth.ts';
import type { Fixture } from './fixtures.ts';
import { createMockApi, type MockApi, type MockApiAuth, type RecordOptions } from './mock-api.ts';
import { createOAuthProvider, type OAuthProvider } from './oauth-provider.ts';

/** Settings of the local OAuth provider the harness starts. */
export interface HarnessOAuthOptions {
  /** Client id registered at the provider; default the connector's (resolved from `config`), or `test-client-id`. */
  clientId?: string;
  /** Default the connector's (resolved from `config`), or `test-client-secret`. */
  clientSecret?: string;
  /** Default `http://127.0.0.1/oauth/callback` (never called: the harness reads the redirect itself). */
  redirectUri?: string;
  /** Scopes the provider knows; default any. */
  scopes?: string[];
  accessTokenTtlSeconds?: number;
  rotateRefreshTokens?: boolean;
  requirePkce?: boolean;
  autoConsent?: boolean;
  port?: number;
}

export interface TestHarnessOptions {
  /** The connector under test (a `Connector`, or a module namespace whose default export is one). */
  connector: Connector | { default: Connector };
  /** Fixtures for the mock API (tried before the ones from `fixturesDir`). */
  fixtures?: Fixture[];
  /** Folder of `*.json` fixture files, e.g. `new URL('../fixtures', import.meta.url).pathname`. */
  fixturesDir?: string;
  /**
   * The connection's credentials. Default: made-up test values for API-key, bearer and basic auth; for OAuth2,
   * tokens obtained from the local provider on first use (see {@link TestHarness.connect}).
   */
  credentials?: Credentials;
  /** Connection fields (e.g. `{ shop: 'acme' }`). Fields used in URL templates default to their declared default or `test-<name>`. */
  fields?: Record<string, string>;
  /** Platform config that auth specs reference (`config.client_id`); missing OAuth client values get test defaults. */
  config?: PlatformConfig;
  /**
   * Start the local OAuth provider. Default: on for OAuth2 connectors unless `credentials` are given. With the
   * provider on, the mock API accepts only live tokens the provider issued (so revocation and expiry are real).
   */
  oauth?: boolean | HarnessOAuthOptions;
  /**
   * How the mock API checks credentials: `auto` (default) expects exactly the harness's credentials (or, with
   * the OAuth provider, any live token it issued), `none` lets everything through, or an explicit {@link MockApiAuth}.
   */
  apiAuth?: 'auto' | 'none' | MockApiAuth;
  /** Send requests without a fixture to a real API and save them as fixtures (see {@link RecordOptions}). */
  record?: RecordOptions;
  /** Validate params and output against the action's schemas (default true, as in production). */
  validate?: boolean;
  /** Trigger state store shared by all runs of this harness (default in memory). */
  store?: KeyValueStore;
  /** Also receives every log line the connector writes. */
  log?: (level: LogLevel, message: string, data?: unknown) => void;
  /** Port of the mock API (default a free one). */
  port?: number;
}

/** Per-call overrides. */
export interface RunOptions {
  /** Credentials for this call only (e.g. a wrong key to test the error path). */
  credentials?: Credentials;
  /** Fields merged over the harness's for this call. */
  fields?: Record<string, string>;
  validate?: boolean;
}

export interface LogEntry {
  level: LogLevel;
  message: string;
  data?: unknown;
}

/** A running harness. `await using h = await createTestHarness(...)` closes it at the end of the scope. */
export interface TestHarness extends AsyncDisposable {
  readonly connector: Connector;
  /** The connector's manifest with OAuth2 endpoints pointed at the local provider. */
  readonly manifest: ConnectorManifest;
  /** The mock API: `api.requests` shows what the connector sent, including the auth headers the host added. */
  readonly api: MockApi;
  /** The local OAuth provider, when started. */
  readonly oauth: OAuthProvider | undefined;
  /** Credentials in use (updated by `connect()` and by token refreshes). */
  readonly credentials: Credentials | undefined;
  /** Connection fields in use. */
  readonly fields: Record<string, string>;
  /** Platform config in use, including the test OAuth client values the harness filled in. */
  readonly config: PlatformConfig;
  /** Redirect URI registered for the OAuth client at the local provider. */
  readonly redirectUri: string;
  readonly store: KeyValueStore;
  /** Everything the connector logged, oldest first. */
  readonly logs: LogEntry[];
  /**
   * Runs an action as a host would. Resolves with the validated output; rejects with a `ConnectorError`
   * whose `code` says what failed (`INVALID_INPUT`, `AUTH_FAILED`, `NOT_IMPLEMENTED` for a request without a fixture...).
   */
  run<T = unknown>(action: string, params?: unknown, options?: RunOptions): Promise<T>;
  /** Runs the connector's connection test (`authenticate`). */
  authenticate(options?: RunOptions): Promise<{ ok: true; checked: boolean; status?: number }>;
  /** Runs one trigger step: `subscribe`, `unsubscribe`, `transform` or `poll`. */
  trigger(name: string, operation: TriggerOperation, input?: unknown, options?: RunOptions): Promise<unknown>;
  /** Runs a polling trigger once; events are validated against the trigger's output schema. */
  poll<S = unknown>(name: string, state?: S, options?: RunOptions): Promise<{ items: unknown[]; state: S }>;
  /** Registers a webhook trigger (`subscribe`) with a made-up webhook URL unless one is given. */
  subscribe(name: string, webhookUrl?: string, options?: RunOptions): Promise<WebhookSubscription>;
  /** Turns a webhook delivery into events (`transform`), as the runtime does after verifying the signature. */
  deliver(name: string, delivery: { body: unknown; headers?: Record<string, string>; query?: Record<string, string> }, options?: RunOptions): Promise<unknown[]>;
  /**
   * OAuth2: plays the authorization-code flow (with PKCE when the connector uses it) against the local provider,
   * or the client-credentials grant, and stores the tokens as the harness's credentials.
   */
  connect(options?: { scopes?: string[] }): Promise<Credentials>;
  /** OAuth2: uses the refresh token now and stores the new tokens. */
  refresh(): Promise<Credentials>;
  /** Replaces the stored credentials (the `auto` API check follows). */
  setCredentials(credentials: Credentials | undefined): void;
  close(): Promise<void>;
}

const PLACEHOLDER_RE = /\{([a-zA-Z_][a-zA-Z0-9_]*)\}/g;
const DEFAULT_REDIRECT = 'http://127.0.0.1/oauth/callback';
const DEFAULT_CLIENT_ID = 'test-client-id';
const DEFAULT_CLIENT_SECRET = 'test-client-secret';

function configKey(ref: string | undefined): string | undefined {
  return ref === undefined ? undefined : /^config[.:](.+)$/.exec(ref)?.[1];
}

/** Test defaults for fields used in URL templates, so `https://{shop}.myshopify.com` resolves without set-up. */
function defaultFields(manifest: ConnectorManifest, given: Record<string, string>): Record<string, string> {
  const out = { ...given };
  const auth = manifest.auth;
  const templates = [manifest.baseUrl, ...manifest.hosts];
  if (auth.type === 'oauth2') templates.push(auth.authorizationUrl, auth.tokenUrl, auth.refreshUrl, auth.revokeUrl);
  for (const t of templates) {
    for (const m of (t ?? '').matchAll(PLACEHOLDER_RE)) {
      const name = m[1] as string;
      if (out[name] !== undefined && out[name] !== '') continue;
      out[name] = auth.fields?.[name]?.default ?? `test-${name.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`;
    }
  }
  return out;
}

/**
 * The harness never leaves the machine: everything it sends (API calls, token requests) goes to the loopback
 * simulator. A URL elsewhere means a set-up mistake, reported instead of silently calling a real service.
 */
const offlineFetch: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost' && url.hostname !== '[::1]') {
    return Promise.reject(
      new ConnectorError(
        'NETWORK_ERROR',
        `The test harness works offline and will not call ${url.origin}${url.pathname}; start the local OAuth provider (oauth: true) or record the real API with the record option`,
      ),
    );
  }
  return fetch(input, init);
};

/** Turns whatever a run threw into the SDK's typed error, as the runtime would report it. */
function typed(error: unknown): ConnectorError {
  if (error instanceof ConnectorError) {
    const details = error.details as { error?: { code?: unknown; message?: unknown } } | undefined;
    if (error.upstreamStatus === 501 && details?.error?.code === 'NO_FIXTURE') {
      return new ConnectorError('NOT_IMPLEMENTED', String(details.error.message), { upstreamStatus: 501, details });
    }
    return error;
  }
  if (isConnectorError(error)) return fromErrorData(toErrorData(error));
  const wrapped = new ConnectorError('INTERNAL', `The connector threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  return Object.assign(wrapped, { cause: error });
}

/**
 * Starts a mock API (and, for OAuth2 connectors, a local OAuth provider) and returns a harness that runs the
 * connector's actions and triggers against them through the host's own code path.
 *
 * @example
 * import { createTestHarness } from '@businessos/connector-sdk/testing';
 * import connector from '../src/index.ts';
 *
 * test('createCustomer', async () => {
 *   await using h = await createTestHarness({
 *     connector,
 *     fixtures: [{ request: { method: 'POST', path: '/v1/customers', body: { email: 'a@b.co' } }, response: { status: 200, body: { id: 'cus_1', email: '{{body.email}}' } } }],
 *   });
 *   expect(await h.run('createCustomer', { email: 'a@b.co' })).toEqual({ id: 'cus_1', email: 'a@b.co' });
 *   expect(h.api.requests[0]?.headers.authorization).toBe('Bearer test-token');
 * });
 */
export async function createTestHarness(options: TestHarnessOptions): Promise<TestHarness> {
  const connector = 'default' in options.connector && !('manifest' in options.connector) ? options.connector.default : (options.connector as Connector);
  if (!connector || typeof connector.executeAction !== 'function') {
    throw new ConnectorError('INVALID_INPUT', 'createTestHarness needs { connector }: a Connector (defineConnector(...) or a Connector subclass instance)');
  }
  const original = connector.manifest;
  const spec = original.auth;
  const config: PlatformConfig = { ...(options.config ?? {}) };
  const oauthOptions: HarnessOAuthOptions = typeof options.oauth === 'object' ? options.oauth : {};
  const wantProvider = spec.type === 'oauth2' && (options.oauth === undefined ? options.credentials === undefined : options.oauth !== false);
  if (options.oauth && spec.type !== 'oauth2') {
    throw new ConnectorError('INVALID_INPUT', `oauth was requested, but connector ${original.name} uses ${spec.type} auth; remove the oauth option`);
  }

  let oauth: OAuthProvider | undefined;
  let manifest = original;
  let redirectUri = DEFAULT_REDIRECT;
  if (spec.type === 'oauth2' && wantProvider) {
    // Client values referenced from platform config get test defaults; literal ones are registered as they are.
    const idKey = configKey(spec.clientId);
    if (idKey && config[idKey] === undefined) config[idKey] = oauthOptions.clientId ?? DEFAULT_CLIENT_ID;
    const secretKey = configKey(spec.clientSecret);
    if (secretKey && config[secretKey] === undefined) config[secretKey] = oauthOptions.clientSecret ?? DEFAULT_CLIENT_SECRET;
    const clientId = idKey ? (config[idKey] as string) : (oauthOptions.clientId ?? spec.clientId);
    let clientSecret = secretKey ? config[secretKey] : (oauthOptions.clientSecret ?? spec.clientSecret);
    const patched: OAuth2AuthSpec = { ...spec, clientId };
    // Public clients must use PKCE and cannot use client credentials: without a declared secret, such specs get a test one.
    if (clientSecret === undefined && (spec.grant === 'client_credentials' || !spec.pkce)) clientSecret = DEFAULT_CLIENT_SECRET;
    if (clientSecret !== undefined) patched.clientSecret = clientSecret;
    else delete patched.clientSecret;
    redirectUri = oauthOptions.redirectUri ?? DEFAULT_REDIRECT;
    oauth = await createOAuthProvider({
      clients: [{ clientId, redirectUris: [redirectUri], ...(clientSecret === undefined ? {} : { clientSecret }) }],
      scopes: oauthOptions.scopes,
      scopeSeparator: spec.scopeSeparator,
      accessTokenTtlSeconds: oauthOptions.accessTokenTtlSeconds,
      rotateRefreshTokens: oauthOptions.rotateRefreshTokens,
      requirePkce: oauthOptions.requirePkce,
      autoConsent: oauthOptions.autoConsent,
      port: oauthOptions.port,
    });
    patched.tokenUrl = oauth.tokenUrl;
    patched.revokeUrl = oauth.revokeUrl;
    if (spec.refreshUrl !== undefined) patched.refreshUrl = oauth.tokenUrl;
    if (spec.grant === 'authorization_code') patched.authorizationUrl = oauth.authorizeUrl;
    manifest = { ...original, auth: patched };
  }
  const auth = manifest.auth;

  let credentials: Credentials | undefined = options.credentials ? structuredClone(options.credentials) : undefined;
  if (!credentials) {
    if (auth.type === 'api_key') credentials = { apiKey: 'test-api-key' };
    else if (auth.type === 'bearer') credentials = { token: 'test-token' };
    else if (auth.type === 'basic') credentials = { username: 'test-user', password: 'test-password' };
  }
  const fields = defaultFields(manifest, { ...(options.credentials?.fields ?? {}), ...(options.fields ?? {}) });
  const store = options.store ?? createMemoryStore();
  const logs: LogEntry[] = [];
  const log = (level: LogLevel, message: string, data?: unknown) => {
    logs.push(data === undefined ? { level, message } : { level, message, data });
    options.log?.(level, message, data);
  };

  const autoAuth = (): MockApiAuth | undefined => {
    const c = credentials;
    switch (auth.type) {
      case 'none':
        return undefined;
      case 'api_key':
        return c?.apiKey === undefined ? undefined : { type: 'api_key', in: auth.in, name: auth.name, value: c.apiKey, prefix: auth.prefix };
      case 'bearer': {
        const token = c?.token ?? c?.accessToken;
        return token === undefined ? undefined : { type: 'bearer', token };
      }
      case 'basic':
        return c?.username === undefined ? undefined : { type: 'basic', username: c.username, password: c.password ?? '' };
      case 'oauth2': {
        if (oauth) return { type: 'oauth2-provider', provider: oauth, header: auth.tokenHeader };
        if (c?.accessToken === undefined) return undefined;
        const h = auth.tokenHeader ?? { name: 'Authorization', prefix: 'Bearer ' };
        return { type: 'api_key', in: 'header', name: h.name, value: c.accessToken, prefix: h.prefix };
      }
    }
  };
  const apiAuthMode = options.apiAuth ?? 'auto';
  const currentApiAuth = () => (apiAuthMode === 'auto' ? autoAuth() : apiAuthMode === 'none' ? undefined : apiAuthMode);

  let api: MockApi;
  try {
    api = await createMockApi({
      fixtures: options.fixtures,
      fixturesDir: options.fixturesDir,
      auth: currentApiAuth(),
      port: options.port,
      record: options.record
        ? { ...options.record, secrets: [...(options.record.secrets ?? []), ...secretValues(credentials, Object.keys(auth.fields ?? {}))] }
        : undefined,
    });
  } catch (error) {
    await oauth?.close();
    throw error;
  }

  const setCredentials = (next: Credentials | undefined) => {
    credentials = next;
    if (apiAuthMode === 'auto') api.setAuth(autoAuth());
  };

  const fieldsFor = (o: RunOptions | undefined) => ({ ...fields, ...(o?.fields ?? {}) });

  // OAuth2 connectors without credentials get tokens from the local provider on first use.
  let connecting: Promise<Credentials> | undefined;
  const ensureCredentials = async (o: RunOptions | undefined): Promise<Credentials | undefined> => {
    if (o?.credentials) return o.credentials;
    if (auth.type === 'oauth2' && oauth && !credentials?.accessToken) {
      connecting ??= connect().finally(() => {
        connecting = undefined;
      });
      await connecting;
    }
    return credentials;
  };

  const transportFor = (creds: Credentials | undefined, o: RunOptions | undefined): Transport =>
    createLocalTransport({
      manifest,
      credentials: creds,
      fields: fieldsFor(o),
      config,
      baseUrlOverride: api.url,
      fetch: offlineFetch,
      // A refresh during a run with the stored credentials is kept, as the platform's vault would keep it.
      onCredentials: o?.credentials ? undefined : (next) => setCredentials({ ...next, fields: credentials?.fields ?? next.fields }),
    });

  const envFor = async (o: RunOptions | undefined) => {
    const creds = await ensureCredentials(o);
    return createLocalEnv(connector, { transport: transportFor(creds, o), credentials: creds, fields: fieldsFor(o), store, log });
  };

  async function connect(input: { scopes?: string[] } = {}): Promise<Credentials> {
    if (auth.type !== 'oauth2') throw new ConnectorError('INVALID_INPUT', `connect() is for OAuth2 connectors; ${original.name} uses ${auth.type} auth`);
    if (!oauth) throw new ConnectorError('INVALID_INPUT', 'connect() needs the local OAuth provider: create the harness with { oauth: true } or without credentials');
    const call = { spec: auth, fields, config, fetch: offlineFetch };
    let tokens: Credentials;
    if (auth.grant === 'client_credentials') {
      tokens = await clientCredentialsToken(input.scopes ? { ...call, spec: { ...auth, scopes: input.scopes } } : call);
    } else {
      const state = randomBytes(16).toString('base64url');
      const pkce = auth.pkce ? createPkcePair() : undefined;
      const url = buildAuthorizeUrl({ spec: auth, redirectUri, state, codeChallenge: pkce?.challenge, fields, config, scopes: input.scopes });
      const res = await fetch(url, { redirect: 'manual' });
      const location = res.headers.get('location');
      if (res.status !== 302 || !location) {
        const body = (await res.json().catch(() => ({}))) as { error?: string; error_description?: string };
        throw new ConnectorError('AUTH_FAILED', `The authorization request was refused (${body.error ?? res.status}: ${body.error_description ?? 'no description'})`);
      }
      await res.body?.cancel();
      const back = new URL(location);
      const error = back.searchParams.get('error');
      if (error) throw new ConnectorError('AUTH_FAILED', `The provider redirected back with ${error}: ${back.searchParams.get('error_description') ?? ''}`);
      if (back.searchParams.get('state') !== state) throw new ConnectorError('AUTH_FAILED', 'The provider returned a different state than was sent (possible CSRF)');
      const code = back.searchParams.get('code');
      if (!code) throw new ConnectorError('AUTH_FAILED', 'The provider redirected back without a code');
      tokens = await exchangeCode({ ...call, code, redirectUri, codeVerifier: pkce?.verifier });
    }
    const next: Credentials = { ...tokens };
    if (credentials?.fields) next.fields = credentials.fields;
    setCredentials(next);
    return next;
  }

  const validateEvents = (name: string, events: unknown[], o: RunOptions | undefined) => {
    const schema = original.triggers.find((t) => t.name === name)?.output;
    if (!schema || !(o?.validate ?? options.validate ?? true)) return;
    events.forEach((event, i) => assertValid(schema, event, `event ${i} of trigger ${original.name}.${name}`, 'INVALID_OUTPUT'));
  };

  const trigger = async (name: string, operation: TriggerOperation, input?: unknown, o?: RunOptions): Promise<unknown> => {
    try {
      const out = await connector.executeTrigger(name, operation, input, await envFor(o));
      if (operation === 'poll') validateEvents(name, (out as { items: unknown[] }).items, o);
      if (operation === 'transform') validateEvents(name, out as unknown[], o);
      return out;
    } catch (error) {
      throw typed(error);
    }
  };

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= Promise.all([api.close(), oauth?.close()]).then(() => undefined);
    return closed;
  };

  return {
    connector,
    manifest,
    api,
    oauth,
    get credentials() {
      return credentials;
    },
    fields,
    config,
    redirectUri,
    store,
    logs,
    async run<T>(action: string, params?: unknown, o?: RunOptions): Promise<T> {
      try {
        const creds = await ensureCredentials(o);
        const output = await runAction(connector, action, params ?? {}, {
          transport: transportFor(creds, o),
          credentials: creds,
          fields: fieldsFor(o),
          store,
          log,
          validate: o?.validate ?? options.validate ?? true,
        });
        return output as T;
      } catch (error) {
        throw typed(error);
      }
    },
    async authenticate(o) {
      try {
        return await connector.authenticate(await envFor(o));
      } catch (error) {
        throw typed(error);
      }
    },
    trigger,
    async poll<S>(name: string, state?: S, o?: RunOptions) {
      return (await trigger(name, 'poll', state, o)) as { items: unknown[]; state: S };
    },
    async subscribe(name, webhookUrl = 'https://hooks.businessos.test/webhooks/test', o) {
      return (await trigger(name, 'subscribe', { webhookUrl }, o)) as WebhookSubscription;
    },
    async deliver(name, d, o) {
      const rawBody = typeof d.body === 'string' ? d.body : JSON.stringify(d.body);
      const delivery: WebhookDelivery = {
        headers: Object.fromEntries(Object.entries(d.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
        query: d.query ?? {},
        body: d.body,
        rawBody,
      };
      return (await trigger(name, 'transform', delivery, o)) as unknown[];
    },
    connect,
    async refresh() {
      if (auth.type !== 'oauth2' || !credentials?.refreshToken) {
        throw new ConnectorError('INVALID_INPUT', 'refresh() needs OAuth2 credentials with a refresh token; call connect() first');
      }
      const next = await refreshAccessToken({ spec: auth, refreshToken: credentials.refreshToken, fields, config, fetch: offlineFetch });
      const merged: Credentials = { ...credentials, ...next };
      setCredentials(merged);
      return merged;
    },
    setCredentials,
    close,
    [Symbol.asyncDispose]: close,
  };
}
