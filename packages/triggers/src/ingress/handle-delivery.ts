import { createHash, createHmac, randomBytes } from 'node:crypto';
import { ConnectorError, toErrorData, type ErrorCode, type TriggerManifest, type WebhookDelivery } from '@businessos/connector-sdk';
import type { DeliveryInput, EventOutbox } from '../outbox/types.ts';
import type { RateLimiter } from '../ratelimit/token-bucket.ts';
import { extractEventId } from '../replay/event-id.ts';
import type { SeenEvents } from '../replay/seen-events.ts';
import { normalizeHeaders, type RawHeaders } from '../verify/headers.ts';
import { verifySignature } from '../verify/signature.ts';
import { slackChallenge } from '../verify/slack-challenge.ts';

/** A webhook subscription as ingress needs it (the service loads it by the endpoint id in the URL). */
export interface WebhookEndpoint {
  /** The unguessable id in `/webhooks/{endpointId}`. */
  id: string;
  tenantId: string;
  subscriptionId: string;
  /** Only `active` endpoints accept deliveries; anything else answers like an unknown endpoint. */
  status: 'active' | 'disabled' | 'pending' | 'failed' | (string & {});
  /** The trigger's manifest entry: its `webhook.verify` and `webhook.eventId` drive verification and dedupe. */
  trigger: Pick<TriggerManifest, 'name' | 'webhook'>;
  /** The signing secret, already resolved from the spec's source (see `resolveSigningSecret`) and decrypted. */
  secret?: string | undefined;
}

/** Input of the connector's transform step. */
export interface TransformRequest {
  endpoint: WebhookEndpoint;
  delivery: WebhookDelivery;
}

export interface IngressLimits {
  /** Largest body accepted, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** How long a provider event id is remembered (default 72 h: Stripe retries for up to 3 days). */
  dedupeTtlSeconds?: number;
  /** Accept deliveries for triggers that declare no signature scheme (default true: the URL is the only secret). */
  allowUnsigned?: boolean;
}

export interface IngressDeps {
  seen: SeenEvents;
  outbox: EventOutbox;
  /**
   * Runs the connector's transform in the sandbox (`executeTrigger(trigger, 'transform', delivery, env)`) before the
   * answer. Absent: the delivery is answered once stored, and something else (the service's delivery processor)
   * turns stored deliveries into events later; `onStored` is told about each new one.
   */
  transform?: (request: TransformRequest) => Promise<unknown[]>;
  /**
   * Told after a new (not duplicate) delivery was stored, before the answer, with what was stored (so a processor in
   * the same process can work on it without reading it back); must not throw.
   */
  onStored?: (delivery: DeliveryInput & { id: string }) => void;
  /** Per-endpoint rate limit; none when absent. */
  rateLimiter?: RateLimiter;
  limits?: IngressLimits;
  /** Told about failures the sender does not see in detail; rate-limit and dedupe failures do not fail the delivery. */
  onError?: (stage: 'rate-limit' | 'verify' | 'dedupe' | 'store' | 'transform' | 'append', error: unknown, endpoint: WebhookEndpoint | undefined) => void;
}

export interface IngressRequest {
  /** The id taken from the URL, also for unknown endpoints (rate limiting is keyed by it). */
  endpointId: string;
  /** The subscription found for it, or undefined. */
  endpoint: WebhookEndpoint | undefined;
  /** The body bytes exactly as received. */
  rawBody: Buffer;
  headers: RawHeaders;
  query: Record<string, string | string[] | undefined>;
  /** Epoch ms. */
  now: number;
}

export interface IngressResponse {
  status: number;
  headers: Record<string, string>;
  /** JSON body to send. */
  body: unknown;
}

const DEFAULT_MAX_BODY = 1024 * 1024;
const DEFAULT_DEDUPE_TTL = 72 * 3600;
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

function errorResponse(status: number, code: ErrorCode, message: string, extra: Record<string, string> = {}): IngressResponse {
  return { status, headers: { ...JSON_HEADERS, ...extra }, body: { error: { code, message } } };
}

const NOT_FOUND = (): IngressResponse => errorResponse(404, 'NOT_FOUND', 'No webhook endpoint at this URL');

// A random key for the dummy signature check of unknown endpoints, so they cost about what a known one does.
const DUMMY_KEY = randomBytes(32);

/**
 * A delivery body as the transform step gets it: parsed JSON when it is a JSON object or array, else the text;
 * `text` is the body as UTF-8.
 */
export function parseWebhookBody(raw: Buffer): { body: unknown; text: string } {
  const text = raw.toString('utf8');
  const first = text.trimStart()[0];
  if (first === '{' || first === '[') {
    try {
      return { body: JSON.parse(text), text };
    } catch {
      return { body: text, text };
    }
  }
  return { body: text, text };
}

function flatQuery(query: IngressRequest['query']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) {
    const value = Array.isArray(v) ? v[0] : v;
    if (typeof value === 'string') out[k] = value;
  }
  return out;
}

/**
 * Handles one webhook delivery, independent of the HTTP framework. In order: body size cap, per-endpoint rate
 * limit, unknown/inactive endpoint (404, same answer either way), signature verification on the raw bytes
 * (timestamp window included), Slack's URL-verification challenge, provider event-id dedupe, durable storage of the
 * raw delivery, the connector's transform, and one outbox event per transformed event with a stable key
 * (`<dedupeKey>#<index>`), so a delivery processed twice stores its events once.
 *
 * With `deps.transform`, a 2xx is returned only once the delivery and its events are stored. Without it, a 2xx
 * (`{ ok, duplicate, deliveryId }`) is returned once the raw delivery is stored (committed): the events follow from
 * whoever processes stored deliveries, exactly once per delivery thanks to the stable keys. A replay (an event id seen before) is
 * answered 200 `{ duplicate: true }` without a second event once the outbox says the first one was processed; if
 * it was stored but never processed (a worker died mid-way), the replay completes it. Failures after the event id
 * was marked seen un-mark it and answer 5xx so the provider's retry is accepted. When the event id comes from a
 * header (`header:X-Shopify-Webhook-Id`), which body-only signatures do not cover, the seen-set also remembers the
 * body: the same signed body sent again under another id is answered as a duplicate too.
 */
export async function handleDelivery(request: IngressRequest, deps: IngressDeps): Promise<IngressResponse> {
  const limits = deps.limits ?? {};
  const maxBody = limits.maxBodyBytes ?? DEFAULT_MAX_BODY;
  if (request.rawBody.length > maxBody) {
    return errorResponse(413, 'PAYLOAD_TOO_LARGE', `The body is ${request.rawBody.length} bytes; webhook deliveries are limited to ${maxBody} bytes`);
  }
  if (deps.rateLimiter) {
    // A failing limiter (Redis down) lets the delivery through: losing deliveries is worse than a burst.
    const decision = await deps.rateLimiter.take(request.endpointId, request.now).catch((error: unknown) => {
      deps.onError?.('rate-limit', error, request.endpoint);
      return { allowed: true, retryAfterSeconds: 0 };
    });
    if (!decision.allowed) {
      return errorResponse(429, 'RATE_LIMITED', `Too many deliveries for this endpoint; retry in ${decision.retryAfterSeconds} s`, { 'retry-after': String(decision.retryAfterSeconds) });
    }
  }
  const endpoint = request.endpoint;
  if (!endpoint || endpoint.status !== 'active' || endpoint.id !== request.endpointId) {
    createHmac('sha256', DUMMY_KEY).update(request.rawBody).digest();
    return NOT_FOUND();
  }
  const webhook = endpoint.trigger.webhook;
  const spec = webhook?.verify;
  if (spec) {
    const result = verifySignature(spec, { rawBody: request.rawBody, headers: request.headers, secret: endpoint.secret, now: request.now });
    if (!result.ok) {
      if (result.code === 'INTERNAL') {
        deps.onError?.('verify', new ConnectorError('INTERNAL', result.reason), endpoint);
        return errorResponse(500, 'INTERNAL', 'The endpoint cannot verify deliveries right now; retry later');
      }
      return errorResponse(401, result.code, result.reason);
    }
  } else if (limits.allowUnsigned === false) {
    return errorResponse(401, 'AUTH_FAILED', 'This endpoint only accepts signed deliveries, and its trigger declares no signature scheme');
  }

  const { body, text } = parseWebhookBody(request.rawBody);
  if (spec?.scheme === 'slack') {
    const challenge = slackChallenge(body);
    if (challenge !== undefined) return { status: 200, headers: { ...JSON_HEADERS }, body: { challenge } };
  }

  const headers = normalizeHeaders(request.headers);
  const eventId = extractEventId(webhook?.eventId, headers, body);
  // A seen id is not proof the delivery was processed: the worker that marked it may have died before storing
  // its events. Only a processed mark answers a replay here; otherwise the outbox decides (`processed`).
  const ttl = limits.dedupeTtlSeconds ?? DEFAULT_DEDUPE_TTL;
  const hashBody = () => createHash('sha256').update(request.rawBody).digest('hex');
  // An id read from a header is not covered by body-only signatures (Shopify, GitHub): whoever holds one signed
  // delivery could replay it under a fresh id. Such deliveries are also remembered by the bytes the signature does
  // cover. The NUL prefix keeps this mark apart from every id, since header values cannot contain NUL.
  const marks = eventId === undefined ? [] : webhook?.eventId?.startsWith('header:') ? [eventId, `\u0000body:${hashBody()}`] : [eventId];
  const fresh: string[] = [];
  const forget = async () => {
    for (const mark of fresh) await deps.seen.forget(endpoint.id, mark).catch(() => undefined);
  };
  try {
    for (const mark of marks) {
      if (await deps.seen.markSeen(endpoint.id, mark, ttl)) fresh.push(mark);
      else if (await deps.seen.isProcessed(endpoint.id, mark)) {
        await forget();
        return { status: 200, headers: { ...JSON_HEADERS }, body: { ok: true, duplicate: true, events: 0 } };
      }
    }
  } catch (error) {
    // Without the seen-set (Redis down) the outbox alone still stores every event once.
    deps.onError?.('dedupe', error, endpoint);
  }
  const markProcessed = async () => {
    for (const mark of marks) await deps.seen.markProcessed(endpoint.id, mark, ttl).catch(() => undefined);
  };
  const dedupeKey = eventId !== undefined ? `id:${eventId}` : `body:${hashBody()}`;
  const query = flatQuery(request.query);

  const input: DeliveryInput = {
    tenantId: endpoint.tenantId,
    subscriptionId: endpoint.subscriptionId,
    endpointId: endpoint.id,
    eventId,
    dedupeKey,
    receivedAt: request.now,
    headers,
    query,
    rawBody: request.rawBody,
  };
  let stored;
  try {
    stored = await deps.outbox.storeDelivery(input);
  } catch (error) {
    await forget();
    deps.onError?.('store', error, endpoint);
    return errorResponse(500, 'INTERNAL', 'The delivery could not be stored; retry later');
  }
  if (stored.duplicate && stored.processed) {
    await markProcessed();
    return { status: 200, headers: { ...JSON_HEADERS }, body: { ok: true, duplicate: true, events: 0 } };
  }
  if (!deps.transform) {
    // Stored is enough: the delivery processor owns it from here, so a replay needs no more work from ingress.
    await markProcessed();
    if (!stored.duplicate) deps.onStored?.({ ...input, id: stored.id });
    return { status: 200, headers: { ...JSON_HEADERS }, body: { ok: true, duplicate: stored.duplicate, deliveryId: stored.id } };
  }

  let events: unknown[];
  try {
    events = await deps.transform({ endpoint, delivery: { headers, query, body, rawBody: text } });
    if (!Array.isArray(events)) throw new ConnectorError('INVALID_OUTPUT', `transform of trigger ${endpoint.trigger.name} returned ${typeof events}, not an array of events`);
  } catch (error) {
    await forget();
    deps.onError?.('transform', error, endpoint);
    const data = toErrorData(error);
    return errorResponse(500, data.code, 'The delivery was stored but could not be turned into events; retry later');
  }

  try {
    const appended = await deps.outbox.appendEvents(
      { tenantId: endpoint.tenantId, subscriptionId: endpoint.subscriptionId, deliveryId: stored.id },
      events.map((payload, i) => ({ key: `${dedupeKey}#${i}`, payload })),
    );
    await markProcessed();
    return { status: 200, headers: { ...JSON_HEADERS }, body: { ok: true, duplicate: appended.length === 0 && events.length > 0, events: appended.length } };
  } catch (error) {
    await forget();
    deps.onError?.('append', error, endpoint);
    return errorResponse(500, 'INTERNAL', 'The delivery\'s events could not be stored; retry later');
  }
}
