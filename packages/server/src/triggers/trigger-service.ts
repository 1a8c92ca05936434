import { randomBytes } from 'node:crypto';
import type { Vault } from '@businessos/connector-runtime';
import { toErrorData, type TriggerManifest, type WebhookSubscription } from '@businessos/connector-sdk';
import {
  createBullmqPublisher,
  createMemoryRateLimiter,
  createMemorySeenEvents,
  createRedisRateLimiter,
  createRedisSeenEvents,
  withPublisher,
  type EventOutbox,
  type EventPublisher,
  type IngressLimits,
  type IngressResponse,
  type TokenBucketConfig,
} from '@businessos/connector-triggers';
import type { Redis } from 'ioredis';
import { recordAudit } from '../audit.ts';
import type { ServerConfig } from '../config.ts';
import type { Db } from '../db/db.ts';
import { keepableText } from '../db/keepable.ts';
import type { ServiceRuntime } from '../execution/service-runtime.ts';
import { ProblemError } from '../http/problem.ts';
import { listenForDeliveries, type DeliveryListener } from './delivery-notifications.ts';
import { createDeliveryProcessor, type DeliveryProcessor, type HandedDelivery } from './delivery-processor.ts';
import { createPgOutbox } from './pg-outbox.ts';
import { createSubscriptionSecrets, type SubscriptionSecrets } from './subscription-secrets.ts';
import { loadConnectionTriggers, renewAtFor, SUBSCRIPTION_SELECT, subscriptionView, webhookUrlOf, type SubscriptionRow, type SubscriptionView } from './subscriptions.ts';
import { createWebhookIngress, type WebhookRequest } from './webhook-ingress.ts';

/** The BullMQ queue events are pushed to when Redis is configured (jobs named `trigger-event`, data: the outbox event). */
export const EVENTS_QUEUE_NAME = 'bos-trigger-events';

/**
 * What the polling side does when a polling subscription is enabled or disabled (the polling service implements
 * it). Called after the subscription row is committed.
 */
export interface PollingHooks {
  onPollingEnabled(subscription: { id: string; tenantId: string }): Promise<void>;
  onPollingDisabled(subscriptionId: string): Promise<void>;
}

/** Options of {@link createTriggerService}. */
export interface TriggerServiceOptions {
  db: Db;
  runtime: ServiceRuntime;
  /** Connection credentials (for signing secrets that are secret connection fields). */
  vault: Vault;
  /** `publicUrl` (webhook addresses), `masterKey` (sealing signing secrets), `oauthApps` (`config:` secrets). */
  config: ServerConfig;
  /**
   * With Redis (created with `maxRetriesPerRequest: null`; owned and closed by the caller): replay dedupe and the
   * per-endpoint rate limit are shared by every process, and new events are pushed to the BullMQ queue
   * {@link EVENTS_QUEUE_NAME} under `queuePrefix`.
   */
  redis?: Redis | undefined;
  /** BullMQ prefix of the events queue (default `bull`). */
  queuePrefix?: string | undefined;
  /** Prefix of the Redis keys of replay dedupe and rate limits (default `bos`, as `BOS_REDIS_PREFIX`). */
  keyPrefix?: string | undefined;
  /** Per-endpoint rate limit (default 100 deliveries/s with bursts of 500). */
  rateLimit?: TokenBucketConfig;
  /** Body cap and dedupe window of ingress (default 1 MiB, 72 h). */
  ingressLimits?: IngressLimits;
  /** How long ingress reuses a resolved endpoint, ms (default 1000); another process's disable takes effect within it. */
  endpointCacheMs?: number;
  /** Polling hooks, also settable later with {@link TriggerService.setPollingHooks}. */
  polling?: PollingHooks;
  /**
   * Whether this process runs the background trigger work (default true): the delivery processor (connector
   * transforms) and subscription renewals. API processes with `BOS_API_WORKER=0` leave it to `npm run worker`; their
   * ingress still stores deliveries durably, and a worker takes them up when PostgreSQL announces them.
   */
  background?: boolean;
  log?: (level: 'info' | 'warn' | 'error', message: string, data?: Record<string, unknown>) => void;
}

/** The outcome of disabling a subscription. */
export interface DisableOutcome {
  subscription: SubscriptionView;
  /** Whether the provider confirmed removing the hook (true also when there was nothing to remove there). */
  unsubscribed: boolean;
  /** Why the provider side failed; the subscription is stopped locally anyway. */
  detail?: string;
}

/** Webhook and polling subscriptions of the service, their ingress and the events outbox. */
export interface TriggerService {
  /** The events outbox (PostgreSQL; also pushed to BullMQ with Redis). Polls append through their own guarded path (appendPollEvents). */
  readonly outbox: EventOutbox;
  setPollingHooks(hooks: PollingHooks | undefined): void;
  /** Enables `trigger` on a connection of `tenantId`: webhook triggers subscribe at the provider, polling ones are scheduled. */
  enable(tenantId: string, actor: string, connectionId: string, trigger: string, config: Record<string, unknown>): Promise<SubscriptionView>;
  /** A tenant's subscriptions, newest first; only those of one connection when given (NOT_FOUND when it is not the tenant's). */
  list(tenantId: string, connectionId?: string): Promise<SubscriptionView[]>;
  /** Stops a subscription locally at once, then unsubscribes at the provider (best effort) and audits. */
  disable(tenantId: string, actor: string, subscriptionId: string, connectionId?: string): Promise<DisableOutcome>;
  /**
   * Disables every live subscription of these connections (before they are deleted). Never throws for provider
   * failures. `retry: false` when their rows go next (uninstall): a hook the provider keeps is then only reported.
   */
  stopForConnections(tenantId: string, actor: string, connectionIds: string[], options?: { retry?: boolean }): Promise<DisableOutcome[]>;
  /**
   * After an installation was re-pinned to another version: its connections' active polling subscriptions are
   * scheduled anew, so the version's own interval applies now rather than after the next poll of the old schedule
   * (and a version without the trigger drops its schedule). Resolves to how many were rescheduled; never throws for
   * one subscription's failure.
   */
  reschedulePolling(tenantId: string, installationId: string): Promise<number>;
  /** The trigger's sample events (from its manifest), as "test trigger" shows them. */
  sample(tenantId: string, connectionId: string, trigger: string): Promise<unknown[]>;
  /** Handles one webhook delivery. */
  receive(request: WebhookRequest): Promise<IngressResponse>;
  /**
   * Turns every stored delivery that is due now into events (the delivery processor does this in the background
   * anyway); resolves to how many deliveries were settled. For tools and tests.
   */
  drainDeliveries(): Promise<number>;
  /** Renews every active webhook subscription whose renewal time has come; resolves to how many were renewed. */
  renewDue(): Promise<number>;
  /**
   * Tries again to remove the hooks of stopped webhook subscriptions whose removal is due (see `unsubscribeRetryAt`);
   * resolves to how many the provider confirmed removed. The background sweep runs it with {@link renewDue}.
   */
  retryUnsubscribes(): Promise<number>;
  /**
   * Tries now, once, to remove the hooks still registered for stopped subscriptions of these connections (the ones
   * waiting for a retry), and answers those that are still there, with the ones given up on before (not tried again).
   * Connection delete and uninstall ask before the rows go.
   */
  unsubscribeLeftovers(tenantId: string, actor: string, connectionIds: string[], options?: { retry?: boolean }): Promise<DisableOutcome[]>;
  /**
   * Before these connections go (connection delete, uninstall): {@link unsubscribeLeftovers}, then
   * {@link stopForConnections}, with the same `retry`; answers both steps' outcomes, leftovers first.
   */
  releaseConnections(tenantId: string, actor: string, connectionIds: string[], options?: { retry?: boolean }): Promise<DisableOutcome[]>;
  /**
   * Starts the background work, once the store is migrated: {@link renewDue} and {@link retryUnsubscribes} every
   * `intervalMs` (default 60 s), and
   * the delivery processor, which first takes up deliveries a stopped or killed process left unprocessed. (The
   * processor also starts by itself at the first delivery this process stores.)
   */
  startRenewals(intervalMs?: number): void;
  /** Stops the renewal timer and the delivery processor (its batch in hand finishes) and closes the events publisher. */
  close(): Promise<void>;
}

const SYSTEM = 'system';
/** Attempts at removing a hook at the provider after a disable, the first included; with the backoff below, about a day. */
export const UNSUBSCRIBE_ATTEMPTS = 12;
/** Wait before attempt n + 1 (n ≥ 1): one minute, doubling, at most 6 hours. */
export const unsubscribeRetryDelayMs = (attempts: number): number => Math.min(6 * 3600_000, 60_000 * 2 ** Math.max(0, attempts - 1));
/** How long a delivery stays claimed by the process that stored it (see DeliveryProcessor.handOver). */
const HAND_OVER_CLAIM_MS = 10_000;
// The text goes into status_detail and audit entries, and a provider's own error text (which the SDK puts in the
// message) may hold what PostgreSQL cannot store: kept as keepableText makes it.
const errorText = (error: unknown) => keepableText(toErrorData(error).message);

/**
 * Creates the trigger side of the service.
 * @example const triggers = createTriggerService({ db, runtime, vault, config }); await buildApp({ ..., triggers });
 */
export function createTriggerService(options: TriggerServiceOptions): TriggerService {
  const { db, runtime, config } = options;
  const log = options.log ?? (() => {});
  if (!config.masterKey) throw new Error('createTriggerService needs config.masterKey (signing secrets are sealed by the vault)');
  const secrets: SubscriptionSecrets = createSubscriptionSecrets(db, { masterKey: config.masterKey, previousMasterKeys: config.previousMasterKeys });
  const publisher: EventPublisher | undefined = options.redis
    ? createBullmqPublisher({ connection: options.redis, queueName: EVENTS_QUEUE_NAME, ...(options.queuePrefix ? { prefix: options.queuePrefix } : {}) })
    : undefined;
  // Other processes need to hear of this one's deliveries only in a Redis deployment, where API processes may leave
  // them to workers (BOS_API_WORKER=0). Without Redis the service is one process, which hands its processor the ids
  // itself; anything left behind (a crash) is found by the processors' sweep.
  // Without Redis this process also turns its deliveries into events: ingress stores each one already claimed and
  // hands it to the processor with its content, so no claim statement and no read back are needed.
  const handOver = !options.redis && options.background !== false;
  const pgOutbox = createPgOutbox(db, { announceDeliveries: Boolean(options.redis), ...(handOver ? { claimDeliveriesForMs: HAND_OVER_CLAIM_MS } : {}) });
  const outbox = publisher
    ? withPublisher(pgOutbox, publisher, { onPublishError: (error, events) => log('warn', 'events stored but not pushed to BullMQ; they stay readable with GET /events', { error: errorText(error), events: events.length }) })
    : pgOutbox;
  const rate = options.rateLimit ?? { perSecond: 100, burst: 500 };
  // Ingress only stores deliveries; the processor turns them into events (the transform runs in the sandbox).
  const processor: DeliveryProcessor = createDeliveryProcessor({
    db,
    transform: (delivery) => ingress.transform(delivery),
    transformMany: (deliveries) => ingress.transformMany(deliveries),
    handOverClaimMs: HAND_OVER_CLAIM_MS,
    publish: publisher
      ? (events) => publisher.publish(events).catch((error: unknown) => log('warn', 'events stored but not pushed to BullMQ; they stay readable with GET /events', { error: errorText(error), events: events.length }))
      : undefined,
    log,
  });
  const keyPrefix = options.keyPrefix ?? 'bos';
  const ingress = createWebhookIngress({
    db,
    runtime,
    config,
    vault: options.vault,
    secrets,
    outbox,
    seen: options.redis ? createRedisSeenEvents({ redis: options.redis, prefix: `${keyPrefix}:triggers:seen:` }) : createMemorySeenEvents(),
    rateLimiter: options.redis ? createRedisRateLimiter({ redis: options.redis, prefix: `${keyPrefix}:triggers:rate:`, ...rate }) : createMemoryRateLimiter(rate),
    limits: options.ingressLimits ?? {},
    ...(options.endpointCacheMs === undefined ? {} : { cacheTtlMs: options.endpointCacheMs }),
    ...(options.background === false
      ? {}
      : { onStored: handOver ? (delivery: HandedDelivery) => void processor.handOver(delivery) : (delivery: HandedDelivery) => processor.wake([delivery.id]) }),
    onError: (stage, error, endpointId) => log(stage === 'rate-limit' || stage === 'dedupe' ? 'warn' : 'error', `webhook ${stage} failed`, { endpoint: endpointId.slice(0, 6), error: errorText(error) }),
  });
  let polling = options.polling;
  let timer: NodeJS.Timeout | undefined;
  // On PostgreSQL, deliveries any process stores are announced (NOTIFY): the processor starts on them at once.
  let listener: DeliveryListener | undefined;
  let renewing: Promise<number> | undefined;
  let unsubscribing: Promise<number> | undefined;

  const triggerOf = (triggers: TriggerManifest[], name: string) => triggers.find((t) => t.name === name);

  async function loadRow(tenantId: string, subscriptionId: string): Promise<SubscriptionRow | undefined> {
    const { rows } = await db.withTenant(tenantId, (tx) => tx.query<SubscriptionRow>(`${SUBSCRIPTION_SELECT} WHERE s.id = $1`, [subscriptionId]));
    return rows[0];
  }

  async function viewOf(row: SubscriptionRow): Promise<SubscriptionView> {
    const triggers = await db.withTenant(row.tenant_id, (tx) => loadConnectionTriggers(tx, row.connection_id));
    return subscriptionView(row, config.publicUrl, triggers && triggerOf(triggers.triggers, row.trigger_name));
  }

  function runStep<T>(row: Pick<SubscriptionRow, 'tenant_id' | 'connector' | 'version' | 'trigger_name' | 'connection_id' | 'fields'>, operation: 'subscribe' | 'unsubscribe', input: unknown) {
    return runtime.asTenant(row.tenant_id, () =>
      runtime.runtime.executeTrigger<T>({
        tenant: row.tenant_id,
        connector: row.connector,
        version: row.version,
        trigger: row.trigger_name,
        operation,
        input,
        connection: { id: row.connection_id, fields: row.fields ?? {} },
      }),
    );
  }

  /**
   * Registers the hook at the provider and records what it answered, if the row is still pending or active then.
   * Once the provider answered, it holds a hook: when recording it fails (the secret store is down) or the
   * subscription was disabled meanwhile (the disable found no hook id to remove), the hook is removed again here,
   * so that none is left registered that nothing on this side knows about.
   */
  async function subscribeAtProvider(row: SubscriptionRow, trigger: TriggerManifest): Promise<void> {
    const webhookUrl = webhookUrlOf(config.publicUrl, row.webhook_token!);
    const { data } = await runStep<WebhookSubscription>(row, 'subscribe', { webhookUrl });
    const now = Date.now();
    const expiresAt = typeof data.expiresAt === 'number' && Number.isFinite(data.expiresAt) ? data.expiresAt : undefined;
    /** Removes the hook just registered (best effort); says what became of it. */
    const removeUnrecorded = async (): Promise<string> => {
      if (trigger.webhook?.unsubscribe !== true) return `the connector cannot remove hook ${data.externalId}: remove it in the provider's settings`;
      const failed = await unsubscribeAtProvider({ ...row, external_id: data.externalId, expires_at: expiresAt === undefined ? null : new Date(expiresAt) }, trigger);
      if (failed) log('error', 'a hook registered at the provider could not be removed again', { subscription: row.id, detail: failed });
      return failed ?? `hook ${data.externalId} was removed again at the provider`;
    };
    let recorded: boolean;
    try {
      if (data.secret) await secrets.put(row.tenant_id, row.id, data.secret);
      // Only a live row becomes active: a disable that committed meanwhile must not be undone.
      const { rowCount } = await db.withTenant(row.tenant_id, (tx) =>
        tx.query(
          `UPDATE connectors.trigger_subscriptions
           SET status = 'active', status_detail = NULL, external_id = $2, updated_at = now(),
               expires_at = CASE WHEN $3::float8 IS NULL THEN NULL ELSE to_timestamp($3::float8 / 1000) END,
               renew_at = CASE WHEN $4::float8 IS NULL THEN NULL ELSE to_timestamp($4::float8 / 1000) END
           WHERE id = $1 AND status IN ('pending', 'active')`,
          [row.id, data.externalId, expiresAt ?? null, expiresAt === undefined ? null : renewAtFor(expiresAt, now)],
        ),
      );
      recorded = rowCount > 0;
    } catch (error) {
      throw new Error(`the provider registered hook ${data.externalId}, but it could not be recorded (${errorText(error)}); ${await removeUnrecorded()}`, { cause: error });
    } finally {
      ingress.invalidate(row.webhook_token!);
    }
    if (!recorded) {
      const removed = await removeUnrecorded();
      if (data.secret) await secrets.delete(row.tenant_id, row.id).catch((error: unknown) => log('warn', 'could not erase a stopped subscription\'s secret', { error: errorText(error) }));
      throw new ProblemError(
        'CONFLICT',
        `Subscription ${row.id} was disabled while its webhook was being registered; ${removed}. Enable the trigger again if you still want it`,
      );
    }
  }

  /** Removes the hook at the provider, best effort; resolves to the failure text, or undefined when it is gone. */
  async function unsubscribeAtProvider(row: SubscriptionRow, trigger: TriggerManifest | undefined, then = "remove it in the provider's settings"): Promise<string | undefined> {
    if (!canUnsubscribe(row, trigger)) return undefined;
    try {
      const subscription: WebhookSubscription = { externalId: row.external_id! };
      if (row.expires_at) subscription.expiresAt = new Date(row.expires_at).getTime();
      await runStep(row, 'unsubscribe', subscription);
      return undefined;
    } catch (error) {
      return `The provider did not confirm removing hook ${row.external_id}: ${errorText(error)}; ${then}`;
    }
  }

  /** A stopped subscription whose hook may still be at the provider: its removal waits for a retry, or was given up. */
  function hookLeft(row: SubscriptionRow): boolean {
    return row.status === 'stopped' && row.external_id !== null && (row.unsubscribe_at !== null || row.unsubscribe_attempts > 0);
  }

  /** Whether there is a hook at the provider that the connector's unsubscribe step can remove. */
  function canUnsubscribe(row: SubscriptionRow, trigger: TriggerManifest | undefined): boolean {
    return row.kind === 'webhook' && !!row.external_id && trigger?.webhook?.unsubscribe === true;
  }

  const retryText = (next: Date) => {
    const at = next.toISOString();
    return `the service tries again at ${at} and keeps trying, backing off, for about a day (see unsubscribeRetryAt); to give up, delete the connection with ?force=true and remove the hook in the provider's settings`;
  };

  async function disableRow(row: SubscriptionRow, actor: string, allowRetry = true): Promise<DisableOutcome> {
    // Stop locally first: from this commit on, the endpoint answers 404 and polls stop, whatever the provider says.
    // The hook id and secret are taken as of this update: a subscribe that recorded its hook after `row` was read
    // committed before it, and its hook must be removed here (a subscribe committing later removes its own).
    const { rows: stopped } = await db.withTenant(row.tenant_id, (tx) =>
      tx.query<Pick<SubscriptionRow, 'external_id' | 'expires_at' | 'has_secret'>>(
        `UPDATE connectors.trigger_subscriptions SET status = 'stopped', status_detail = NULL, renew_at = NULL, updated_at = now() WHERE id = $1
         RETURNING external_id, expires_at, secret IS NOT NULL AS has_secret`,
        [row.id],
      ),
    );
    if (stopped[0]) row = { ...row, ...stopped[0] };
    if (row.webhook_token) ingress.invalidate(row.webhook_token);
    let detail: string | undefined;
    if (row.kind === 'polling') {
      try {
        await polling?.onPollingDisabled(row.id);
      } catch (error) {
        detail = `The polling scheduler did not confirm: ${errorText(error)}`;
      }
    }
    let retry = false;
    if (row.kind !== 'polling' && row.status !== 'stopped') {
      const triggers = await db.withTenant(row.tenant_id, (tx) => loadConnectionTriggers(tx, row.connection_id));
      const trigger = triggers && triggerOf(triggers.triggers, row.trigger_name);
      // A hook the provider did not confirm removing is tried again in the background (retryUnsubscribes).
      retry = allowRetry && canUnsubscribe(row, trigger);
      detail = await unsubscribeAtProvider(row, trigger, retry ? retryText(new Date(Date.now() + unsubscribeRetryDelayMs(1))) : undefined);
      retry &&= detail !== undefined;
    }
    if (row.has_secret) await secrets.delete(row.tenant_id, row.id).catch((error: unknown) => log('warn', 'could not erase a stopped subscription\'s secret', { error: errorText(error) }));
    await db.withTenant(row.tenant_id, async (tx) => {
      if (detail) {
        await tx.query(
          `UPDATE connectors.trigger_subscriptions SET status_detail = $2,
             unsubscribe_attempts = CASE WHEN $3 THEN 1 ELSE unsubscribe_attempts END,
             unsubscribe_at = CASE WHEN $3 THEN now() + $4::float8 * interval '1 millisecond' ELSE NULL END
           WHERE id = $1`,
          [row.id, detail.slice(0, 1000), retry, unsubscribeRetryDelayMs(1)],
        );
      }
      await recordAudit(tx, { tenantId: row.tenant_id, actor, action: 'trigger.disable', targetType: 'trigger_subscription', targetId: row.id, details: { connector: row.connector, trigger: row.trigger_name, connection: row.connection_id, unsubscribed: detail === undefined, ...(detail ? { detail } : {}) } });
    });
    const after = (await loadRow(row.tenant_id, row.id)) ?? { ...row, status: 'stopped' as const, has_secret: false };
    return { subscription: await viewOf(after), unsubscribed: detail === undefined, ...(detail ? { detail } : {}) };
  }

  /** The outcome of a subscription whose hook may still be at the provider, after a failure on this side. */
  async function notRemoved(row: SubscriptionRow, why: string): Promise<DisableOutcome> {
    const detail = row.external_id ? `${why}; hook ${row.external_id} may still be registered at the provider: remove it in the provider's settings if it is` : why;
    return { subscription: await viewOf(row), unsubscribed: false, detail };
  }

  /**
   * One more try at removing a stopped subscription's hook; records the outcome on the row and audits it.
   * `scheduled`: the sweep's try, which counts toward the attempts (and gives up after the last). `extra`: a try that
   * a connection delete asks for; it neither counts nor moves the schedule, so repeating a delete cannot use up the
   * attempts. `last`: the rows go next (uninstall, forced delete): a failure gives up at once.
   */
  async function retryUnsubscribeRow(row: SubscriptionRow, actor: string, mode: 'scheduled' | 'extra' | 'last'): Promise<DisableOutcome> {
    const triggers = await db.withTenant(row.tenant_id, (tx) => loadConnectionTriggers(tx, row.connection_id));
    const trigger = triggers && triggerOf(triggers.triggers, row.trigger_name);
    const able = canUnsubscribe(row, trigger);
    // Whether this try counts as an attempt; one that finds the hook impossible to remove always does (and gives up).
    const counted = mode !== 'extra' || !able;
    const attempt = row.unsubscribe_attempts + (counted ? 1 : 0);
    const giveUp = mode === 'last' || !able || (counted && attempt >= UNSUBSCRIBE_ATTEMPTS);
    let failure: string | undefined;
    if (!able) {
      // An upgrade dropped the step (or the trigger): nothing here can remove the hook any more.
      failure = `${row.connector}@${row.version} has no unsubscribe step for ${row.trigger_name} any more, so hook ${row.external_id} cannot be removed from here; remove it in the provider's settings`;
    } else {
      const next = counted ? new Date(Date.now() + unsubscribeRetryDelayMs(attempt)) : new Date(row.unsubscribe_at ?? Date.now());
      failure = await unsubscribeAtProvider(row, trigger, mode === 'last' ? undefined : giveUp ? `the service gave up after ${attempt} attempts; remove it in the provider's settings` : retryText(next));
    }
    const detail = failure ?? `Hook ${row.external_id} was removed at the provider (attempt ${row.unsubscribe_attempts + 1})`;
    await db.withTenant(row.tenant_id, async (tx) => {
      // Two tries may run at once (the sweep and a connection delete): a removal is always recorded, since the hook is
      // gone whatever the other try saw; a failure only over the attempt it followed, and never over a removal.
      if (failure === undefined) {
        await tx.query(
          // The hook id goes with the hook: a stopped row that still has one after a try is one the service gave up on.
          `UPDATE connectors.trigger_subscriptions SET status_detail = $2, unsubscribe_attempts = GREATEST(unsubscribe_attempts, $3), updated_at = now(), unsubscribe_at = NULL, external_id = NULL
           WHERE id = $1 AND status = 'stopped'`,
          [row.id, detail.slice(0, 1000), row.unsubscribe_attempts + 1],
        );
      } else if (!counted) {
        await tx.query(
          `UPDATE connectors.trigger_subscriptions SET status_detail = $2, updated_at = now()
           WHERE id = $1 AND status = 'stopped' AND unsubscribe_attempts = $3 AND unsubscribe_at IS NOT NULL`,
          [row.id, detail.slice(0, 1000), row.unsubscribe_attempts],
        );
      } else {
        await tx.query(
          `UPDATE connectors.trigger_subscriptions SET status_detail = $2, unsubscribe_attempts = $3, updated_at = now(),
             unsubscribe_at = CASE WHEN $4 THEN now() + $5::float8 * interval '1 millisecond' ELSE NULL END
           WHERE id = $1 AND status = 'stopped' AND unsubscribe_attempts = $3 - 1 AND unsubscribe_at IS NOT NULL`,
          [row.id, detail.slice(0, 1000), attempt, !giveUp, unsubscribeRetryDelayMs(attempt)],
        );
      }
      await recordAudit(tx, { tenantId: row.tenant_id, actor, action: 'trigger.unsubscribe', targetType: 'trigger_subscription', targetId: row.id, details: { connector: row.connector, trigger: row.trigger_name, connection: row.connection_id, attempt: row.unsubscribe_attempts + 1, ...(counted ? {} : { extraTry: true }), unsubscribed: failure === undefined, ...(failure ? { detail: failure, gaveUp: giveUp } : {}) } });
    });
    if (failure) log(giveUp ? 'error' : 'warn', giveUp ? 'gave up removing a webhook at the provider' : 'removing a webhook at the provider failed again', { subscription: row.id, attempt, detail: failure });
    const after = (await loadRow(row.tenant_id, row.id)) ?? row;
    return { subscription: await viewOf(after), unsubscribed: failure === undefined, ...(failure ? { detail: failure } : {}) };
  }

  function retryUnsubscribes(): Promise<number> {
    unsubscribing ??= (async () => {
      // Claim due rows for 5 minutes, as renewals do: another process skips them, a crash retries them later.
      const { rows } = await db.query<{ id: string; tenant_id: string }>(
        `UPDATE connectors.trigger_subscriptions SET unsubscribe_at = now() + interval '5 minutes'
         WHERE id IN (SELECT id FROM connectors.trigger_subscriptions
                      WHERE unsubscribe_at <= now() AND status = 'stopped'
                      ORDER BY unsubscribe_at LIMIT 50 FOR UPDATE SKIP LOCKED)
         RETURNING id, tenant_id`,
      );
      let removed = 0;
      for (const claimed of rows) {
        try {
          const row = await loadRow(claimed.tenant_id, claimed.id);
          if (row?.status === 'stopped' && (await retryUnsubscribeRow(row, SYSTEM, 'scheduled')).unsubscribed) removed += 1;
        } catch (error) {
          log('error', 'retrying a webhook removal failed', { subscription: claimed.id, error: errorText(error) });
        }
      }
      return removed;
    })().finally(() => {
      unsubscribing = undefined;
    });
    return unsubscribing;
  }

  /** Re-registers one hook; resolves to whether it worked (failures are recorded on the row). */
  async function renewRow(row: SubscriptionRow): Promise<boolean> {
    const triggers = await db.withTenant(row.tenant_id, (tx) => loadConnectionTriggers(tx, row.connection_id));
    const trigger = triggers && triggerOf(triggers.triggers, row.trigger_name);
    // Whether the old hook is known to be gone at the provider: from then on nothing delivers until a subscribe works.
    let oldHookRemoved = false;
    try {
      if (!trigger?.webhook?.subscribe) throw new Error(`trigger ${row.trigger_name} has no subscribe step any more`);
      // The SDK declares no renew step: re-register (unsubscribe, then subscribe again at the same address).
      const failed = await unsubscribeAtProvider(row, trigger);
      if (failed) log('warn', 'renewal: the old hook was not removed', { subscription: row.id, detail: failed });
      oldHookRemoved = failed === undefined && row.external_id !== null && trigger.webhook.unsubscribe === true;
      await subscribeAtProvider(row, trigger);
      await db.withTenant(row.tenant_id, (tx) => recordAudit(tx, { tenantId: row.tenant_id, actor: SYSTEM, action: 'trigger.renew', targetType: 'trigger_subscription', targetId: row.id, details: { connector: row.connector, trigger: row.trigger_name } }));
      return true;
    } catch (error) {
      const lapsed = row.expires_at !== null && new Date(row.expires_at).getTime() <= Date.now();
      // Retry in 5 minutes while the old hook still lives. Once it lapsed, or was removed for a subscribe that then
      // failed, no hook delivers any more: the subscription has failed, and says so to the tenant at once rather
      // than staying `active` with no hook behind it.
      const failedNow = lapsed || oldHookRemoved;
      const detail = oldHookRemoved
        ? `Renewing the webhook at the provider failed after the old hook ${row.external_id} was removed, so no events arrive: ${errorText(error)}. To resume, disable and then enable the trigger again (reconnect the account first if the provider refuses it)`
        : `Renewing the subscription at the provider failed: ${errorText(error)}; ${failedNow ? 'no events arrive. To resume, disable and then enable the trigger again' : 'it is retried in 5 minutes; if it keeps failing, disable and then enable the trigger again'}`;
      await db.withTenant(row.tenant_id, (tx) =>
        tx.query(
          `UPDATE connectors.trigger_subscriptions SET status_detail = $2, updated_at = now(),
             status = CASE WHEN $3 THEN 'failed' ELSE status END,
             external_id = CASE WHEN $4 THEN NULL ELSE external_id END,
             renew_at = CASE WHEN $3 THEN NULL ELSE now() + interval '5 minutes' END
           WHERE id = $1 AND status = 'active'`,
          [row.id, detail.slice(0, 1000), failedNow, oldHookRemoved],
        ),
      );
      if (row.webhook_token) ingress.invalidate(row.webhook_token);
      log('error', 'trigger renewal failed', { subscription: row.id, error: errorText(error) });
      return false;
    }
  }

  function renewDue(): Promise<number> {
    renewing ??= (async () => {
      // Claim due rows for 5 minutes (a lease: another process skips them, and a crash retries them later).
      const { rows } = await db.query<{ id: string; tenant_id: string }>(
        `UPDATE connectors.trigger_subscriptions SET renew_at = now() + interval '5 minutes'
         WHERE id IN (SELECT id FROM connectors.trigger_subscriptions
                      WHERE status = 'active' AND kind = 'webhook' AND renew_at <= now()
                      ORDER BY renew_at LIMIT 50 FOR UPDATE SKIP LOCKED)
         RETURNING id, tenant_id`,
      );
      let renewed = 0;
      for (const claimed of rows) {
        const row = await loadRow(claimed.tenant_id, claimed.id);
        if (row?.status === 'active' && (await renewRow(row))) renewed += 1;
      }
      return renewed;
    })().finally(() => {
      renewing = undefined;
    });
    return renewing;
  }

  const service: TriggerService = {
    outbox,
    setPollingHooks(hooks) {
      polling = hooks;
    },

    async enable(tenantId, actor, connectionId, triggerName, triggerConfig) {
      const target = await db.withTenant(tenantId, (tx) => loadConnectionTriggers(tx, connectionId));
      if (!target) throw new ProblemError('NOT_FOUND', `No connection ${connectionId} in your tenant; list them with GET /connections`);
      const trigger = triggerOf(target.triggers, triggerName);
      if (!trigger) {
        const names = target.triggers.map((t) => t.name);
        throw new ProblemError('NOT_FOUND', `${target.connector}@${target.version} has no trigger "${triggerName}"; its triggers are: ${names.length > 0 ? names.join(', ') : 'none'}`);
      }
      const kind = trigger.type;
      const subscribes = kind === 'webhook' && trigger.webhook?.subscribe === true;
      const token = kind === 'webhook' ? randomBytes(32).toString('base64url') : null;
      let id: string;
      try {
        id = await db.withTenant(tenantId, async (tx) => {
          const { rows } = await tx.query<{ id: string }>(
            `INSERT INTO connectors.trigger_subscriptions (tenant_id, connection_id, trigger_name, kind, status, webhook_token, config)
             VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING id`,
            [tenantId, connectionId, triggerName, kind, subscribes ? 'pending' : 'active', token, JSON.stringify(triggerConfig)],
          );
          const created = rows[0]!.id;
          await recordAudit(tx, { tenantId, actor, action: 'trigger.enable', targetType: 'trigger_subscription', targetId: created, details: { connector: target.connector, trigger: triggerName, kind, connection: connectionId } });
          return created;
        });
      } catch (error) {
        if ((error as { code?: unknown }).code === '23505') {
          throw new ProblemError('CONFLICT', `Trigger ${triggerName} is already enabled on connection ${connectionId}; see GET /connections/${connectionId}/triggers, or disable it first`);
        }
        throw error;
      }
      const row = (await loadRow(tenantId, id))!;
      if (subscribes) {
        try {
          await subscribeAtProvider(row, trigger);
        } catch (error) {
          // No hook is left registered (subscribeAtProvider removes one it could not record): leave no half-enabled
          // subscription behind. One disabled meanwhile stays, stopped, as the disable answered it.
          await db.withTenant(tenantId, async (tx) => {
            await tx.query("DELETE FROM connectors.trigger_subscriptions WHERE id = $1 AND status <> 'stopped'", [id]);
            await recordAudit(tx, { tenantId, actor, action: 'trigger.enable_failed', targetType: 'trigger_subscription', targetId: id, details: { connector: target.connector, trigger: triggerName, error: errorText(error) } });
          });
          const data = toErrorData(error);
          throw new ProblemError(data.code, `Registering the webhook of ${target.connector}.${triggerName} at the provider failed: ${data.message}`);
        }
      }
      if (kind === 'polling' && polling) {
        try {
          await polling.onPollingEnabled({ id, tenantId });
        } catch (error) {
          await db.withTenant(tenantId, (tx) => tx.query(`UPDATE connectors.trigger_subscriptions SET status = 'failed', status_detail = $2 WHERE id = $1`, [id, `Could not be scheduled: ${errorText(error)}`.slice(0, 1000)]));
          const data = toErrorData(error);
          throw new ProblemError(data.code, `Scheduling the polling trigger ${target.connector}.${triggerName} failed: ${data.message}`);
        }
      }
      return viewOf((await loadRow(tenantId, id))!);
    },

    async list(tenantId, connectionId) {
      const rows = await db.withTenant(tenantId, async (tx) => {
        if (connectionId === undefined) return (await tx.query<SubscriptionRow>(`${SUBSCRIPTION_SELECT} ORDER BY s.created_at DESC, s.id`)).rows;
        // An unknown connection, or another tenant's, is a 404 as on every connection route, not an empty list.
        const known = await tx.query('SELECT 1 FROM connectors.connections WHERE id = $1', [connectionId]);
        if (known.rows.length === 0) throw new ProblemError('NOT_FOUND', `No connection ${connectionId} in your tenant; list them with GET /connections`);
        return (await tx.query<SubscriptionRow>(`${SUBSCRIPTION_SELECT} WHERE s.connection_id = $1 ORDER BY s.created_at DESC, s.id`, [connectionId])).rows;
      });
      return Promise.all(rows.map(viewOf));
    },

    async disable(tenantId, actor, subscriptionId, connectionId) {
      const row = await loadRow(tenantId, subscriptionId);
      if (!row || (connectionId !== undefined && row.connection_id !== connectionId)) {
        throw new ProblemError('NOT_FOUND', `No trigger subscription ${subscriptionId}${connectionId ? ` on connection ${connectionId}` : ''} in your tenant; list them with GET /connections/{id}/triggers`);
      }
      if (row.status === 'stopped') {
        // A hook still waiting for a retry of its removal, or one the service gave up on, is not gone: say so, with
        // what the last try found.
        if (hookLeft(row)) return { subscription: await viewOf(row), unsubscribed: false, ...(row.status_detail ? { detail: row.status_detail } : {}) };
        return { subscription: await viewOf(row), unsubscribed: true };
      }
      return disableRow(row, actor);
    },

    async stopForConnections(tenantId, actor, connectionIds, stopOptions) {
      if (connectionIds.length === 0) return [];
      // Only this tenant's connections: another tenant's ids must not even empty a cache entry.
      const owned = (await db.withTenant(tenantId, (tx) => tx.query<{ id: string }>('SELECT id::text FROM connectors.connections WHERE id = ANY($1::uuid[])', [connectionIds]))).rows.map((r) => r.id);
      if (owned.length === 0) return [];
      // Stopped subscriptions too: the delivery processor may still hold their endpoints for deliveries in hand.
      ingress.invalidateConnections(owned);
      const { rows } = await db.withTenant(tenantId, (tx) =>
        tx.query<SubscriptionRow>(`${SUBSCRIPTION_SELECT} WHERE s.connection_id = ANY($1::uuid[]) AND s.status <> 'stopped'`, [owned]),
      );
      const outcomes: DisableOutcome[] = [];
      for (const row of rows) {
        try {
          outcomes.push(await disableRow(row, actor, stopOptions?.retry !== false));
        } catch (error) {
          log('error', 'stopping a trigger subscription failed', { subscription: row.id, error: errorText(error) });
          // Still answered, as not removed: the caller (a delete) must not take its hook for gone.
          outcomes.push(await notRemoved(row, `Stopping this subscription failed on our side (${errorText(error)})`));
        }
      }
      return outcomes;
    },

    async unsubscribeLeftovers(tenantId, actor, connectionIds, leftoverOptions) {
      if (connectionIds.length === 0) return [];
      const { rows } = await db.withTenant(tenantId, (tx) =>
        tx.query<SubscriptionRow>(
          `${SUBSCRIPTION_SELECT} WHERE s.connection_id = ANY($1::uuid[]) AND s.status = 'stopped' AND s.external_id IS NOT NULL
             AND (s.unsubscribe_at IS NOT NULL OR s.unsubscribe_attempts > 0) ORDER BY s.created_at`,
          [connectionIds],
        ),
      );
      const left: DisableOutcome[] = [];
      for (const row of rows) {
        if (row.unsubscribe_at === null) {
          // Given up on before: named again, not tried again.
          left.push({ subscription: await viewOf(row), unsubscribed: false, detail: row.status_detail ?? `The service gave up removing hook ${row.external_id}; remove it in the provider's settings` });
          continue;
        }
        try {
          const outcome = await retryUnsubscribeRow(row, actor, leftoverOptions?.retry === false ? 'last' : 'extra');
          if (!outcome.unsubscribed) left.push(outcome);
        } catch (error) {
          log('error', 'retrying a webhook removal failed', { subscription: row.id, error: errorText(error) });
          left.push(await notRemoved(row, `Removing hook ${row.external_id} could not be tried (${errorText(error)})`));
        }
      }
      return left;
    },

    async releaseConnections(tenantId, actor, connectionIds, releaseOptions) {
      // Leftovers first: the stop below adds fresh retries, which must not get a second try in the same call.
      const leftovers = await service.unsubscribeLeftovers(tenantId, actor, connectionIds, releaseOptions);
      return [...leftovers, ...(await service.stopForConnections(tenantId, actor, connectionIds, releaseOptions))];
    },

    async reschedulePolling(tenantId, installationId) {
      const hooks = polling;
      if (!hooks) return 0;
      const { rows } = await db.withTenant(tenantId, (tx) =>
        tx.query<{ id: string }>(
          `SELECT s.id::text FROM connectors.trigger_subscriptions s JOIN connectors.connections c ON c.id = s.connection_id
           WHERE c.installation_id = $1 AND s.kind = 'polling' AND s.status = 'active'`,
          [installationId],
        ),
      );
      let rescheduled = 0;
      for (const { id } of rows) {
        try {
          await hooks.onPollingEnabled({ id, tenantId });
          rescheduled += 1;
        } catch (error) {
          log('warn', 'a polling subscription was not rescheduled for its installation\'s new version', { subscription: id, error: errorText(error) });
        }
      }
      return rescheduled;
    },

    async sample(tenantId, connectionId, triggerName) {
      const target = await db.withTenant(tenantId, (tx) => loadConnectionTriggers(tx, connectionId));
      if (!target) throw new ProblemError('NOT_FOUND', `No connection ${connectionId} in your tenant; list them with GET /connections`);
      const trigger = triggerOf(target.triggers, triggerName);
      if (!trigger) throw new ProblemError('NOT_FOUND', `${target.connector}@${target.version} has no trigger "${triggerName}"`);
      return trigger.sample === undefined ? [] : [trigger.sample];
    },

    receive: (request) => ingress.receive(request),

    drainDeliveries: () => processor.drain(),

    renewDue,
    retryUnsubscribes,

    startRenewals(intervalMs = 60_000) {
      if (options.background === false) return;
      processor.start();
      if (config.databaseUrl && db.engine === 'postgres' && !listener) {
        listener = listenForDeliveries({ connectionString: config.databaseUrl, onDeliveries: (ids) => processor.wake(ids, { fromIngress: false }), log });
      }
      if (timer) return;
      timer = setInterval(() => {
        void renewDue().catch((error: unknown) => log('error', 'trigger renewal sweep failed', { error: errorText(error) }));
        void retryUnsubscribes().catch((error: unknown) => log('error', 'webhook removal sweep failed', { error: errorText(error) }));
      }, intervalMs);
      timer.unref();
    },

    async close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await renewing?.catch(() => 0);
      await unsubscribing?.catch(() => 0);
      await listener?.close();
      listener = undefined;
      await processor.close();
      await publisher?.close();
    },
  };
  return service;
}

/** The trigger service of the app, or 503 when the service runs without a master key (no runtime, no vault). */
export function requireTriggers(triggers: TriggerService | undefined): TriggerService {
  if (!triggers) throw new ProblemError('NOT_IMPLEMENTED', 'This service has no master key, so it cannot run triggers; the operator sets BOS_MASTER_KEY', { status: 503 });
  return triggers;
}
