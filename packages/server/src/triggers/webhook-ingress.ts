import type { Vault } from '@businessos/connector-runtime';
import { ConnectorError, fromErrorData, type TriggerManifest, type WebhookDelivery } from '@businessos/connector-sdk';
import { isIPv6 } from 'node:net';
import {
  createMemoryRateLimiter,
  handleDelivery,
  type DeliveryInput,
  parseWebhookBody,
  resolveSigningSecret,
  type EventOutbox,
  type IngressLimits,
  type IngressResponse,
  type RateLimiter,
  type RawHeaders,
  type SeenEvents,
  type TokenBucketConfig,
  type WebhookEndpoint,
} from '@businessos/connector-triggers';
import type { ServerConfig } from '../config.ts';
import { preparedStatement, type Db } from '../db/db.ts';
import type { ServiceRuntime } from '../execution/service-runtime.ts';
import type { ClaimedDelivery } from './delivery-processor.ts';
import type { SubscriptionSecrets } from './subscription-secrets.ts';

/** Endpoint ids are 32 random bytes in base64url: anything else is unknown without asking the store. */
export const ENDPOINT_ID = /^[A-Za-z0-9_-]{43}$/;

/** What ingress needs besides the request. */
export interface WebhookIngressDeps {
  db: Db;
  runtime: ServiceRuntime;
  config: ServerConfig;
  /** Connection credentials (for `field:` secrets that are secret connection fields). */
  vault: Vault;
  secrets: SubscriptionSecrets;
  outbox: EventOutbox;
  seen: SeenEvents;
  rateLimiter?: RateLimiter | undefined;
  limits?: IngressLimits;
  /**
   * How long a resolved endpoint (subscription, trigger, decrypted secret) is reused, ms (default 1000; 0: never).
   * Changes made through this process invalidate it at once; another process's disable takes effect here within it.
   */
  cacheTtlMs?: number;
  /**
   * Most deliveries, and bytes of their bodies, waiting on the store (and Redis) at once (default 10 000 and
   * 256 MiB). Past either, a delivery is answered 503 with Retry-After at once: while the store stalls (a failover, a
   * lost network) requests would otherwise pile up in memory with their bodies until the process runs out of it.
   */
  maxPending?: { deliveries?: number; bytes?: number };
  /**
   * Deliveries to ids the store does not know (or no longer active) one client address may send, per second and at
   * once; default 50/s with bursts of 200, `false` for none. Past it the client is answered 429 for every id this
   * process would have to look up, whether it exists or not, until its bucket has a token again: a flood of made-up
   * ids neither keeps reaching the store nor tells existing ids apart. Deliveries to existing endpoints never use
   * tokens, so a provider delivering for many tenants from a few addresses is not held back. IPv6 clients count per /64.
   */
  lookupsPerClient?: TokenBucketConfig | false;
  /** Told about failures the sender sees only as a 5xx (`resolve`: the endpoint could not be looked up). */
  onError?: (stage: string, error: unknown, endpointId: string) => void;
  /** Told after a new delivery was stored, with what was stored (hands it to the delivery processor). */
  onStored?: (delivery: DeliveryInput & { id: string }) => void;
}

/** The service's webhook ingress. */
export interface WebhookIngress {
  receive(request: WebhookRequest): Promise<IngressResponse>;
  /**
   * Runs the connector's transform step in the sandbox on a stored delivery (for the delivery processor). Works for
   * deliveries of subscriptions stopped since they were accepted; NOT_FOUND once the connection is gone.
   */
  transform(delivery: ClaimedDelivery): Promise<unknown[]>;
  /**
   * The transform of several deliveries of ONE endpoint in one sandbox execution: one outcome per delivery (its
   * events, or an Error for it alone). Rejects for what concerns them all (connection gone, sandbox violation).
   */
  transformMany(deliveries: ClaimedDelivery[]): Promise<(unknown[] | Error)[]>;
  /** Forgets what is cached about an endpoint (after its subscription changed). */
  invalidate(endpointId: string): void;
  /** Forgets what is cached about every endpoint of these connections (before they are deleted). */
  invalidateConnections(connectionIds: readonly string[]): void;
}

const MAX_CACHED_ENDPOINTS = 10_000;
const MAX_PENDING_DELIVERIES = 10_000;
const MAX_PENDING_BYTES = 256 * 1024 * 1024;
/** Seconds a provider is asked to wait when deliveries are shed. */
const SHED_RETRY_AFTER_S = 5;
const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };
const LOOKUPS_PER_CLIENT: TokenBucketConfig = { burst: 200, perSecond: 50 };
const MAX_CLIENTS = 100_000;

function tooManyUnknown(retryAfterSeconds: number): IngressResponse {
  const seconds = Math.max(1, retryAfterSeconds);
  return {
    status: 429,
    headers: { ...JSON_HEADERS, 'retry-after': String(seconds) },
    body: { error: { code: 'RATE_LIMITED', message: `Too many deliveries from your address to unknown webhook endpoints; retry in ${seconds} s` } },
  };
}

/** Whom a lookup counts against: the IPv4 address, or the /64 of an IPv6 one (a host usually has the whole /64). */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail = ''] = address.split('%')[0]!.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
const RESOLVE_SQL = preparedStatement('resolve-webhook-endpoint', 'SELECT * FROM connectors.resolve_webhook_endpoint($1)');

/** One delivery as the HTTP layer hands it over. */
export interface WebhookRequest {
  endpointId: string;
  rawBody: Buffer;
  headers: RawHeaders;
  query: Record<string, string | string[] | undefined>;
  /** The sender's address (for the per-client lookup limit); none: not limited. */
  clientAddress?: string;
}

interface EndpointRow {
  subscription_id: string;
  tenant_id: string;
  connection_id: string;
  status: string;
  trigger_name: string;
  connector_name: string;
  connector_version: string;
  fields: Record<string, string> | null;
  trigger: TriggerManifest | null;
}

interface CacheEntry {
  value: Promise<ResolvedEndpoint | undefined>;
  /** The value once the lookup settled. */
  settled?: ResolvedEndpoint | undefined;
  expires: number;
}

interface ResolvedEndpoint {
  endpoint: WebhookEndpoint;
  connector: string;
  version: string;
  connectionId: string;
  fields: Record<string, string>;
}

/**
 * The service's webhook ingress: finds the subscription behind `/webhooks/{endpointId}` (through the
 * `resolve_webhook_endpoint` function, since the tenant is not known yet), resolves the signing secret its trigger
 * declares (`subscription`: sealed on the row; `field:`: the connection's fields and stored credentials; `config:`:
 * the platform's app settings), and hands the rest to `handleDelivery`: body cap, per-endpoint rate limit, 404 for
 * unknown and inactive endpoints alike, constant-time signature check, Slack's challenge, event-id replay dedupe,
 * the raw delivery stored (committed) before the 2xx. The connector's transform runs later, in the delivery processor
 * (`transform` below), which appends the events.
 */
export function createWebhookIngress(deps: WebhookIngressDeps): WebhookIngress {
  const { db, runtime, config } = deps;
  const ttl = deps.cacheTtlMs ?? 1000;
  // Lookups in flight or done, per endpoint id, kept `ttl` ms. Concurrent requests share one lookup: when a busy
  // endpoint's entry runs out, its 64 waiting requests would otherwise each run the (costly) resolve function.
  // `cache` keeps active endpoints only (with their secret): an unknown id is asked of the store every time once the
  // lookup settled, so enabling takes effect at once. `targets` is what transforms need (any status, no secret).
  const cache = new Map<string, CacheEntry>();
  const targets = new Map<string, CacheEntry>();
  // Deliveries in `receive` (waiting on the store or Redis) and the bytes of their bodies; see `maxPending`.
  const pending = { deliveries: 0, bytes: 0 };
  const maxPendingDeliveries = deps.maxPending?.deliveries ?? MAX_PENDING_DELIVERIES;
  const maxPendingBytes = deps.maxPending?.bytes ?? MAX_PENDING_BYTES;
  const lookupLimiter = deps.lookupsPerClient === false ? undefined : createMemoryRateLimiter({ ...(deps.lookupsPerClient ?? LOOKUPS_PER_CLIENT), maxKeys: MAX_CLIENTS });
  // Clients whose bucket ran dry, until when (epoch ms): checked before a lookup, so the store is not asked for them.
  const blockedUntil = new Map<string, number>();

  /** Whether receiving for this id would ask the store (a well-formed id not resolved, or being resolved, here). */
  function needsLookup(endpointId: string): boolean {
    if (!ENDPOINT_ID.test(endpointId)) return false;
    const hit = cache.get(endpointId);
    return !hit || hit.expires <= Date.now();
  }

  function cached(map: Map<string, CacheEntry>, endpointId: string, withSecret: boolean): Promise<ResolvedEndpoint | undefined> {
    const now = Date.now();
    const hit = map.get(endpointId);
    if (hit && hit.expires > now) return hit.value;
    const value = resolve(endpointId, withSecret);
    if (ttl <= 0) return value;
    const entry: CacheEntry = { value, expires: now + ttl };
    if (map.size >= MAX_CACHED_ENDPOINTS) map.delete(map.keys().next().value!);
    map.set(endpointId, entry);
    const drop = () => {
      if (map.get(endpointId) === entry) map.delete(endpointId);
    };
    value.then((resolved) => {
      entry.settled = resolved;
      if (!resolved || (withSecret && resolved.endpoint.status !== 'active')) drop();
    }, drop);
    return value;
  }

  async function transformTarget(endpointId: string): Promise<ResolvedEndpoint | undefined> {
    const hit = cache.get(endpointId);
    if (hit?.settled && hit.expires > Date.now()) return hit.settled;
    return cached(targets, endpointId, false);
  }

  async function cachedResolve(endpointId: string): Promise<ResolvedEndpoint | undefined> {
    const value = await cached(cache, endpointId, true);
    return value?.endpoint.status === 'active' ? value : undefined;
  }

  /** The subscription behind an endpoint id, whatever its status; its signing secret only with `withSecret`. */
  async function resolve(endpointId: string, withSecret: boolean): Promise<ResolvedEndpoint | undefined> {
    if (!ENDPOINT_ID.test(endpointId)) return undefined;
    const { rows } = await db.withTenant(null, (tx) => tx.query<EndpointRow>(RESOLVE_SQL, [endpointId]));
    const r = rows[0];
    if (!r || !r.trigger || (withSecret && r.status !== 'active')) return undefined;
    const fields = r.fields ?? {};
    const spec = r.trigger.webhook?.verify;
    let secret: string | undefined;
    if (spec && withSecret) {
      const source = spec.secret;
      const subscriptionSecret = source === 'subscription' ? await deps.secrets.get(r.tenant_id, r.subscription_id) : undefined;
      const credentialFields = source.startsWith('field:') ? (await deps.vault.getCredentials(r.tenant_id, r.connection_id))?.fields : undefined;
      secret = resolveSigningSecret(source, { subscriptionSecret, fields: { ...credentialFields, ...fields }, config: config.oauthApps[r.connector_name] ?? {} });
    }
    return {
      endpoint: { id: endpointId, tenantId: r.tenant_id, subscriptionId: r.subscription_id, status: r.status, trigger: { name: r.trigger.name, ...(r.trigger.webhook ? { webhook: r.trigger.webhook } : {}) }, secret },
      connector: r.connector_name,
      version: r.connector_version,
      connectionId: r.connection_id,
      fields,
    };
  }

  /** What a transform of this delivery runs against; NOT_FOUND once its subscription or connection is gone. */
  async function targetOf(delivery: ClaimedDelivery): Promise<ResolvedEndpoint> {
    const target = await transformTarget(delivery.endpointId);
    if (!target || target.endpoint.subscriptionId !== delivery.subscriptionId) {
      throw new ConnectorError('NOT_FOUND', `the subscription ${delivery.subscriptionId} or its connection was deleted before the delivery was turned into events`);
    }
    return target;
  }

  /** A stored delivery as the connector's transform step takes it. */
  function inputOf(delivery: ClaimedDelivery): WebhookDelivery {
    const { body, text } = parseWebhookBody(delivery.rawBody);
    return { headers: delivery.headers, query: delivery.query, body, rawBody: text };
  }

  const runOn = (target: ResolvedEndpoint, tenant: string) => ({
    tenant,
    connector: target.connector,
    version: target.version,
    trigger: target.endpoint.trigger.name,
    connection: { id: target.connectionId, fields: target.fields },
  });

  return {
    async transform(delivery) {
      const target = await targetOf(delivery);
      const result = await runtime.asTenant(delivery.tenantId, () =>
        runtime.runtime.executeTrigger<unknown[]>({ ...runOn(target, delivery.tenantId), operation: 'transform', input: inputOf(delivery) }),
      );
      return result.data;
    },
    async transformMany(deliveries) {
      const first = deliveries[0];
      if (!first) return [];
      if (deliveries.some((d) => d.endpointId !== first.endpointId || d.subscriptionId !== first.subscriptionId || d.tenantId !== first.tenantId)) {
        throw new ConnectorError('INTERNAL', 'transformMany takes deliveries of one endpoint only');
      }
      const target = await targetOf(first);
      const result = await runtime.asTenant(first.tenantId, () =>
        runtime.runtime.transformDeliveries({ ...runOn(target, first.tenantId), inputs: deliveries.map(inputOf) }),
      );
      return result.data.map((outcome) => (outcome.ok ? outcome.events : fromErrorData(outcome.error)));
    },
    invalidate(endpointId) {
      cache.delete(endpointId);
      targets.delete(endpointId);
    },
    invalidateConnections(connectionIds) {
      const gone = new Set(connectionIds);
      for (const map of [cache, targets]) {
        // Lookups still in flight may belong to these connections too.
        for (const [endpointId, entry] of map) if (!entry.settled || gone.has(entry.settled.connectionId)) map.delete(endpointId);
      }
    },
    async receive(request) {
      const bytes = request.rawBody.byteLength;
      // Before anything else, the same for every endpoint id: it says nothing about which ones exist.
      if (pending.deliveries >= maxPendingDeliveries || (pending.deliveries > 0 && pending.bytes + bytes > maxPendingBytes)) {
        return {
          status: 503,
          headers: { ...JSON_HEADERS, 'retry-after': String(SHED_RETRY_AFTER_S) },
          body: { error: { code: 'QUEUE_FULL', message: `Too many deliveries are waiting to be stored; retry in ${SHED_RETRY_AFTER_S} s` } },
        };
      }
      const client = lookupLimiter && request.clientAddress !== undefined && needsLookup(request.endpointId) ? clientKey(request.clientAddress) : undefined;
      if (client !== undefined) {
        const until = blockedUntil.get(client);
        if (until !== undefined && until > Date.now()) return tooManyUnknown(Math.ceil((until - Date.now()) / 1000));
        if (until !== undefined) blockedUntil.delete(client);
      }
      pending.deliveries += 1;
      pending.bytes += bytes;
      try {
        let resolved: ResolvedEndpoint | undefined;
        try {
          resolved = await cachedResolve(request.endpointId);
        } catch (error) {
          deps.onError?.('resolve', error, request.endpointId);
          return { status: 500, headers: { ...JSON_HEADERS }, body: { error: { code: 'INTERNAL', message: 'The webhook endpoint could not be looked up right now; retry later' } } };
        }
        if (client !== undefined && lookupLimiter && !resolved) {
          // Charged after the lookup, to unknown ids only; the answer is the 404 every unknown id gets.
          const decision = await lookupLimiter.take(client, Date.now());
          if (!decision.allowed) {
            blockedUntil.delete(client);
            blockedUntil.set(client, Date.now() + decision.retryAfterSeconds * 1000);
            if (blockedUntil.size > MAX_CLIENTS) blockedUntil.delete(blockedUntil.keys().next().value!);
          }
        }
        return await handleDelivery(
          { endpointId: request.endpointId, endpoint: resolved?.endpoint, rawBody: request.rawBody, headers: request.headers, query: request.query, now: Date.now() },
          {
            seen: deps.seen,
            outbox: deps.outbox,
            ...(deps.rateLimiter ? { rateLimiter: deps.rateLimiter } : {}),
            ...(deps.limits ? { limits: deps.limits } : {}),
            onError: (stage, error) => deps.onError?.(stage, error, request.endpointId),
            ...(deps.onStored ? { onStored: deps.onStored } : {}),
          },
        );
      } finally {
        pending.deliveries -= 1;
        pending.bytes -= bytes;
      }
    },
  };
}
