import { createHash, randomBytes } from 'node:crypto';
import type { Credentials, OAuth2AuthSpec } from '../auth.ts';
import { ConnectorError, isConnectorError } from '../errors.ts';
import { fillTemplate } from './url.ts';

/** Platform configuration that auth specs may reference (`config.client_id` → `config.client_id` key). */
export type PlatformConfig = Record<string, string | undefined>;

/** Resolves `config.client_id` / `config:client_id` against platform config; other values are literals. */
export function resolveConfigRef(value: string | undefined, config: PlatformConfig = {}): string | undefined {
  if (value === undefined) return undefined;
  const m = /^config[.:](.+)$/.exec(value);
  if (!m?.[1]) return value;
  const resolved = config[m[1]];
  if (resolved === undefined || resolved === '') {
    throw new ConnectorError('INVALID_INPUT', `The connector needs platform config "${m[1]}" (referenced as ${value}); set it in the platform's connector configuration`);
  }
  return resolved;
}

const base64url = (buf: Buffer) => buf.toString('base64url');

/** A PKCE verifier and its S256 challenge (RFC 7636). */
export function createPkcePair(): { verifier: string; challenge: string; method: 'S256' } {
  const verifier = base64url(randomBytes(32));
  return { verifier, challenge: base64url(createHash('sha256').update(verifier).digest()), method: 'S256' };
}

export interface AuthorizeUrlInput {
  spec: OAuth2AuthSpec;
  redirectUri: string;
  state: string;
  codeChallenge?: string;
  fields?: Record<string, string>;
  config?: PlatformConfig;
  scopes?: string[];
}

/** The provider URL the tenant's browser is sent to for the authorization-code grant. */
export function buildAuthorizeUrl(input: AuthorizeUrlInput): string {
  const { spec } = input;
  if (!spec.authorizationUrl) throw new ConnectorError('INVALID_INPUT', 'This OAuth2 connector declares no authorizationUrl (client-credentials grant?)');
  const url = new URL(fillTemplate(spec.authorizationUrl, input.fields ?? {}, 'authorizationUrl'));
  const p = url.searchParams;
  p.set('response_type', 'code');
  p.set('client_id', resolveConfigRef(spec.clientId, input.config) ?? '');
  p.set('redirect_uri', input.redirectUri);
  const scopes = input.scopes ?? spec.scopes;
  if (scopes.length > 0) p.set('scope', scopes.join(spec.scopeSeparator));
  p.set('state', input.state);
  if (spec.pkce) {
    if (!input.codeChallenge) throw new ConnectorError('INVALID_INPUT', 'This connector requires PKCE: pass codeChallenge (see createPkcePair)');
    p.set('code_challenge', input.codeChallenge);
    p.set('code_challenge_method', 'S256');
  }
  for (const [k, v] of Object.entries(spec.extraAuthorizeParams ?? {})) p.set(k, v);
  return url.toString();
}

interface TokenCall {
  spec: OAuth2AuthSpec;
  fields?: Record<string, string>;
  config?: PlatformConfig;
  fetch?: typeof fetch;
}

/** The endpoints a token call posts to, by the manifest key that names them (used in messages). */
type EndpointKey = 'tokenUrl' | 'refreshUrl' | 'revokeUrl';

/** Origin and path of a URL for messages: never its query (a provider may put secrets there) nor user info. */
function originAndPath(url: string, base?: string): string | undefined {
  try {
    const parsed = new URL(url, base);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return undefined;
  }
}

/**
 * POSTs a form to a token or revocation endpoint and never follows a redirect: the body carries the client secret
 * and a code, PKCE verifier or token, which a 307/308 would make fetch post again to wherever the answer points,
 * and such an endpoint is called directly (RFC 6749 §3.2, RFC 7009 §2). A redirect answer is an AUTH_FAILED error
 * naming both ends (origin and path only). Failures of the fetch itself are NETWORK_ERROR, unless the fetch
 * already threw a ConnectorError (a host's egress policy refusing the address, a size cap): that one is kept.
 */
async function postToEndpoint(call: TokenCall, target: string, key: EndpointKey, init: { headers: Record<string, string>; body: URLSearchParams }): Promise<Response> {
  const endpoint = originAndPath(target) ?? key;
  const what = key === 'revokeUrl' ? 'revocation endpoint' : 'token endpoint';
  let res: Response;
  try {
    res = await (call.fetch ?? fetch)(target, { method: 'POST', headers: init.headers, body: init.body, redirect: 'manual', signal: AbortSignal.timeout(15_000) });
  } catch (error) {
    if (error instanceof Error && isConnectorError(error)) throw error;
    throw new ConnectorError('NETWORK_ERROR', `The ${what} ${endpoint} could not be reached: ${(error as Error).message}`);
  }
  // 'opaqueredirect' is what a browser-style fetch returns for a redirect under redirect: 'manual' (status 0).
  if ((res.status >= 300 && res.status < 400) || res.type === 'opaqueredirect') {
    await res.body?.cancel().catch(() => undefined);
    const location = res.headers.get('location');
    const to = location === null ? undefined : originAndPath(location, target);
    throw new ConnectorError(
      'AUTH_FAILED',
      `The ${what} (${endpoint}) redirected with ${res.status}${to ? ` to ${to}` : ''}; the redirect was not followed, so the client credentials and the ${key === 'revokeUrl' ? 'token' : 'code, verifier or token'} in the request were not sent there. Set the connector's ${key} to the endpoint's final URL (or ask the provider why it redirects)`,
      { upstreamStatus: res.status },
    );
  }
  return res;
}

/** The most a token endpoint's answer may hold; a real one is a few KiB. */
export const MAX_TOKEN_ANSWER_BYTES = 1024 * 1024;

/**
 * The answer's text, read up to `limit` bytes: an endpoint that announces or sends more fails with UPSTREAM_ERROR
 * (the rest is not read), so a hostile or broken one cannot fill the caller's memory, whatever fetch it uses.
 */
async function readCappedText(res: Response, endpoint: string, limit = MAX_TOKEN_ANSWER_BYTES): Promise<string> {
  const tooLarge = () => new ConnectorError('UPSTREAM_ERROR', `The token endpoint ${endpoint} answered more than ${limit} bytes; a token answer is a small JSON object`, { upstreamStatus: res.status });
  const announced = Number(res.headers.get('content-length'));
  if (Number.isFinite(announced) && announced > limit) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let read: Awaited<ReturnType<typeof reader.read>>;
    try {
      read = await reader.read();
    } catch (error) {
      // The connection broke or the call's time ran out mid-answer: said like a failed send, not as a raw stream error.
      const timedOut = (error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError';
      throw new ConnectorError(timedOut ? 'TIMEOUT' : 'NETWORK_ERROR', `Reading the answer of the token endpoint ${endpoint} failed: ${(error as Error).message}`);
    }
    const { done, value } = read;
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  // Decoded as Response.text() does: TextDecoder drops a leading byte order mark (Buffer#toString keeps it, and
  // JSON.parse refuses it), which some token endpoints send.
  return new TextDecoder().decode(Buffer.concat(chunks));
}

async function tokenRequest(call: TokenCall, params: Record<string, string>, key: 'tokenUrl' | 'refreshUrl' = 'tokenUrl'): Promise<Credentials> {
  const { spec, config } = call;
  const clientId = resolveConfigRef(spec.clientId, config) ?? '';
  const clientSecret = resolveConfigRef(spec.clientSecret, config);
  const body = new URLSearchParams(params);
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (spec.clientAuth === 'basic' && clientSecret !== undefined) {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
  } else {
    body.set('client_id', clientId);
    if (clientSecret !== undefined) body.set('client_secret', clientSecret);
  }
  const target = fillTemplate((key === 'refreshUrl' ? spec.refreshUrl : undefined) ?? spec.tokenUrl, call.fields ?? {}, key);
  const res = await postToEndpoint(call, target, key, { headers, body });
  const text = await readCappedText(res, originAndPath(target) ?? key);
  let data: Record<string, unknown>;
  try {
    data = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    data = Object.fromEntries(new URLSearchParams(text));
  }
  // Some providers (Slack) answer 200 with { ok: false, error }.
  const oauthError = typeof data.error === 'string' ? data.error : undefined;
  if (!res.ok || oauthError || typeof data.access_token !== 'string') {
    const what = oauthError ?? `HTTP ${res.status}`;
    const desc = typeof data.error_description === 'string' ? `: ${data.error_description}` : '';
    const code = oauthError === 'invalid_grant' ? 'AUTH_EXPIRED' : res.status >= 500 ? 'UPSTREAM_ERROR' : 'AUTH_FAILED';
    throw new ConnectorError(code, `Token endpoint refused the request (${what}${desc})`, { upstreamStatus: res.status });
  }
  const creds: Credentials = { accessToken: data.access_token };
  if (typeof data.refresh_token === 'string') creds.refreshToken = data.refresh_token;
  if (typeof data.token_type === 'string') creds.tokenType = data.token_type;
  if (typeof data.scope === 'string') creds.scope = data.scope;
  const expiresIn = Number(data.expires_in);
  if (Number.isFinite(expiresIn) && expiresIn > 0) creds.expiresAt = Date.now() + expiresIn * 1000;
  return creds;
}

/**
 * Exchanges an authorization code (with the PKCE verifier) for tokens. Like every token call it follows no redirect:
 * a 3xx answer is an AUTH_FAILED error that names the endpoint and the Location (origin and path).
 */
export function exchangeCode(call: TokenCall & { code: string; redirectUri: string; codeVerifier?: string }): Promise<Credentials> {
  const params: Record<string, string> = { grant_type: 'authorization_code', code: call.code, redirect_uri: call.redirectUri };
  if (call.codeVerifier) params.code_verifier = call.codeVerifier;
  return tokenRequest(call, params);
}

/** Uses a refresh token; keeps the old refresh token when the provider does not rotate it. */
export async function refreshAccessToken(call: TokenCall & { refreshToken: string }): Promise<Credentials> {
  const creds = await tokenRequest(call, { grant_type: 'refresh_token', refresh_token: call.refreshToken }, call.spec.refreshUrl ? 'refreshUrl' : 'tokenUrl');
  creds.refreshToken ??= call.refreshToken;
  return creds;
}

/** Client-credentials grant (machine-to-machine). */
export function clientCredentialsToken(call: TokenCall): Promise<Credentials> {
  const params: Record<string, string> = { grant_type: 'client_credentials' };
  if (call.spec.scopes.length > 0) params.scope = call.spec.scopes.join(call.spec.scopeSeparator);
  return tokenRequest(call, params);
}

/**
 * RFC 7009 revocation; resolves false when the connector declares no revocation endpoint or the provider refuses.
 * Throws AUTH_FAILED when the endpoint redirects (not followed, see the token calls) and NETWORK_ERROR when it cannot be reached.
 */
export async function revokeToken(call: TokenCall & { token: string; tokenTypeHint?: 'access_token' | 'refresh_token' }): Promise<boolean> {
  if (!call.spec.revokeUrl) return false;
  const clientId = resolveConfigRef(call.spec.clientId, call.config) ?? '';
  const clientSecret = resolveConfigRef(call.spec.clientSecret, call.config);
  const body = new URLSearchParams({ token: call.token, client_id: clientId });
  if (clientSecret) body.set('client_secret', clientSecret);
  if (call.tokenTypeHint) body.set('token_type_hint', call.tokenTypeHint);
  const res = await postToEndpoint(call, fillTemplate(call.spec.revokeUrl, call.fields ?? {}, 'revokeUrl'), 'revokeUrl', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  // Only the status matters; the body is let go so the connection can be reused.
  await res.body?.cancel().catch(() => undefined);
  return res.ok;
}
