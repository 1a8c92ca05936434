import {
  ConnectorError,
  createHttpClient,
  parseRetryAfter,
  RateLimitedError,
  type ActionContext,
  type HttpClient,
  type HttpRequest,
  type HttpResponse,
} from '@businessos/connector-sdk';

/**
 * The Stripe API version every request pins, so the shapes in `schemas.ts` hold whatever the account's default is.
 * It is the version of the OpenAPI description the conformance test checks against; bump both together.
 */
export const STRIPE_API_VERSION = '2023-08-16';

/** The `error` object of a Stripe error response. */
interface StripeErrorBody {
  type?: string;
  code?: string;
  decline_code?: string;
  message?: string;
  param?: string;
  charge?: string;
  payment_intent?: { id?: string };
  doc_url?: string;
}

function headerValue(headers: Record<string, string>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

function errorBody(data: unknown): StripeErrorBody {
  if (data && typeof data === 'object' && 'error' in data && data.error && typeof data.error === 'object') return data.error;
  return {};
}

/** `metadata[order_id]` → `/metadata/order_id`: Stripe names nested params the form way, errors use JSON pointers. */
function paramToPointer(param: string): string {
  return `/${param.replace(/\]/g, '').split('[').join('/')}`;
}

/** Maps a non-2xx Stripe answer to a catalogue error, keeping Stripe's own `type`/`code`/`decline_code` as details. */
export function stripeError(request: Pick<HttpRequest, 'method' | 'url'>, response: HttpResponse): ConnectorError {
  const body = errorBody(response.data);
  const where = `Stripe ${request.method} ${request.url}`;
  const said = body.message ? `: ${body.message}` : '';
  const details = {
    type: body.type,
    code: body.code,
    decline_code: body.decline_code,
    param: body.param,
    charge: body.charge,
    payment_intent: body.payment_intent?.id,
    doc_url: body.doc_url,
    request_id: headerValue(response.headers, 'request-id'),
  };
  const extra = { upstreamStatus: response.status, details };
  const s = response.status;
  if (s === 429) {
    const err = new RateLimitedError(parseRetryAfter(headerValue(response.headers, 'retry-after')), `${where} was rate-limited${said}; retry later`);
    return Object.assign(err, extra);
  }
  if (s === 401) return new ConnectorError('AUTH_FAILED', `${where} refused the secret key${said}; reconnect with a valid sk_ or rk_ key`, extra);
  if (s === 403) return new ConnectorError('FORBIDDEN', `${where} is not allowed for this key${said}; grant the permission to the restricted key`, extra);
  if (s === 402 || body.type === 'card_error') {
    const reason = [body.code, body.decline_code].filter(Boolean).join('/');
    return new ConnectorError('NON_RETRYABLE', `${where} was declined${reason ? ` (${reason})` : ''}${said}; ask the customer for another payment method`, extra);
  }
  if (s === 404) return new ConnectorError('NOT_FOUND', `${where} found nothing${said}; check the id`, extra);
  if (s === 409 || body.type === 'idempotency_error') {
    return new ConnectorError('CONFLICT', `${where} conflicts with an earlier request${said}; pass a new idempotency_key if this is a different operation`, extra);
  }
  if (s === 400) {
    const path = body.param ? paramToPointer(body.param) : undefined;
    return new ConnectorError('INVALID_INPUT', `${where} rejected the input${body.param ? ` at ${body.param}` : ''}${said}`, { ...extra, path });
  }
  if (s >= 500 && headerValue(response.headers, 'stripe-should-retry') === 'false') {
    return new ConnectorError('NON_RETRYABLE', `${where} failed and Stripe says retrying will not help${said}`, extra);
  }
  return new ConnectorError('UPSTREAM_ERROR', `${where} answered ${s}${said}; retry later`, extra);
}

/**
 * The connector's HTTP client with Stripe's conventions: the pinned `Stripe-Version` header on every request,
 * and Stripe error bodies mapped by {@link stripeError} instead of the generic status mapping.
 */
export function stripeClient(ctx: ActionContext): HttpClient {
  return createHttpClient(async (request) => {
    const response = await ctx.http.request({ ...request, headers: { 'Stripe-Version': STRIPE_API_VERSION, ...request.headers }, throwOnError: false });
    if (response.status < 200 || response.status >= 300) throw stripeError(request, response);
    return response;
  });
}

/** JSON with object keys sorted, so equal values always give equal text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A 53-bit string hash (cyrb53); two seeds give ~106 bits, plenty to tell requests apart. Pure JS: no crypto in the sandbox. */
function hash53(text: string, seed: number): string {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, '0');
}

/**
 * The `Idempotency-Key` for a create call: the caller's own key, or one derived from the operation and its params.
 * A derived key makes the runtime's retries of the same call safe (Stripe replays the first result for 24 hours);
 * it also means two identical calls within a day return the same object, so pass `idempotency_key` when that is not wanted.
 */
export function idempotencyKey(operation: string, params: Record<string, unknown>, explicit: string | undefined): string {
  if (explicit) return explicit;
  const text = `${operation}\n${canonicalJson(params)}`;
  return `bos-${operation}-${hash53(text, 1)}${hash53(text, 2)}`;
}
