import { Agent, request as undiciRequest } from 'undici';
import { ConnectorError } from '@businessos/connector-sdk';
import { createCheckedConnector, findConnectorError, readCappedBody, type Resolver } from './checked-connect.ts';

/** Options of {@link createPinnedFetch}. */
export interface PinnedFetchOptions {
  /** Test mode: allow loopback addresses and plain http to them (loopback mock providers). Default false. */
  allowLoopback?: boolean;
  /** Timeout of a whole request, answer included (default 15 s). */
  timeoutMs?: number;
  /** TCP/TLS connect timeout (default 10 s). */
  connectTimeoutMs?: number;
  /** Largest response body (default 1 MiB); the transfer is aborted once it goes past. */
  maxResponseBytes?: number;
  resolver?: Resolver;
}

/** A `fetch` for the host's own calls to URLs a connector's manifest names, and how to release its connections. */
export interface PinnedFetch {
  fetch: typeof fetch;
  close(): Promise<void>;
}

// Statuses whose Response may not have a body.
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * A `fetch` with the egress client's address policy, for requests the host itself sends to URLs taken from a
 * connector's manifest (an OAuth2 token or revocation endpoint): a published connector chooses those URLs, so
 * without the policy its tokenUrl could make the service POST into its own network. Every connection is checked
 * after DNS resolution in the connect step (the address checked is the address connected to): private, loopback
 * (unless `allowLoopback`), link-local, metadata and other non-public addresses are refused with EGRESS_DENIED, and
 * only https is called (plain http only to loopback in test mode). It never follows a redirect, whatever
 * `init.redirect` says: a redirect answer is returned as it is. Requests time out (TIMEOUT) and answers are capped
 * (PAYLOAD_TOO_LARGE); other failures are NETWORK_ERROR. Errors name the method, origin and path, never the query.
 * @example const pinned = createPinnedFetch(); await exchangeCode({ ...call, fetch: pinned.fetch }); await pinned.close();
 */
export function createPinnedFetch(options: PinnedFetchOptions = {}): PinnedFetch {
  const allowLoopback = options.allowLoopback ?? false;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const maxResponseBytes = options.maxResponseBytes ?? 1024 * 1024;
  const connect = createCheckedConnector({ allowLoopback, resolver: options.resolver, connectTimeoutMs: options.connectTimeoutMs });
  const agent = new Agent({ connect, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });

  function failure(error: unknown, where: string, request: Request, timeout: AbortSignal): ConnectorError {
    const known = findConnectorError(error);
    if (known) return known;
    const name = (error as { name?: string }).name;
    const code = (error as { code?: string }).code;
    const callerTimedOut = request.signal.aborted && (request.signal.reason as { name?: string } | undefined)?.name === 'TimeoutError';
    if (timeout.aborted || callerTimedOut || name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
      return new ConnectorError('TIMEOUT', `${where} did not answer in time (at most ${timeoutMs} ms); retry later`);
    }
    if (name === 'AbortError') return new ConnectorError('TIMEOUT', `${where} was cancelled`);
    const detail = code ?? (error instanceof Error ? error.message : String(error));
    return new ConnectorError('NETWORK_ERROR', `${where} failed at the network level (${detail}); retry later`);
  }

  async function pinnedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const where = `${request.method} ${url.origin}${url.pathname}`;
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowLoopback)) {
      throw new ConnectorError('EGRESS_DENIED', `${where} was not sent: only https URLs are called${allowLoopback ? ' (and plain http to loopback in test mode)' : ''}; use the endpoint's https URL`);
    }
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name] = value;
    });
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([timeout, request.signal]);
    let res: Awaited<ReturnType<typeof undiciRequest>>;
    try {
      // undici's request follows no redirect (no redirect interceptor on this agent).
      res = await undiciRequest(url, { method: request.method as 'POST', headers, body, dispatcher: agent, signal });
    } catch (error) {
      throw failure(error, where, request, timeout);
    }
    let answer: Buffer<ArrayBuffer>;
    try {
      answer = await readCappedBody(res.body, Number(res.headers['content-length']), maxResponseBytes, (declared) =>
        new ConnectorError('PAYLOAD_TOO_LARGE', declared === undefined ? `The answer of ${where} went past the ${maxResponseBytes}-byte limit for this endpoint` : `The answer of ${where} is ${declared} bytes, over the ${maxResponseBytes}-byte limit for this endpoint`, { upstreamStatus: res.statusCode }),
      );
    } catch (error) {
      if (error instanceof ConnectorError) throw error;
      throw failure(error, where, request, timeout);
    }
    const responseHeaders = new Headers();
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(name, v);
    }
    if (res.statusCode < 200 || res.statusCode > 599) {
      throw new ConnectorError('UPSTREAM_ERROR', `${where} answered with the invalid HTTP status ${res.statusCode}`, { upstreamStatus: res.statusCode });
    }
    return new Response(NULL_BODY_STATUSES.has(res.statusCode) ? null : answer, { status: res.statusCode, headers: responseHeaders });
  }

  return { fetch: pinnedFetch, close: () => agent.close() };
}
