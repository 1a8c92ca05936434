import { ConnectorError, RateLimitedError, type ErrorCode } from './errors.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
export type QueryValue = string | number | boolean | null | undefined | ReadonlyArray<string | number | boolean>;
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * What connector code asks the host to send. Plain JSON: this crosses the sandbox boundary.
 * `url` is a path relative to the connector's base URL (`/orders.json`) or an absolute URL on a declared host.
 */
export interface HttpRequest {
  method: HttpMethod;
  url: string;
  query?: Record<string, QueryValue>;
  headers?: Record<string, string>;
  /** JSON body, or with `bodyType: 'form'` an object encoded as `application/x-www-form-urlencoded` (nested keys as `a[b]`). */
  body?: unknown;
  bodyType?: 'json' | 'form';
  /** Milliseconds; the host caps it. */
  timeoutMs?: number;
}

/** What the host answers. `data` is parsed JSON when the provider sent JSON, otherwise text. */
export interface HttpResponse<T = unknown> {
  status: number;
  headers: Record<string, string>;
  data: T;
}

/** The host's side of the boundary: sends a request (adding credentials) and answers with a response. */
export type Transport = (request: HttpRequest) => Promise<HttpResponse>;

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  headers?: Record<string, string>;
  bodyType?: 'json' | 'form';
  timeoutMs?: number;
  /** By default non-2xx answers throw typed errors; set false to receive them as responses. */
  throwOnError?: boolean;
}

/** The only way connector code reaches the network. */
export interface HttpClient {
  request<T = unknown>(request: HttpRequest & { throwOnError?: boolean }): Promise<HttpResponse<T>>;
  get<T = unknown>(url: string, options?: RequestOptions): Promise<HttpResponse<T>>;
  delete<T = unknown>(url: string, options?: RequestOptions): Promise<HttpResponse<T>>;
  post<T = unknown>(url: string, body?: unknown, options?: RequestOptions): Promise<HttpResponse<T>>;
  put<T = unknown>(url: string, body?: unknown, options?: RequestOptions): Promise<HttpResponse<T>>;
  patch<T = unknown>(url: string, body?: unknown, options?: RequestOptions): Promise<HttpResponse<T>>;
}

function headerValue(headers: Record<string, string>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === wanted) return v;
  return undefined;
}

/** Parses `Retry-After` (seconds or an HTTP date) into seconds. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds;
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

function upstreamMessage(data: unknown): string | undefined {
  if (typeof data === 'string') return data.slice(0, 300) || undefined;
  if (data && typeof data === 'object') {
    const d = data as Record<string, unknown>;
    const err = d.error;
    if (typeof err === 'string') return err;
    if (err && typeof err === 'object' && typeof (err as Record<string, unknown>).message === 'string') {
      return (err as { message: string }).message;
    }
    if (typeof d.message === 'string') return d.message;
    if (typeof d.errors === 'string') return d.errors;
  }
  return undefined;
}

/** Maps a non-2xx provider answer to the catalogue error a caller can act on. */
export function errorFromResponse(request: Pick<HttpRequest, 'method' | 'url'>, response: HttpResponse): ConnectorError {
  const where = `${request.method} ${request.url}`;
  const said = upstreamMessage(response.data);
  const suffix = said ? `: ${said}` : '';
  const extra = { upstreamStatus: response.status, details: response.data };
  const s = response.status;
  if (s === 429) {
    const err = new RateLimitedError(parseRetryAfter(headerValue(response.headers, 'retry-after')), `${where} was rate-limited by the provider${suffix}`);
    return Object.assign(err, { upstreamStatus: s, details: response.data });
  }
  let code: ErrorCode;
  let hint: string;
  if (s === 401) { code = 'AUTH_FAILED'; hint = 'check the connection\'s credentials'; }
  else if (s === 403) { code = 'FORBIDDEN'; hint = 'the account lacks a permission or scope this call needs'; }
  else if (s === 404) { code = 'NOT_FOUND'; hint = 'the resource does not exist or is not visible to this account'; }
  else if (s === 410) { code = 'NOT_FOUND'; hint = 'the resource is gone'; }
  else if (s === 409 || s === 412 || s === 428) { code = 'CONFLICT'; hint = 'the resource changed or already exists'; }
  else if (s === 400 || s === 422) { code = 'INVALID_INPUT'; hint = 'the provider rejected the input'; }
  else if (s === 402) { code = 'NON_RETRYABLE'; hint = 'the provider refused the payment or the account needs billing attention'; }
  else if (s === 408) { code = 'TIMEOUT'; hint = 'the provider timed out waiting for the request'; }
  else if (s === 413) { code = 'PAYLOAD_TOO_LARGE'; hint = 'the provider refused a request this large'; }
  else if (s >= 500) { code = 'UPSTREAM_ERROR'; hint = 'the provider failed; retry later'; }
  // Any other 4xx: the same request will fail the same way, so it must not be retried.
  else if (s >= 400) { code = 'NON_RETRYABLE'; hint = 'the provider refused the request'; }
  else { code = 'UPSTREAM_ERROR'; hint = 'unexpected answer from the provider'; }
  return new ConnectorError(code, `${where} answered ${s} (${hint})${suffix}`, extra);
}

/** Wraps a transport into the convenient client connector code uses. */
export function createHttpClient(transport: Transport): HttpClient {
  async function request<T>(req: HttpRequest & { throwOnError?: boolean }): Promise<HttpResponse<T>> {
    const { throwOnError = true, ...wire } = req;
    const response = await transport(wire);
    if (throwOnError && (response.status < 200 || response.status >= 300)) throw errorFromResponse(wire, response);
    return response as HttpResponse<T>;
  }
  const withoutBody = (method: HttpMethod) => <T>(url: string, o: RequestOptions = {}) =>
    request<T>({ method, url, query: o.query, headers: o.headers, timeoutMs: o.timeoutMs, throwOnError: o.throwOnError });
  const withBody = (method: HttpMethod) => <T>(url: string, body?: unknown, o: RequestOptions = {}) =>
    request<T>({ method, url, body, bodyType: o.bodyType, query: o.query, headers: o.headers, timeoutMs: o.timeoutMs, throwOnError: o.throwOnError });
  return {
    request,
    get: withoutBody('GET'),
    delete: withoutBody('DELETE'),
    post: withBody('POST'),
    put: withBody('PUT'),
    patch: withBody('PATCH'),
  };
}
