// A local OAuth 2.0 authorization server for connector tests and `bos-connector dev`:
// authorization endpoint with auto-consent (RFC 6749 §4.1), token endpoint (authorization_code with
// PKCE per RFC 7636, refresh_token, client_credentials), revocation (RFC 7009), introspection (RFC 7662)
// and server metadata (RFC 8414). Checks are real: a wrong verifier, a reused code or a revoked token fail.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConnectorError } from '../errors.ts';
import { flatHeaders, listenLoopback, parseBody, readBody, sendJson } from './http-util.ts';

/** A client application registered at the provider. */
export interface OAuthClientConfig {
  clientId: string;
  /** Confidential clients have a secret and must authenticate at the token endpoint; public clients have none and must use PKCE. */
  clientSecret?: string;
  /** Exact redirect URIs the client may use. */
  redirectUris: string[];
}

export interface OAuthProviderOptions {
  clients: OAuthClientConfig[];
  /** Scopes the provider knows; a request for another scope fails with `invalid_scope`. Omitted: any scope is accepted. */
  scopes?: string[];
  /**
   * How scope lists are written (default a space, per RFC 6749 §3.3). Shopify, Slack and GitHub use a comma:
   * requests may use either, responses use this one.
   */
  scopeSeparator?: string;
  /** Lifetime of access tokens (default 3600). */
  accessTokenTtlSeconds?: number;
  /** Lifetime of authorization codes (default 60; RFC 6749 recommends at most 10 minutes). */
  codeTtlSeconds?: number;
  /** Issue a new refresh token on every refresh and invalidate the old one (default true). */
  rotateRefreshTokens?: boolean;
  /** Whether the simulated user consents. `false` simulates a user who clicks "Deny" (`access_denied`). Default true. */
  autoConsent?: boolean;
  /** Refuse authorization requests without a PKCE challenge (default false; public clients always need one). */
  requirePkce?: boolean;
  /** The resource owner the simulated user is (`sub` in introspection). Default `user-1`. */
  subject?: string;
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Clock in epoch milliseconds (default `Date.now`); tests move time with {@link OAuthProvider.advanceTime} instead of waiting. */
  now?: () => number;
}

/** What the provider knows about a token. */
export type TokenStatus =
  | { active: true; kind: 'access' | 'refresh'; clientId: string; scope: string; subject: string; expiresAt: number | undefined; issuedAt: number }
  | { active: false; reason: 'unknown' | 'expired' | 'revoked' };

/** The token response of RFC 6749 §5.1. */
export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token?: string;
  scope: string;
}

/** A running provider. Close it when done (`await using` works). */
export interface OAuthProvider extends AsyncDisposable {
  /** Base URL, `http://127.0.0.1:<port>`. */
  url: string;
  authorizeUrl: string;
  tokenUrl: string;
  revokeUrl: string;
  introspectUrl: string;
  /** RFC 8414 metadata document URL. */
  metadataUrl: string;
  /** Registers another client. */
  addClient(client: OAuthClientConfig): void;
  /** Checks an access or refresh token the way a resource server would. */
  verify(token: string): TokenStatus;
  /** Issues tokens directly, as if the authorization-code dance had happened (for tests that do not care about the dance). */
  issueTokens(input: { clientId: string; scope?: string | string[]; refresh?: boolean }): TokenResponse;
  /** Revokes a token (and, for a refresh token, the access tokens issued with it). Unknown tokens are ignored. */
  revoke(token: string): void;
  /** Makes a token expire now. */
  expire(token: string): void;
  /** Moves the provider's clock forward, so codes and tokens expire without waiting. */
  advanceTime(seconds: number): void;
  /** Every token issued so far, newest last (for assertions). */
  readonly issued: ReadonlyArray<{ accessToken: string; refreshToken?: string; clientId: string; grant: string; scope: string }>;
  close(): Promise<void>;
}

interface CodeRecord {
  clientId: string;
  redirectUri: string | undefined;
  scope: string;
  challenge: string | undefined;
  method: 'S256' | 'plain' | undefined;
  expiresAt: number;
  used: boolean;
  /** Tokens issued from this code, revoked if someone replays it (RFC 6749 §4.1.2). */
  tokens: string[];
}

interface TokenRecord {
  kind: 'access' | 'refresh';
  clientId: string;
  scope: string;
  subject: string;
  issuedAt: number;
  expiresAt: number | undefined;
  revoked: boolean;
  /** For refresh tokens: access tokens issued under it. For access tokens: the refresh token they came with. */
  family: string[];
}

class OAuthError extends Error {
  readonly error: string;
  readonly status: number;
  readonly basicChallenge: boolean;
  constructor(error: string, description: string, status = 400, basicChallenge = false) {
    super(description);
    this.error = error;
    this.status = status;
    this.basicChallenge = basicChallenge;
  }
}

const VERIFIER_RE = /^[A-Za-z0-9\-._~]{43,128}$/;
const SCOPE_TOKEN_RE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

const token = (prefix: string) => `${prefix}_${randomBytes(24).toString('base64url')}`;

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

function splitScope(scope: string | undefined, separator = ' '): string[] {
  return (scope ?? '')
    .split(/\s+/)
    .flatMap((part) => (separator.trim() === '' ? [part] : part.split(separator)))
    .filter((s) => s !== '');
}

/**
 * Starts a local OAuth 2.0 provider on 127.0.0.1 with auto-consent.
 *
 * Endpoints: `GET /oauth/authorize`, `POST /oauth/token`, `POST /oauth/revoke`, `POST /oauth/introspect`,
 * `GET /.well-known/oauth-authorization-server`. Errors follow RFC 6749 (`{ error, error_description }`).
 *
 * @example
 * await using provider = await createOAuthProvider({
 *   clients: [{ clientId: 'app', clientSecret: 's3cret', redirectUris: ['http://127.0.0.1/callback'] }],
 *   scopes: ['read_orders'],
 * });
 */
export async function createOAuthProvider(options: OAuthProviderOptions): Promise<OAuthProvider> {
  const clients = new Map<string, OAuthClientConfig>();
  const addClient = (client: OAuthClientConfig) => {
    if (!client.clientId) throw new ConnectorError('INVALID_INPUT', 'An OAuth client needs a clientId', { path: '/clients/clientId' });
    clients.set(client.clientId, { ...client, redirectUris: [...client.redirectUris] });
  };
  options.clients.forEach(addClient);

  const accessTtl = options.accessTokenTtlSeconds ?? 3600;
  const codeTtl = options.codeTtlSeconds ?? 60;
  const rotate = options.rotateRefreshTokens ?? true;
  const subject = options.subject ?? 'user-1';
  const separator = options.scopeSeparator ?? ' ';
  // Scopes are kept space-separated inside; everything the provider shows uses the configured separator.
  const wire = (scope: string) => scope.split(' ').filter(Boolean).join(separator);
  const known = options.scopes ? new Set(options.scopes) : undefined;
  let offsetMs = 0;
  const now = () => (options.now ?? Date.now)() + offsetMs;

  const codes = new Map<string, CodeRecord>();
  const tokens = new Map<string, TokenRecord>();
  const issued: { accessToken: string; refreshToken?: string; clientId: string; grant: string; scope: string }[] = [];

  const status = (value: string): TokenStatus => {
    const rec = tokens.get(value);
    if (!rec) return { active: false, reason: 'unknown' };
    if (rec.revoked) return { active: false, reason: 'revoked' };
    if (rec.expiresAt !== undefined && rec.expiresAt <= now()) return { active: false, reason: 'expired' };
    return { active: true, kind: rec.kind, clientId: rec.clientId, scope: wire(rec.scope), subject: rec.subject, expiresAt: rec.expiresAt, issuedAt: rec.issuedAt };
  };

  const revokeToken = (value: string) => {
    const rec = tokens.get(value);
    if (!rec) return;
    rec.revoked = true;
    // Revoking a refresh token ends the grant: its access tokens go too (RFC 7009 §2.1).
    if (rec.kind === 'refresh') for (const t of rec.family) revokeToken(t);
  };

  const checkScope = (requested: string | undefined, allowed?: string[]): string => {
    const list = splitScope(requested, separator);
    for (const s of list) {
      if (!SCOPE_TOKEN_RE.test(s)) throw new OAuthError('invalid_scope', `Scope "${s}" contains characters RFC 6749 §3.3 does not allow`);
      if (known && !known.has(s)) throw new OAuthError('invalid_scope', `Unknown scope "${s}"; this provider knows: ${[...known].join(' ') || '(none)'}`);
      if (allowed && !allowed.includes(s)) throw new OAuthError('invalid_scope', `Scope "${s}" was not granted originally; request only: ${allowed.join(' ')}`);
    }
    return list.join(' ');
  };

  const issue = (clientId: string, scope: string, grant: string, withRefresh: boolean, refreshToken?: string): TokenResponse => {
    const at = now();
    const access = token('mat');
    tokens.set(access, { kind: 'access', clientId, scope, subject, issuedAt: at, expiresAt: at + accessTtl * 1000, revoked: false, family: [] });
    const response: TokenResponse = { access_token: access, token_type: 'Bearer', expires_in: accessTtl, scope: wire(scope) };
    let refresh = refreshToken;
    if (withRefresh && refresh === undefined) {
      refresh = token('mrt');
      tokens.set(refresh, { kind: 'refresh', clientId, scope, subject, issuedAt: at, expiresAt: undefined, revoked: false, family: [] });
    }
    if (refresh !== undefined) {
      tokens.get(refresh)?.family.push(access);
      const accessRec = tokens.get(access);
      if (accessRec) accessRec.family.push(refresh);
      response.refresh_token = refresh;
    }
    const entry: (typeof issued)[number] = { accessToken: access, clientId, grant, scope: wire(scope) };
    if (refresh !== undefined) entry.refreshToken = refresh;
    issued.push(entry);
    return response;
  };

  /** Client authentication (RFC 6749 §2.3): HTTP Basic or client_id/client_secret in the body, not both. */
  const authenticateClient = (headers: Record<string, string>, body: Record<string, unknown>): OAuthClientConfig => {
    const auth = headers.authorization;
    let id: string | undefined;
    let secret: string | undefined;
    let viaBasic = false;
    if (auth !== undefined && /^basic /i.test(auth)) {
      viaBasic = true;
      const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw new OAuthError('invalid_client', 'The Basic authorization header is not "client_id:client_secret" in base64', 401, true);
      id = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
      if (typeof body.client_secret === 'string') throw new OAuthError('invalid_request', 'Send the client secret either with HTTP Basic or in the body, not both (RFC 6749 §2.3.1)');
      if (typeof body.client_id === 'string' && body.client_id !== id) throw new OAuthError('invalid_request', 'client_id in the body differs from the one in the Basic header');
    } else {
      id = typeof body.client_id === 'string' ? body.client_id : undefined;
      secret = typeof body.client_secret === 'string' ? body.client_secret : undefined;
    }
    if (!id) throw new OAuthError('invalid_client', 'No client authentication: send client_id (and client_secret) in the body or an HTTP Basic header', 401, viaBasic);
    const client = clients.get(id);
    if (!client) throw new OAuthError('invalid_client', `Unknown client_id "${id}"`, 401, viaBasic);
    if (client.clientSecret !== undefined) {
      if (secret === undefined) throw new OAuthError('invalid_client', `Client "${id}" is confidential: send its client_secret`, 401, viaBasic);
      if (!sameSecret(secret, client.clientSecret)) throw new OAuthError('invalid_client', `Wrong client_secret for client "${id}"`, 401, viaBasic);
    } else if (secret !== undefined && secret !== '') {
      throw new OAuthError('invalid_client', `Client "${id}" is public and has no secret; do not send client_secret`, 401, viaBasic);
    }
    return client;
  };

  const str = (body: Record<string, unknown>, name: string): string | undefined => {
    const v = body[name];
    if (Array.isArray(v)) throw new OAuthError('invalid_request', `Parameter ${name} was sent more than once (RFC 6749 §3.1)`);
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const need = (body: Record<string, unknown>, name: string): string => {
    const v = str(body, name);
    if (v === undefined) throw new OAuthError('invalid_request', `Missing parameter ${name}`);
    return v;
  };

  const grantAuthorizationCode = (client: OAuthClientConfig, body: Record<string, unknown>): TokenResponse => {
    const code = need(body, 'code');
    const rec = codes.get(code);
    if (!rec) throw new OAuthError('invalid_grant', 'The authorization code is unknown');
    if (rec.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'The authorization code was issued to another client');
    if (rec.used) {
      // A replayed code means it leaked: revoke what it produced (RFC 6749 §4.1.2).
      rec.tokens.forEach(revokeToken);
      throw new OAuthError('invalid_grant', 'The authorization code was already used; tokens issued from it are now revoked');
    }
    rec.used = true;
    if (rec.expiresAt <= now()) throw new OAuthError('invalid_grant', `The authorization code expired (codes live ${codeTtl} s)`);
    const redirectUri = str(body, 'redirect_uri');
    if (rec.redirectUri !== undefined && redirectUri !== rec.redirectUri) {
      throw new OAuthError('invalid_grant', 'redirect_uri must be the same as in the authorization request (RFC 6749 §4.1.3)');
    }
    const verifier = str(body, 'code_verifier');
    if (rec.challenge === undefined) {
      if (verifier !== undefined) throw new OAuthError('invalid_grant', 'code_verifier sent, but the authorization request had no code_challenge');
    } else {
      if (verifier === undefined) throw new OAuthError('invalid_grant', 'The authorization request used PKCE: send code_verifier');
      if (!VERIFIER_RE.test(verifier)) throw new OAuthError('invalid_grant', 'code_verifier must be 43-128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1)');
      const derived = rec.method === 'S256' ? s256(verifier) : verifier;
      if (!sameSecret(derived, rec.challenge)) throw new OAuthError('invalid_grant', 'code_verifier does not match the code_challenge (PKCE check failed)');
    }
    const response = issue(client.clientId, rec.scope, 'authorization_code', true);
    rec.tokens.push(response.access_token);
    if (response.refresh_token) rec.tokens.push(response.refresh_token);
    return response;
  };

  const grantRefresh = (client: OAuthClientConfig, body: Record<string, unknown>): TokenResponse => {
    const value = need(body, 'refresh_token');
    const rec = tokens.get(value);
    if (!rec || rec.kind !== 'refresh') throw new OAuthError('invalid_grant', 'The refresh token is unknown');
    if (rec.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'The refresh token was issued to another client');
    if (rec.revoked) throw new OAuthError('invalid_grant', 'The refresh token was revoked or already rotated; reconnect the account');
    const original = splitScope(rec.scope);
    const requested = str(body, 'scope');
    const scope = requested === undefined ? rec.scope : checkScope(requested, original);
    if (!rotate) return issue(client.clientId, scope, 'refresh_token', true, value);
    rec.revoked = true;
    const response = issue(client.clientId, scope, 'refresh_token', true);
    // The new refresh token keeps the original grant's scope, so a narrower refresh can widen again later.
    const next = response.refresh_token ? tokens.get(response.refresh_token) : undefined;
    if (next) next.scope = rec.scope;
    return response;
  };

  const grantClientCredentials = (client: OAuthClientConfig, body: Record<string, unknown>): TokenResponse => {
    if (client.clientSecret === undefined) throw new OAuthError('unauthorized_client', `Client "${client.clientId}" is public; client_credentials needs a confidential client`);
    return issue(client.clientId, checkScope(str(body, 'scope')), 'client_credentials', false);
  };

  const formBody = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const text = await readBody(req);
    const parsed = parseBody(text, req.headers['content-type']);
    if (parsed === undefined) return {};
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new OAuthError('invalid_request', 'Send parameters as application/x-www-form-urlencoded (RFC 6749 §4.1.3)');
    }
    return parsed as Record<string, unknown>;
  };

  const sendError = (res: ServerResponse, error: OAuthError) => {
    const headers: Record<string, string> = { 'cache-control': 'no-store', pragma: 'no-cache' };
    if (error.basicChallenge) headers['www-authenticate'] = 'Basic realm="bos-oauth-simulator"';
    sendJson(res, error.status, { error: error.error, error_description: error.message }, headers);
  };

  const authorize = (url: URL, res: ServerResponse) => {
    const q = url.searchParams;
    const single = (name: string) => (q.getAll(name).length > 1 ? null : (q.get(name) ?? undefined));
    // Errors about the client or redirect URI must not redirect (RFC 6749 §4.1.2.1): the URI cannot be trusted.
    const clientId = single('client_id');
    if (clientId === null || clientId === undefined || clientId === '') {
      return sendError(res, new OAuthError('invalid_request', 'Missing or repeated client_id in the authorization request'));
    }
    const client = clients.get(clientId);
    if (!client) return sendError(res, new OAuthError('invalid_client', `Unknown client_id "${clientId}"; register it with the provider's clients option`, 400));
    const requestedRedirect = single('redirect_uri');
    if (requestedRedirect === null) return sendError(res, new OAuthError('invalid_request', 'redirect_uri was sent more than once'));
    let redirectUri: string;
    if (requestedRedirect === undefined) {
      if (client.redirectUris.length !== 1) {
        return sendError(res, new OAuthError('invalid_request', `Client "${clientId}" has ${client.redirectUris.length} redirect URIs: send redirect_uri`));
      }
      redirectUri = client.redirectUris[0] as string;
    } else if (!client.redirectUris.includes(requestedRedirect)) {
      return sendError(
        res,
        new OAuthError('invalid_request', `redirect_uri "${requestedRedirect}" is not registered for client "${clientId}" (registered: ${client.redirectUris.join(', ') || 'none'})`),
      );
    } else redirectUri = requestedRedirect;

    const state = single('state');
    const back = (params: Record<string, string>) => {
      const target = new URL(redirectUri);
      for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
      if (typeof state === 'string') target.searchParams.set('state', state);
      target.searchParams.set('iss', baseUrl);
      res.writeHead(302, { location: target.toString(), 'cache-control': 'no-store' });
      res.end();
    };
    const fail = (error: string, description: string) => back({ error, error_description: description });

    if (state === null) return fail('invalid_request', 'state was sent more than once');
    const responseType = single('response_type');
    if (responseType === undefined || responseType === null) return fail('invalid_request', 'Missing response_type; use response_type=code');
    if (responseType !== 'code') return fail('unsupported_response_type', `response_type "${responseType}" is not supported; use "code"`);
    let scope: string;
    try {
      const s = single('scope');
      if (s === null) return fail('invalid_request', 'scope was sent more than once');
      scope = checkScope(s);
    } catch (error) {
      return fail('invalid_scope', (error as Error).message);
    }
    const challenge = single('code_challenge');
    const method = single('code_challenge_method');
    if (challenge === null || method === null) return fail('invalid_request', 'PKCE parameters were sent more than once');
    if (challenge === undefined) {
      if (options.requirePkce || client.clientSecret === undefined) return fail('invalid_request', 'PKCE is required: send code_challenge and code_challenge_method=S256');
      if (method !== undefined) return fail('invalid_request', 'code_challenge_method sent without code_challenge');
    } else {
      if (method !== undefined && method !== 'S256' && method !== 'plain') return fail('invalid_request', `code_challenge_method "${method}" is not supported; use S256`);
      if (!VERIFIER_RE.test(challenge)) return fail('invalid_request', 'code_challenge must be 43-128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.2)');
    }
    if (options.autoConsent === false) return fail('access_denied', 'The simulated user denied the request (autoConsent: false)');

    const code = token('mac');
    codes.set(code, {
      clientId,
      redirectUri: requestedRedirect,
      scope,
      challenge,
      // RFC 7636 §4.3: without a method, the challenge is "plain".
      method: challenge === undefined ? undefined : ((method ?? 'plain') as 'S256' | 'plain'),
      expiresAt: now() + codeTtl * 1000,
      used: false,
      tokens: [],
    });
    back({ code });
  };

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', baseUrl);
    const route = `${req.method ?? 'GET'} ${url.pathname}`;
    try {
      switch (route) {
        case 'GET /oauth/authorize':
          return authorize(url, res);
        case 'GET /.well-known/oauth-authorization-server':
          return sendJson(res, 200, {
            issuer: baseUrl,
            authorization_endpoint: `${baseUrl}/oauth/authorize`,
            token_endpoint: `${baseUrl}/oauth/token`,
            revocation_endpoint: `${baseUrl}/oauth/revoke`,
            introspection_endpoint: `${baseUrl}/oauth/introspect`,
            response_types_supported: ['code'],
            grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
            code_challenge_methods_supported: ['S256', 'plain'],
            token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
            scopes_supported: known ? [...known] : undefined,
          });
        case 'POST /oauth/token': {
          const body = await formBody(req);
          const client = authenticateClient(flatHeaders(req), body);
          const grant = str(body, 'grant_type');
          let response: TokenResponse;
          if (grant === undefined) throw new OAuthError('invalid_request', 'Missing parameter grant_type');
          else if (grant === 'authorization_code') response = grantAuthorizationCode(client, body);
          else if (grant === 'refresh_token') response = grantRefresh(client, body);
          else if (grant === 'client_credentials') response = grantClientCredentials(client, body);
          else throw new OAuthError('unsupported_grant_type', `grant_type "${grant}" is not supported; use authorization_code, refresh_token or client_credentials`);
          return sendJson(res, 200, response, { 'cache-control': 'no-store', pragma: 'no-cache' });
        }
        case 'POST /oauth/revoke': {
          const body = await formBody(req);
          const client = authenticateClient(flatHeaders(req), body);
          const value = need(body, 'token');
          const hint = str(body, 'token_type_hint');
          if (hint !== undefined && hint !== 'access_token' && hint !== 'refresh_token') {
            throw new OAuthError('unsupported_token_type', `token_type_hint "${hint}" is not supported; use access_token or refresh_token`);
          }
          const rec = tokens.get(value);
          // RFC 7009 §2.2: an unknown token is not an error. A token of another client is refused.
          if (rec && rec.clientId !== client.clientId) throw new OAuthError('unauthorized_client', 'The token was issued to another client');
          revokeToken(value);
          res.writeHead(200, { 'cache-control': 'no-store', 'content-length': '0' });
          return void res.end();
        }
        case 'POST /oauth/introspect': {
          const body = await formBody(req);
          const client = authenticateClient(flatHeaders(req), body);
          const value = need(body, 'token');
          const st = status(value);
          if (!st.active || st.clientId !== client.clientId) return sendJson(res, 200, { active: false });
          return sendJson(res, 200, {
            active: true,
            scope: st.scope,
            client_id: st.clientId,
            sub: st.subject,
            token_type: st.kind === 'access' ? 'Bearer' : 'refresh_token',
            iat: Math.floor(st.issuedAt / 1000),
            exp: st.expiresAt === undefined ? undefined : Math.floor(st.expiresAt / 1000),
          });
        }
        default:
          if (['/oauth/authorize', '/oauth/token', '/oauth/revoke', '/oauth/introspect'].includes(url.pathname)) {
            const allowed = url.pathname === '/oauth/authorize' ? 'GET' : 'POST';
            return sendJson(res, 405, { error: 'invalid_request', error_description: `${url.pathname} accepts ${allowed}, not ${req.method ?? 'GET'}` }, { allow: allowed });
          }
          return sendJson(res, 404, {
            error: 'not_found',
            error_description: `${route} is not an endpoint of the local OAuth provider; use /oauth/authorize, /oauth/token, /oauth/revoke or /oauth/introspect`,
          });
      }
    } catch (error) {
      if (error instanceof OAuthError) return sendError(res, error);
      if (error instanceof ConnectorError && error.code === 'PAYLOAD_TOO_LARGE') return sendError(res, new OAuthError('invalid_request', error.message, 413));
      throw error;
    }
  };

  const server = await listenLoopback(handler, options.port ?? 0, 'local OAuth provider');
  const baseUrl = server.url;

  return {
    url: baseUrl,
    authorizeUrl: `${baseUrl}/oauth/authorize`,
    tokenUrl: `${baseUrl}/oauth/token`,
    revokeUrl: `${baseUrl}/oauth/revoke`,
    introspectUrl: `${baseUrl}/oauth/introspect`,
    metadataUrl: `${baseUrl}/.well-known/oauth-authorization-server`,
    addClient,
    verify: status,
    issueTokens(input) {
      if (!clients.has(input.clientId)) throw new ConnectorError('INVALID_INPUT', `issueTokens: unknown client "${input.clientId}"; register it first`);
      const scope = checkScopeForTests(input.scope);
      return issue(input.clientId, scope, 'direct', input.refresh ?? true);
    },
    revoke: revokeToken,
    expire(value) {
      const rec = tokens.get(value);
      if (rec) rec.expiresAt = now();
    },
    advanceTime(seconds) {
      offsetMs += seconds * 1000;
    },
    get issued() {
      return issued;
    },
    close: () => server.close(),
    [Symbol.asyncDispose]: () => server.close(),
  };

  function checkScopeForTests(scope: string | string[] | undefined): string {
    try {
      return checkScope(Array.isArray(scope) ? scope.join(' ') : scope);
    } catch (error) {
      throw new ConnectorError('INVALID_INPUT', `issueTokens: ${(error as Error).message}`);
    }
  }
}
