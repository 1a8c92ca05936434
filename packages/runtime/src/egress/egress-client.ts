import { Agent, request as undiciRequest } from 'undici';
import { ConnectorError, isConnectorError, type ConnectorManifest, type HttpRequest, type HttpResponse } from '@businessos/connector-sdk';
import { assertUrlAllowed, encodeForm, fillTemplate, mayCarryCredentials, resolveRequestUrl } from '@businessos/connector-sdk/host';
import type { OutgoingTarget } from './apply-auth.ts';
import { createCheckedConnector, findConnectorError, readCappedBody, type Resolver } from './checked-connect.ts';

export type { Resolver } from './checked-connect.ts';

export interface EgressOptions {
  /** Test mode: allow loopback addresses, plain http to them, and any port on declared hosts. Default false. */
  allowLoopback?: boolean;
  /** Largest request body (default 5 MiB). */
  maxRequestBytes?: number;
  /**
   * Largest request head: the URL with its query plus header names and values (default 64 KiB). Without it a
   * connector could send what the body cap refuses in a header or the query.
   */
  maxRequestHeadBytes?: number;
  /** Largest response body (default 10 MiB); the transfer is aborted once it goes past. */
  maxResponseBytes?: number;
  /** Timeout of a request including its redirects when the connector asks for none (default 30 s). */
  defaultTimeoutMs?: number;
  /** Upper bound of any request's timeout (default 60 s). */
  maxTimeoutMs?: number;
  /** TCP/TLS connect timeout (default 10 s). */
  connectTimeoutMs?: number;
  /** Redirects followed (default 5). */
  maxRedirects?: number;
  resolver?: Resolver;
  userAgent?: string;
}

/** Counters of one execution's HTTP traffic (body bytes). */
export interface EgressStats {
  httpCalls: number;
  bytesIn: number;
  bytesOut: number;
}

/** One request as the host sends it for a connector. */
export interface EgressCall {
  manifest: Pick<ConnectorManifest, 'name' | 'baseUrl' | 'hosts'>;
  /** Connection fields, for `{field}` placeholders in baseUrl and hosts. */
  fields: Record<string, string>;
  /** The fields placeholders in the request's own absolute URL may use (default `fields`): the non-secret ones. */
  urlFields?: Record<string, string>;
  request: HttpRequest;
  /**
   * Adds credentials; called for the first hop and for redirect hops that have not left its host, and only when that
   * host is the baseUrl's or one the manifest declares exactly (see `mayCarryCredentials`). Answers the header names it set.
   */
  authorize?: (target: OutgoingTarget) => string[];
  /**
   * Follow redirects (default true). With false a redirect answer is returned as it is: for requests whose body
   * carries secrets (an OAuth token request), which a 307/308 would have sent again to wherever the server chose.
   */
  followRedirects?: boolean;
  stats?: EgressStats;
  signal?: AbortSignal;
  /** Replaces manifest.baseUrl (local development against a mock). */
  baseUrlOverride?: string;
}

/** The host's HTTP client for connector traffic. */
export interface EgressClient {
  send(call: EgressCall): Promise<HttpResponse>;
  close(): Promise<void>;
}

const DROPPED_HEADERS = new Set([
  'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect',
  'proxy-authorization', 'proxy-connection',
]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
// The most of a redirect answer's body read (and metered) before the next hop; the rest is cut off with the connection.
const REDIRECT_BODY_LIMIT = 128 * 1024;
// What resolveRequestUrl takes as an absolute URL (anything else is joined to the base URL).
const ABSOLUTE = /^[a-z][a-z0-9+.-]*:/i;
const BODY_TYPES: ReadonlySet<unknown> = new Set([undefined, 'json', 'form']);
// A dot-segment ('.', '..', or their %2e spellings) between separators; '\\' separates too in http(s) URLs.
const DOT_SEGMENT = /(?:^|[/\\])(?:\.|%2e){1,2}(?:[/\\?#]|$)/i;
// The methods of HttpMethod. The request crosses the sandbox boundary as data, so the type alone does not hold:
// TRACE would echo the credentials the host adds back to the connector, CONNECT would open a tunnel.
const METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']);
// Abort reasons made once: building a DOMException per request shows up in profiles.
const TIMEOUT_REASON = Object.freeze(Object.assign(new Error('request timed out'), { name: 'TimeoutError' }));
const CANCEL_REASON = Object.freeze(Object.assign(new Error('request cancelled'), { name: 'AbortError' }));

function denied(message: string): ConnectorError {
  return new ConnectorError('EGRESS_DENIED', message);
}

function encodeBody(request: HttpRequest, headers: Record<string, string>): Buffer | undefined {
  if (request.body === undefined || request.method === 'GET' || request.method === 'HEAD') return undefined;
  const has = (name: string) => Object.keys(headers).some((k) => k.toLowerCase() === name);
  if (request.bodyType === 'form') {
    if (typeof request.body !== 'object' || request.body === null || Array.isArray(request.body)) {
      throw new ConnectorError('INVALID_INPUT', 'A form body must be an object', { path: '/body' });
    }
    if (!has('content-type')) headers['content-type'] = 'application/x-www-form-urlencoded';
    return Buffer.from(encodeForm(request.body), 'utf8');
  }
  if (typeof request.body === 'string' && request.bodyType === undefined) {
    if (!has('content-type')) headers['content-type'] = 'text/plain; charset=utf-8';
    return Buffer.from(request.body, 'utf8');
  }
  if (!has('content-type')) headers['content-type'] = 'application/json';
  return Buffer.from(JSON.stringify(request.body), 'utf8');
}

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (text === '') return contentType?.includes('json') ? null : '';
  if (contentType && /[/+]json\b/i.test(contentType)) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isQueryScalar = (value: unknown) => typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';

/**
 * Checks the options of a request that came from the sandbox: it crosses the boundary as data, so its type
 * promises nothing. Refused before anything is resolved or sent.
 */
function assertRequestOptions(request: HttpRequest, maxTimeoutMs: number): void {
  const { timeoutMs, headers, query, bodyType } = request as { timeoutMs?: unknown; headers?: unknown; query?: unknown; bodyType?: unknown };
  // null is taken as "not given", as `??` always did.
  if (timeoutMs !== undefined && timeoutMs !== null && !(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new ConnectorError(
      'INVALID_INPUT',
      `Request option timeoutMs must be a number of milliseconds above 0 (the host caps it at ${maxTimeoutMs}), got ${typeof timeoutMs === 'number' ? String(timeoutMs) : typeof timeoutMs}; pass a number such as 10000 or leave it out for the default`,
      { path: '/timeoutMs' },
    );
  }
  if (headers !== undefined && !isPlainObject(headers)) {
    throw new ConnectorError('INVALID_INPUT', 'Request option headers must be an object of header names to string values', { path: '/headers' });
  }
  if (query !== undefined) {
    if (!isPlainObject(query)) throw new ConnectorError('INVALID_INPUT', 'Request option query must be an object of parameter names to values', { path: '/query' });
    for (const [key, value] of Object.entries(query)) {
      const ok = value === undefined || value === null || isQueryScalar(value) || (Array.isArray(value) && value.every(isQueryScalar));
      if (!ok) {
        throw new ConnectorError('INVALID_INPUT', `Query parameter ${key} must be a string, number, boolean, null or an array of those; encode objects yourself`, { path: `/query/${key}` });
      }
    }
  }
  if (!BODY_TYPES.has(bodyType)) {
    throw new ConnectorError('INVALID_INPUT', `Request option bodyType must be "json" or "form", got ${JSON.stringify(bodyType) ?? typeof bodyType}`, { path: '/bodyType' });
  }
}

/** The base URL requests are resolved against: the operator's override or the manifest's, placeholders filled. */
function baseUrlOf(call: EgressCall): URL | undefined {
  const base = call.baseUrlOverride ?? call.manifest.baseUrl;
  if (!base) return undefined;
  try {
    return new URL(base.includes('{') ? fillTemplate(base, call.fields, 'baseUrl') : base);
  } catch {
    return undefined;
  }
}

/**
 * Refuses a relative URL whose dot-segments take it out of the base URL's path (`/v2/../admin` against
 * https://api.example.com/v2). The path prefix is part of the reviewed manifest, and a connector that puts a
 * parameter into a path (`/items/${id}`) must not let `../` in it reach other paths of the API with the
 * connection's credentials. An absolute URL on a declared host states its path openly and is not affected.
 */
function assertUnderBasePath(call: EgressCall, url: URL): void {
  const relative = !ABSOLUTE.test(call.request.url);
  // Only a URL with a dot-segment can leave the prefix: the base URL and the path are joined with a '/'.
  if (!relative || !DOT_SEGMENT.test(call.request.url)) return;
  const base = baseUrlOf(call);
  const prefix = base?.pathname.replace(/\/+$/, '') ?? '';
  if (prefix === '' || url.pathname === prefix || url.pathname.startsWith(`${prefix}/`)) return;
  throw new ConnectorError(
    'INVALID_INPUT',
    `The relative URL ${JSON.stringify(call.request.url.slice(0, 200))} resolves to ${url.pathname.slice(0, 200)}, outside the base URL path ${prefix}; use a path under ${prefix} without '..' segments, or an absolute URL on a declared host`,
    { path: '/url' },
  );
}

/**
 * Creates the egress-controlled HTTP client. Every connection is checked after DNS resolution, in the
 * connect step itself, so the address checked is the address connected to (no DNS-rebinding window);
 * redirects are followed by hand and each hop is checked again.
 */
export function createEgressClient(options: EgressOptions = {}): EgressClient {
  const allowLoopback = options.allowLoopback ?? false;
  const maxRequestBytes = options.maxRequestBytes ?? 5 * 1024 * 1024;
  const maxRequestHeadBytes = options.maxRequestHeadBytes ?? 64 * 1024;
  const maxResponseBytes = options.maxResponseBytes ?? 10 * 1024 * 1024;
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000;
  const maxTimeoutMs = options.maxTimeoutMs ?? 60_000;
  const maxRedirects = options.maxRedirects ?? 5;
  // Every connection is checked after DNS resolution, in the connect step itself (see createCheckedConnector).
  const connect = createCheckedConnector({ allowLoopback, resolver: options.resolver, connectTimeoutMs: options.connectTimeoutMs });
  const agent = new Agent({ connect, headersTimeout: maxTimeoutMs, bodyTimeout: maxTimeoutMs });

  async function send(call: EgressCall): Promise<HttpResponse> {
    const { manifest, fields, request } = call;
    if (!METHODS.has(request.method)) {
      throw new ConnectorError('INVALID_INPUT', `HTTP method ${JSON.stringify(request.method)} is not supported; use one of ${[...METHODS].join(', ')}`, { path: '/method' });
    }
    assertRequestOptions(request, maxTimeoutMs);
    const check = { anyPort: allowLoopback, allowHttp: allowLoopback };
    let url = resolveRequestUrl(manifest, fields, request.url, request.query, call.baseUrlOverride, call.urlFields ?? fields);
    assertUrlAllowed(manifest, fields, url, check);
    assertUnderBasePath(call, url);
    const originalHost = url.host;
    // The SDK's one rule: the baseUrl's host and exactly declared hosts, never a wildcard-only match.
    const credentialed = call.authorize !== undefined && mayCarryCredentials(manifest, fields, request.url, url, { baseUrl: call.baseUrlOverride, anyPort: allowLoopback });

    const baseHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(request.headers ?? {})) {
      if (typeof v !== 'string') throw new ConnectorError('INVALID_INPUT', `Header ${k} must be a string`, { path: `/headers/${k}` });
      if (/[\r\n]/.test(v) || /[\r\n:]/.test(k)) throw new ConnectorError('INVALID_INPUT', `Header ${k} contains a line break`, { path: `/headers/${k}` });
      if (!DROPPED_HEADERS.has(k.toLowerCase())) baseHeaders[k] = v;
    }
    if (options.userAgent && !Object.keys(baseHeaders).some((k) => k.toLowerCase() === 'user-agent')) baseHeaders['user-agent'] = options.userAgent;
    let headBytes = Buffer.byteLength(url.href);
    for (const [k, v] of Object.entries(baseHeaders)) headBytes += Buffer.byteLength(k) + Buffer.byteLength(v);
    if (headBytes > maxRequestHeadBytes) {
      throw new ConnectorError('PAYLOAD_TOO_LARGE', `URL and headers of ${request.method} ${url.host}${url.pathname} are ${headBytes} bytes, over the ${maxRequestHeadBytes}-byte limit; send large data in the body`);
    }
    let body = encodeBody(request, baseHeaders);
    if (body && body.length > maxRequestBytes) {
      throw new ConnectorError('PAYLOAD_TOO_LARGE', `Request body of ${request.method} ${request.url} is ${body.length} bytes, over the ${maxRequestBytes}-byte limit; send less per call`);
    }
    let method: string = request.method;

    // assertRequestOptions has made sure timeoutMs is a positive number when given.
    const timeoutMs = Math.min(Math.max(1, request.timeoutMs ?? defaultTimeoutMs), maxTimeoutMs);
    // One controller per request: cheaper than AbortSignal.timeout + AbortSignal.any on the hot path.
    const controller = new AbortController();
    const timeout = { aborted: false };
    const timer = setTimeout(() => {
      timeout.aborted = true;
      controller.abort(TIMEOUT_REASON);
    }, timeoutMs);
    const onCallerAbort = () => controller.abort(CANCEL_REASON);
    if (call.signal?.aborted) onCallerAbort();
    else call.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const signal = controller.signal;
    // Once a redirect has left the first host, a hop back to it goes where the other host chose (path, query, and
    // a 307 keeps method and body): it is sent like a hop to another host.
    let onFirstHost = true;
    try {
      for (let hop = 0; ; hop++) {
        const headers: Record<string, string> = { ...baseHeaders };
        if (url.host !== originalHost) onFirstHost = false;
        if (onFirstHost) {
          // Credentials only for the baseUrl's host and exactly declared hosts, never a wildcard-only match (mayCarryCredentials).
          if (credentialed) call.authorize?.({ url, headers });
        } else {
          // Another host, or the first one again on another host's say: never forward credentials, whether the host
          // added them or the connector did.
          for (const k of Object.keys(headers)) if (['authorization', 'cookie'].includes(k.toLowerCase())) delete headers[k];
        }
        if (call.stats) {
          call.stats.httpCalls++;
          call.stats.bytesOut += body?.length ?? 0;
        }
        let res: Awaited<ReturnType<typeof undiciRequest>>;
        try {
          res = await undiciRequest(url, { method: method as 'GET', headers, body, dispatcher: agent, signal });
        } catch (error) {
          throw mapSendError(error, method, url, timeout, timeoutMs);
        }
        const responseHeaders = flattenHeaders(res.headers);
        const location = responseHeaders.location;
        if (REDIRECTS.has(res.statusCode) && location && call.followRedirects !== false) {
          // The body is read (up to the limit, so the connection can be reused) and metered like any other.
          let redirectBytes = 0;
          res.body.on('data', (chunk: Buffer) => {
            redirectBytes += chunk.length;
          });
          await res.body.dump({ limit: REDIRECT_BODY_LIMIT }).catch(() => undefined);
          if (call.stats) call.stats.bytesIn += redirectBytes;
          if (hop >= maxRedirects) throw new ConnectorError('UPSTREAM_ERROR', `${request.method} ${request.url} redirected more than ${maxRedirects} times; last hop ${url.host}`, { upstreamStatus: res.statusCode });
          let next: URL;
          try {
            next = new URL(location, url);
          } catch {
            throw new ConnectorError('UPSTREAM_ERROR', `${url.host} redirected to an invalid location`, { upstreamStatus: res.statusCode });
          }
          next.hash = '';
          if (next.username || next.password) throw denied(`Redirect from ${url.host} carries user info; refused`);
          assertUrlAllowed(manifest, fields, next, check);
          if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
            method = method === 'HEAD' ? 'HEAD' : 'GET';
            body = undefined;
            for (const k of Object.keys(baseHeaders)) if (k.toLowerCase() === 'content-type') delete baseHeaders[k];
          }
          url = next;
          continue;
        }
        // A HEAD, 204 or 304 answer has no body: its content-length describes the resource, not what is sent.
        const bodiless = method === 'HEAD' || res.statusCode === 204 || res.statusCode === 304;
        let answer: Buffer;
        try {
          answer = await readCappedBody(
            res.body,
            bodiless ? Number.NaN : Number(responseHeaders['content-length']),
            maxResponseBytes,
            (declared) =>
              new ConnectorError(
                'PAYLOAD_TOO_LARGE',
                declared === undefined
                  ? `Response of ${request.method} ${url.host}${url.pathname} went past the ${maxResponseBytes}-byte limit; ask for smaller pages`
                  : `Response of ${request.method} ${url.host}${url.pathname} is ${declared} bytes, over the ${maxResponseBytes}-byte limit; ask for smaller pages`,
              ),
            call.stats ? (bytes) => (call.stats!.bytesIn += bytes) : undefined,
          );
        } catch (error) {
          if (isConnectorError(error)) throw error;
          throw mapSendError(error, method, url, timeout, timeoutMs);
        }
        const text = answer.toString('utf8');
        return { status: res.statusCode, headers: responseHeaders, data: method === 'HEAD' ? '' : parseBody(text, responseHeaders['content-type']) };
      }
    } finally {
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  function mapSendError(error: unknown, method: string, url: URL, timeout: { aborted: boolean }, timeoutMs: number): ConnectorError {
    const known = findConnectorError(error);
    if (known) return known;
    const where = `${method} ${url.protocol}//${url.host}${url.pathname}`;
    const name = (error as { name?: string; code?: string }).name;
    const code = (error as { code?: string }).code;
    if (timeout.aborted || name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new ConnectorError('TIMEOUT', `${where} did not answer within ${timeoutMs} ms`);
    }
    if (name === 'AbortError') return new ConnectorError('TIMEOUT', `${where} was cancelled`);
    // undici refuses what it cannot put on the wire (a header name or value with forbidden characters): the
    // request is at fault, not the network, so retrying it or counting it against the provider would be wrong.
    if (code === 'UND_ERR_INVALID_ARG') {
      return new ConnectorError('INVALID_INPUT', `${where} was not sent: ${error instanceof Error ? error.message : 'invalid request'}; use header names that are HTTP tokens and printable ASCII values`);
    }
    const detail = code ?? (error instanceof Error ? error.message : String(error));
    return new ConnectorError('NETWORK_ERROR', `${where} failed at the network level (${detail}); retry later`);
  }

  return { send, close: () => agent.close() };
}
