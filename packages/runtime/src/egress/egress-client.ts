import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import { Agent, buildConnector, request as undiciRequest } from 'undici';
import { ConnectorError, isConnectorError, type ConnectorManifest, type HttpRequest, type HttpResponse } from '@businessos/connector-sdk';
import { assertUrlAllowed, encodeForm, resolveRequestUrl } from '@businessos/connector-sdk/host';
import { addressDenial, isLoopbackAddress } from './address-policy.ts';
import type { OutgoingTarget } from './apply-auth.ts';

/** Resolves a host name to addresses; the default is the system resolver (`dns.lookup`, all addresses). */
export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

export interface EgressOptions {
  /** Test mode: allow loopback addresses, plain http to them, and any port on declared hosts. Default false. */
  allowLoopback?: boolean;
  /** Largest request body (default 5 MiB). */
  maxRequestBytes?: number;
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
  /** Adds credentials; called for the first hop and for redirect hops that stay on the same host. Answers the header names it set. */
  authorize?: (target: OutgoingTarget) => string[];
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
// The methods of HttpMethod. The request crosses the sandbox boundary as data, so the type alone does not hold:
// TRACE would echo the credentials the host adds back to the connector, CONNECT would open a tunnel.
const METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']);
// Abort reasons made once: building a DOMException per request shows up in profiles.
const TIMEOUT_REASON = Object.freeze(Object.assign(new Error('request timed out'), { name: 'TimeoutError' }));
const CANCEL_REASON = Object.freeze(Object.assign(new Error('request cancelled'), { name: 'AbortError' }));

function denied(message: string): ConnectorError {
  return new ConnectorError('EGRESS_DENIED', message);
}

function findConnectorError(error: unknown): ConnectorError | undefined {
  let e: unknown = error;
  for (let i = 0; i < 5 && e; i++) {
    if (isConnectorError(e) && e instanceof Error) return e as ConnectorError;
    if (e instanceof AggregateError) {
      const inner = e.errors.map(findConnectorError).find(Boolean);
      if (inner) return inner;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
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

/**
 * Creates the egress-controlled HTTP client. Every connection is checked after DNS resolution, in the
 * connect step itself, so the address checked is the address connected to (no DNS-rebinding window);
 * redirects are followed by hand and each hop is checked again.
 */
export function createEgressClient(options: EgressOptions = {}): EgressClient {
  const allowLoopback = options.allowLoopback ?? false;
  const maxRequestBytes = options.maxRequestBytes ?? 5 * 1024 * 1024;
  const maxResponseBytes = options.maxResponseBytes ?? 10 * 1024 * 1024;
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000;
  const maxTimeoutMs = options.maxTimeoutMs ?? 60_000;
  const maxRedirects = options.maxRedirects ?? 5;
  const resolver: Resolver = options.resolver ?? ((hostname) => dnsLookup(hostname, { all: true, verbatim: true }));
  const policy = { allowLoopback };

  const checkedLookup: LookupFunction = (hostname, lookupOptions, callback) => {
    resolver(hostname).then(
      (addresses) => {
        const allowed = addresses.filter((a) => addressDenial(a.address, policy) === undefined);
        const first = allowed[0];
        if (!first) {
          const reasons = addresses.map((a) => addressDenial(a.address, policy) ?? a.address).join('; ');
          callback(denied(`${hostname} resolves only to addresses the runtime does not connect to (${reasons || 'no addresses'})`), '', 0);
          return;
        }
        if (lookupOptions.all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, allowed);
        else callback(null, first.address, first.family);
      },
      (error: Error) => callback(error as NodeJS.ErrnoException, '', 0),
    );
  };

  const baseConnect = buildConnector({ lookup: checkedLookup, timeout: options.connectTimeoutMs ?? 10_000 } as buildConnector.BuildOptions);
  const connect: buildConnector.connector = (opts, callback) => {
    const host = opts.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      // IP literals skip the lookup, so they are checked here.
      const denial = addressDenial(host, policy);
      if (denial) return callback(denied(`Refusing to connect to ${opts.hostname}: ${denial}`), null);
    }
    baseConnect(opts, (error, socket) => {
      if (error || !socket) return callback(error ?? new Error('connect failed'), null);
      const remote = (socket as Socket).remoteAddress ?? '';
      let denial = addressDenial(remote, policy);
      if (!denial && opts.protocol === 'http:' && !isLoopbackAddress(remote)) denial = `plain http is only allowed to loopback in test mode, not ${remote}`;
      if (denial) {
        socket.destroy();
        return callback(denied(`Refusing connection to ${opts.hostname}: ${denial}`), null);
      }
      callback(null, socket);
    });
  };
  const agent = new Agent({ connect, headersTimeout: maxTimeoutMs, bodyTimeout: maxTimeoutMs });

  async function send(call: EgressCall): Promise<HttpResponse> {
    const { manifest, fields, request } = call;
    if (!METHODS.has(request.method)) {
      throw new ConnectorError('INVALID_INPUT', `HTTP method ${JSON.stringify(request.method)} is not supported; use one of ${[...METHODS].join(', ')}`, { path: '/method' });
    }
    const check = { anyPort: allowLoopback, allowHttp: allowLoopback };
    let url = resolveRequestUrl(manifest, fields, request.url, request.query, call.baseUrlOverride, call.urlFields ?? fields);
    assertUrlAllowed(manifest, fields, url, check);
    const originalHost = url.host;

    const baseHeaders: Record<string, string> = {};
    for (const [k, v] of Object.entries(request.headers ?? {})) {
      if (typeof v !== 'string') throw new ConnectorError('INVALID_INPUT', `Header ${k} must be a string`, { path: `/headers/${k}` });
      if (/[\r\n]/.test(v) || /[\r\n:]/.test(k)) throw new ConnectorError('INVALID_INPUT', `Header ${k} contains a line break`, { path: `/headers/${k}` });
      if (!DROPPED_HEADERS.has(k.toLowerCase())) baseHeaders[k] = v;
    }
    if (options.userAgent && !Object.keys(baseHeaders).some((k) => k.toLowerCase() === 'user-agent')) baseHeaders['user-agent'] = options.userAgent;
    let body = encodeBody(request, baseHeaders);
    if (body && body.length > maxRequestBytes) {
      throw new ConnectorError('PAYLOAD_TOO_LARGE', `Request body of ${request.method} ${request.url} is ${body.length} bytes, over the ${maxRequestBytes}-byte limit; send less per call`);
    }
    let method: string = request.method;

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
    try {
      for (let hop = 0; ; hop++) {
        const headers: Record<string, string> = { ...baseHeaders };
        if (url.host === originalHost) {
          call.authorize?.({ url, headers });
        } else {
          // Another host: never forward credentials, whether the host added them or the connector did.
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
        if (REDIRECTS.has(res.statusCode) && location) {
          await res.body.dump().catch(() => undefined);
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
        const declared = Number(responseHeaders['content-length']);
        if (!bodiless && Number.isFinite(declared) && declared > maxResponseBytes) {
          // Destroying an unread body emits 'error' (request aborted); unheard, it would crash the process.
          res.body.on('error', () => undefined).destroy();
          throw new ConnectorError('PAYLOAD_TOO_LARGE', `Response of ${request.method} ${url.host}${url.pathname} is ${declared} bytes, over the ${maxResponseBytes}-byte limit; ask for smaller pages`);
        }
        const chunks: Buffer[] = [];
        let size = 0;
        try {
          for await (const chunk of res.body) {
            size += (chunk as Buffer).length;
            if (size > maxResponseBytes) {
              res.body.destroy();
              throw new ConnectorError('PAYLOAD_TOO_LARGE', `Response of ${request.method} ${url.host}${url.pathname} went past the ${maxResponseBytes}-byte limit; ask for smaller pages`);
            }
            chunks.push(chunk as Buffer);
          }
        } catch (error) {
          if (isConnectorError(error)) throw error;
          throw mapSendError(error, method, url, timeout, timeoutMs);
        } finally {
          if (call.stats) call.stats.bytesIn += size;
        }
        const text = Buffer.concat(chunks).toString('utf8');
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
