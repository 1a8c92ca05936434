import { ConnectorError, toErrorData, type LogLevel } from '@businessos/connector-sdk';
import {
  createBullmqPublisher,
  createBullmqScheduler,
  createInProcessScheduler,
  createPoller,
  type EventOutbox,
  type EventPublisher,
  type PollOutcome,
  type PollScheduler,
  type PollSubscription,
  type PollStateStore,
} from '@businessos/connector-triggers';
import type { Redis } from 'ioredis';
import type { Db } from '../db/db.ts';
import type { ServiceRuntime } from '../execution/service-runtime.ts';
import { EVENTS_QUEUE_NAME } from '../triggers/trigger-service.ts';
import { createPgPollStateStore } from './pg-poll-state-store.ts';
import { appendPollEvents, listActivePollingSubscriptions, loadPollingTarget, markPollingAuthFailure, tenantOfSubscription, type PollingTarget } from './polling-subscriptions.ts';

/** What the enable/disable routes hand over: the subscription row's id and tenant (other fields are ignored). */
export interface PollingSubscriptionRef {
  id: string;
  tenantId: string;
}

/** Options of {@link createPollingService}. */
export interface PollingServiceOptions {
  /**
   * The store. New items go into its events outbox (`connectors.trigger_events`, as `createPgOutbox` writes it),
   * each poll's in one transaction that first checks the subscription is still active (see `appendPollEvents`).
   */
  db: Db;
  runtime: ServiceRuntime;
  /**
   * A Redis client created with `maxRetriesPerRequest: null`: polls run as BullMQ repeatable jobs, any number of
   * service processes share them, one poll at a time per subscription (Redis lock), and the events polls store are
   * also pushed to the queue `bos-trigger-events` as the trigger service pushes webhook events. Absent: in-process
   * timers. The caller owns (and closes) the client.
   */
  redis?: Redis | undefined;
  /** BullMQ key prefix of the poll and events queues (default `bull`): distinct per environment sharing one Redis. */
  queuePrefix?: string | undefined;
  /** Consecutive auth failures before the connection is marked `needs_reauth` (default 3). */
  authFailureThreshold?: number;
  /** Longest backoff after failed polls (default 1 h). */
  maxBackoffMs?: number;
  /** Told after each poll (metrics, tests); `locked`: another worker was polling that subscription. */
  onPoll?: (subscription: PollSubscription, outcome: PollOutcome | 'locked') => void;
  /** With Redis: whether this process also runs polls (default true), or only schedules them for the workers that do. */
  runPolls?: boolean;
  log?: (level: LogLevel, message: string, data?: unknown) => void;
}

/** Polling triggers of the service: schedules every active polling subscription and runs its polls. */
export interface PollingService {
  /** `bullmq` with Redis, `in-process` without. */
  readonly mode: 'bullmq' | 'in-process';
  /** Schedules every active polling subscription in the store; resolves to how many. Failures of one are logged. */
  start(): Promise<number>;
  /**
   * A polling subscription was enabled (its row is committed, `kind = 'polling'`, `status = 'active'`): schedule
   * it. Enabling again after a failure clears the backoff, so it polls at once. Rejects with a catalogue error when
   * the row is unknown, not a polling trigger, or not active.
   */
  onPollingEnabled(subscription: PollingSubscriptionRef): Promise<void>;
  /**
   * A subscription was disabled or deleted (its row is committed): stop polling it. A poll in progress finishes,
   * but stores none of its items (they would be events of a disabled subscription).
   */
  onPollingDisabled(subscriptionId: string): Promise<void>;
  /** Stops the scheduler and waits for polls in progress. BullMQ schedules stay in Redis for the next start. */
  close(): Promise<void>;
}

/** Queue of the poll jobs in BullMQ. */
export const POLL_QUEUE_NAME = 'bos-trigger-polls';

/**
 * Creates the service's polling side: the polling engine over the connector's poll step in the sandbox, its state
 * in `connectors.poll_states`, events into the store's outbox (only while the subscription is active), scheduled
 * by BullMQ (with Redis) or in-process timers.
 * @example const polling = createPollingService({ db, runtime, redis }); await polling.start(); ... await polling.close();
 */
export function createPollingService(options: PollingServiceOptions): PollingService {
  const { db, runtime: rt } = options;
  const log = options.log ?? (() => undefined);
  // Subscriptions this process scheduled or polled: their tenant, so the state store needs no lookup per poll.
  const tenants = new Map<string, string>();
  const tenantOf = async (id: string): Promise<string | undefined> => {
    const known = tenants.get(id);
    if (known) return known;
    const found = await tenantOfSubscription(db, id);
    if (found) tenants.set(id, found);
    return found;
  };
  const stateStore: PollStateStore = createPgPollStateStore({ db, tenantOf });

  async function target(sub: PollSubscription): Promise<PollingTarget> {
    const t = await loadPollingTarget(db, sub.tenantId, sub.id);
    if (!t || t.status !== 'active' || t.kind !== 'polling') {
      // Deleted or disabled while a schedule still existed (another process, or a crash before unscheduling).
      void scheduler.unschedule(sub.id).catch((error: unknown) => log('warn', `could not unschedule polling subscription ${sub.id}: ${toErrorData(error).message}`));
      throw new ConnectorError('NOT_FOUND', `Polling subscription ${sub.id} is ${t ? `${t.kind}/${t.status}` : 'gone'}; it is no longer polled`);
    }
    return t;
  }

  // Events of a poll go in with their subscription's status check, not through the shared outbox object, so that a
  // disable that commits while a poll runs is never followed by that poll's events. With Redis they are then pushed
  // to the events queue like webhook events; a failed push loses nothing (they stay readable in the outbox).
  const publisher: EventPublisher | undefined = options.redis && options.runPolls !== false
    ? createBullmqPublisher({ connection: options.redis, queueName: EVENTS_QUEUE_NAME, ...(options.queuePrefix ? { prefix: options.queuePrefix } : {}) })
    : undefined;
  const outbox: Pick<EventOutbox, 'appendEvents'> = {
    async appendEvents(target, events) {
      const stored = await appendPollEvents(db, target, events);
      if (stored.length > 0 && publisher) {
        await publisher.publish(stored).catch((error: unknown) => log('warn', `events stored but not pushed to BullMQ; they stay readable with GET /events: ${toErrorData(error).message}`, { subscription: target.subscriptionId, events: stored.length }));
      }
      return stored;
    },
  };

  const poller = createPoller({
    stateStore,
    outbox,
    ...(options.authFailureThreshold !== undefined ? { authFailureThreshold: options.authFailureThreshold } : {}),
    ...(options.maxBackoffMs !== undefined ? { maxBackoffMs: options.maxBackoffMs } : {}),
    log,
    async runPoll(sub, cursor) {
      const t = await target(sub);
      await refreshSchedule(sub, t);
      const result = await rt.asTenant(t.tenantId, () =>
        rt.runtime.executeTrigger<{ items: unknown[]; state: unknown }>({
          tenant: t.tenantId,
          connector: t.connector,
          version: t.version,
          trigger: t.triggerName,
          operation: 'poll',
          input: cursor ?? null,
          connection: { id: t.connectionId, fields: t.connectionFields },
        }),
      );
      return result.data;
    },
    async onAuthFailure(sub, error, failures) {
      const t = await loadPollingTarget(db, sub.tenantId, sub.id);
      if (!t) return;
      const reason = `Polling trigger ${t.triggerName} failed ${failures} times in a row with ${error.code}: ${error.message}. Reconnect the account, then enable the trigger again.`;
      await markPollingAuthFailure(db, { tenantId: t.tenantId, subscriptionId: t.id, connectionId: t.connectionId }, reason);
      log('warn', reason, { subscription: sub.id, connection: t.connectionId });
      void scheduler.unschedule(sub.id).catch(() => undefined);
    },
  });

  // `target` and `onAuthFailure` above use it; they only run once polls run, after this line.
  const scheduler: PollScheduler = options.redis
    ? createBullmqScheduler({
        connection: options.redis,
        queueName: POLL_QUEUE_NAME,
        poller,
        ...(options.queuePrefix ? { prefix: options.queuePrefix, lockPrefix: `${options.queuePrefix}:poll-lock:` } : {}),
        log,
        ...(options.onPoll ? { onPoll: options.onPoll } : {}),
        ...(options.runPolls === false ? { runWorker: false } : {}),
      })
    : createInProcessScheduler({ poller, log, ...(options.onPoll ? { onPoll: options.onPoll } : {}) });

  /**
   * A schedule carries the subscription as it was scheduled (the trigger's polling spec, the interval). When the
   * installation moved to another version or the interval override changed since, it is scheduled again as it is
   * now (BullMQ replaces the job scheduler of the same id): otherwise the old interval would hold until a restart.
   * A version without the trigger is refused, and the schedule dropped: it would fail every interval for ever.
   */
  async function refreshSchedule(sub: PollSubscription, t: PollingTarget): Promise<void> {
    let current: PollSubscription | undefined;
    try {
      current = await subscriptionOf(t);
    } catch (error) {
      // The bundle could not be loaded: the poll step, which loads it too, reports that; the schedule stays.
      log('warn', `could not check the trigger of polling subscription ${sub.id}: ${toErrorData(error).message}`, { subscription: sub.id });
      return;
    }
    if (!current) {
      void scheduler.unschedule(sub.id).catch((error: unknown) => log('warn', `could not unschedule polling subscription ${sub.id}: ${toErrorData(error).message}`));
      throw noPollingTrigger(t);
    }
    if (poller.intervalMs(current) === poller.intervalMs(sub) && JSON.stringify(current.trigger) === JSON.stringify(sub.trigger)) return;
    await scheduler.schedule(current).catch((error: unknown) => log('warn', `could not reschedule polling subscription ${sub.id} after its trigger changed: ${toErrorData(error).message}`, { subscription: sub.id }));
  }

  const noPollingTrigger = (t: PollingTarget): ConnectorError =>
    new ConnectorError('INVALID_INPUT', `${t.connector}@${t.version} has no polling trigger "${t.triggerName}" (subscription ${t.id}); disable it and enable one of that version's triggers`);

  /** The engine's view of a subscription: id, tenant, the trigger's polling spec from its manifest, interval. */
  async function pollSubscription(ref: PollingSubscriptionRef): Promise<PollSubscription> {
    const t = await loadPollingTarget(db, ref.tenantId, ref.id);
    if (!t) throw new ConnectorError('NOT_FOUND', `No trigger subscription ${ref.id} in tenant ${ref.tenantId}`);
    if (t.kind !== 'polling') throw new ConnectorError('INVALID_INPUT', `Trigger subscription ${ref.id} (${t.triggerName}) is a ${t.kind} subscription, not a polling one`);
    if (t.status !== 'active') throw new ConnectorError('CONFLICT', `Trigger subscription ${ref.id} is ${t.status}; enable it before scheduling it`);
    const sub = await subscriptionOf(t);
    if (!sub) {
      // A schedule left in Redis from before (of a version that had the trigger) would poll and fail for ever.
      await scheduler.unschedule(t.id).catch(() => undefined);
      throw noPollingTrigger(t);
    }
    return sub;
  }

  /** The subscription as the engine sees it, with its installation's pinned version; undefined: no such polling trigger. */
  async function subscriptionOf(t: PollingTarget): Promise<PollSubscription | undefined> {
    const { manifest } = await rt.runtime.load(t.connector, t.version, t.tenantId);
    const trigger = manifest.triggers.find((tr) => tr.name === t.triggerName);
    if (!trigger?.polling) return undefined;
    tenants.set(t.id, t.tenantId);
    return { id: t.id, tenantId: t.tenantId, trigger: { name: trigger.name, polling: trigger.polling }, intervalMs: t.intervalMs ?? undefined };
  }

  return {
    mode: options.redis ? 'bullmq' : 'in-process',
    async start() {
      let scheduled = 0;
      for (const ref of await listActivePollingSubscriptions(db)) {
        try {
          await scheduler.schedule(await pollSubscription(ref));
          scheduled += 1;
        } catch (error) {
          log('error', `polling subscription ${ref.id} was not scheduled: ${toErrorData(error).message}`, { subscription: ref.id });
        }
      }
      return scheduled;
    },
    async onPollingEnabled(ref) {
      const sub = await pollSubscription(ref);
      const state = await stateStore.load(sub.id);
      if (state && (state.failures > 0 || state.nextAttemptAt !== undefined)) {
        await stateStore.save(sub.id, { ...state, failures: 0, authFailures: 0, nextAttemptAt: undefined });
      }
      await scheduler.schedule(sub);
    },
    async onPollingDisabled(subscriptionId) {
      await scheduler.unschedule(subscriptionId);
      tenants.delete(subscriptionId);
    },
    async close() {
      try {
        await scheduler.close();
      } finally {
        await publisher?.close();
      }
    },
  };
}
