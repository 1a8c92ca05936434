import type { AuthSpec, Credentials } from '../auth.ts';
import type { ConnectorManifest } from '../connector.ts';
import { ConnectorError, TimeoutError } from '../errors.ts';
import type { HttpRequest, HttpResponse, QueryValue, Transport } from '../http.ts';
import { applyAuth } from './apply-auth.ts';
import { encodeForm } from './form.ts';
import { refreshAccessToken, type PlatformConfig } from './oauth2.ts';
import { fillTemplate, mayCarryCredentials, resolveUrl } from './url.ts';

export interface LocalTransportOptions {
  manifest: ConnectorManifest;
  credentials?: Credentials;
  /** Non-secret connection fields (and secret ones: they stay on the host). Defaults to `credentials.fields`. */
  fields?: Record<string, string>;
  config?: PlatformConfig;
  /** Send relative paths (and absolute URLs on declared hosts) to this origin instead, e.g. a mock API. */
  baseUrlOverride?: string;
  fetch?: typeof fetch;
  /** Default and maximum request timeout. */
  timeoutMs?: number;
  /** Called after an OAuth2 refresh so the caller can persist the new tokens. */
  onCredentials?: (credentials: Credentials) => void | Promise<void>;
}

function appendQuery(url: URL, query: Record<string, QueryValue> | undefined): void {
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined || v === null) continue;
    if (Array.isArray(v)) for (const item of v) url.searchParams.append(k, String(item));
    else url.searchParams.set(k, String(v));
  }
}

/** Reads a fetch response into the SDK's plain `HttpResponse`. */
export async function readResponse(res: Response): Promise<HttpResponse> {
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => { headers[k] = v; });
  const text = await res.text();
  let data: unknown = text;
  if (text && /json/i.test(headers['content-type'] ?? '')) {
    try { data = JSON.parse(text); } catch { data = text; }
  } else if (!text) data = null;
  return { status: res.status, headers, data };
}

/**
 * A host transport for local runs (CLI `run`, tests, the simulator): resolves URLs against the manifest,
 * enforces declared hosts, applies credentials on the host side (only for the baseUrl's host and exactly declared
 * hosts, as the runtime does: see `mayCarryCredentials`) and refreshes OAuth2 tokens on a 401.
 * The production runtime adds IP-level egress checks, size caps and metering on top of the same steps.
 */
export function createLocalTransport(options: LocalTransportOptions): Transport {
  const { manifest } = options;
  const auth: AuthSpec = manifest.auth;
  let credentials = options.credentials;
  const fields = () => ({ ...(credentials?.fields ?? {}), ...(options.fields ?? {}) });
  const doFetch = options.fetch ?? fetch;
  const maxTimeout = options.timeoutMs ?? 30_000;

  // With an override (the simulator), a relative path goes to the override as is (`/orders.json`, not the
  // base URL's own path prefix) and an absolute URL on a declared host keeps only its path.
  const target = (url: URL, req: HttpRequest): URL => {
    if (!options.baseUrlOverride) return url;
    const isAbsolute = /^[a-z][a-z0-9+.-]*:/i.test(req.url);
    let path = isAbsolute ? url.pathname : new URL(req.url.startsWith('/') ? req.url : `/${req.url}`, 'http://x').pathname;
    if (isAbsolute && manifest.baseUrl) {
      // An absolute URL under the base URL (a next-page link) maps to the same path a relative call would use.
      const base = new URL(fillTemplate(manifest.baseUrl, fields(), 'baseUrl'));
      const prefix = base.pathname.replace(/\/+$/, '');
      if (base.host === url.host && prefix && (path === prefix || path.startsWith(`${prefix}/`))) path = path.slice(prefix.length) || '/';
    }
    const out = new URL(options.baseUrlOverride.replace(/\/+$/, '') + path);
    out.search = url.search;
    return out;
  };

  const send = async (req: HttpRequest): Promise<HttpResponse> => {
    const method = req.method.toUpperCase();
    const requested = resolveUrl(manifest, fields(), req.url);
    // Decided on the URL the connector asked for, before the simulator's override: the runtime's rule (baseUrl host and
    // exactly declared hosts; a host matched only by a `*.` wildcard gets the request without credentials).
    const credentialed = mayCarryCredentials(manifest, fields(), req.url, requested, { baseUrl: options.baseUrlOverride });
    const url = target(requested, req);
    appendQuery(url, req.query);
    const headers: Record<string, string> = { accept: 'application/json', ...(req.headers ?? {}) };
    let body: string | undefined;
    if (req.body !== undefined && method !== 'GET' && method !== 'HEAD') {
      if (req.bodyType === 'form') {
        body = encodeForm(req.body);
        headers['content-type'] = 'application/x-www-form-urlencoded';
      } else {
        body = JSON.stringify(req.body);
        headers['content-type'] ??= 'application/json';
      }
    }
    const authed = credentialed ? applyAuth({ url, headers }, auth, credentials) : { url, headers };
    const timeout = Math.min(req.timeoutMs ?? maxTimeout, maxTimeout);
    try {
      const res = await doFetch(authed.url, { method, headers: authed.headers, body, signal: AbortSignal.timeout(timeout), redirect: 'manual' });
      return await readResponse(res);
    } catch (error) {
      const e = error as Error;
      if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new TimeoutError(`${method} ${url.origin}${url.pathname} timed out after ${timeout} ms`);
      if (error instanceof ConnectorError) throw error;
      throw new ConnectorError('NETWORK_ERROR', `${method} ${url.origin}${url.pathname} failed: ${e.message}`);
    }
  };

  return async (req) => {
    if (auth.type === 'oauth2' && credentials?.expiresAt && credentials.refreshToken && credentials.expiresAt - Date.now() < 60_000) {
      await refresh();
    }
    const res = await send(req);
    if (res.status === 401 && auth.type === 'oauth2' && credentials?.refreshToken) {
      await refresh();
      return send(req);
    }
    return res;
  };

  async function refresh(): Promise<void> {
    if (auth.type !== 'oauth2' || !credentials?.refreshToken) return;
    const next = await refreshAccessToken({ spec: auth, refreshToken: credentials.refreshToken, fields: fields(), config: options.config, fetch: doFetch });
    credentials = { ...credentials, ...next, fields: credentials.fields };
    await options.onCredentials?.(credentials);
  }
}
