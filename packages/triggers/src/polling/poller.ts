import { ConnectorError, toErrorData, type ErrorData, type LogLevel, type TriggerManifest } from '@businessos/connector-sdk';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import { storableJson } from '../outbox/storable-json.ts';
import type { EventOutbox, OutboxEventInput } from '../outbox/types.ts';
import { itemHash, itemId, itemTimestamp } from './item-keys.ts';
import type { PollState, PollStateStore } from './state-store.ts';

/** A polling subscription as the engine needs it. */
export interface PollSubscription {
  id: string;
  tenantId: string;
  /** The trigger's manifest entry; `polling.intervalSeconds` and `polling.dedupe` drive the engine. */
  trigger: Pick<TriggerManifest, 'name' | 'polling'>;
  /** Overrides the manifest interval (plans with faster polling, tests), milliseconds. */
  intervalMs?: number | undefined;
}

/** What the connector's poll returns: new-ish items and its next state. */
export interface PollRunResult {
  items: unknown[];
  state: unknown;
}

/** Runs the connector's poll step (in the sandbox: `executeTrigger(trigger, 'poll', cursor, env)`). */
export type RunPoll = (subscription: PollSubscription, cursor: unknown) => Promise<PollRunResult>;

export interface PollerOptions {
  runPoll: RunPoll;
  stateStore: PollStateStore;
  /** Where new items go; only `appendEvents` is used (a wrapper may refuse, e.g. when the subscription stopped). */
  outbox: Pick<EventOutbox, 'appendEvents'>;
  clock?: Clock;
  /**
   * Called once when a subscription's polls failed with AUTH_FAILED / AUTH_EXPIRED `authFailureThreshold` times
   * in a row: mark the connection as needing reconnection and stop scheduling it. When it throws, it is called
   * again at the next auth failure (with the count so far), until it succeeds once.
   */
  onAuthFailure?: (subscription: PollSubscription, error: ErrorData, consecutiveFailures: number) => void | Promise<void>;
  /** Consecutive auth failures before `onAuthFailure` (default 3). */
  authFailureThreshold?: number;
  /** Longest wait after failures (default 1 h). The wait doubles from one interval per consecutive failure. */
  maxBackoffMs?: number;
  /**
   * Ids remembered for `dedupe.by: 'id'` (default 10 000). The latest page's ids are kept as the most recent, so
   * only ids the API stopped returning are forgotten; keep it above the largest page a trigger returns.
   */
  maxSeenIds?: number;
  /** Longest a connector's poll may run before it counts as failed with TIMEOUT (default 5 min). */
  pollTimeoutMs?: number;
  /** Largest connector state, as JSON bytes, a poll may return (default 1 MiB); larger is INVALID_OUTPUT. */
  maxCursorBytes?: number;
  /**
   * `dedupe.by: 'timestamp'`: how far past this poller's clock an item's timestamp may lie and still raise the
   * high-water mark (default 5 min: provider clocks that run a little ahead). An item dated further ahead (a
   * scheduled item, a wrong clock, a year-2099 typo) is still emitted once, but the mark stays at most this far
   * ahead of the clock, so the real items dated before it keep coming; its key is remembered (`keysAhead`) until
   * the mark passes its timestamp. To compare with the clock, a timestamp below 1e11 counts as Unix seconds, below
   * 1e14 as epoch ms, below 1e17 as microseconds and any larger as nanoseconds (ISO dates are read as ms): 1e11
   * seconds is the year 5138, 1e11 ms is March 1973.
   */
  futureAllowanceMs?: number;
  log?: (level: LogLevel, message: string, data?: unknown) => void;
}

export interface PollOutcome {
  /** `baseline`: first poll, nothing emitted; `polled`: success; `backoff`: skipped, still waiting after failures. */
  status: 'baseline' | 'polled' | 'backoff' | 'failed';
  /** Events appended to the outbox by this poll. */
  emitted: number;
  /** When this subscription should be polled next (epoch ms). */
  nextRunAt: number;
  error?: ErrorData;
}

/** Options of one {@link Poller.pollOnce}. */
export interface PollOnceOptions {
  /**
   * Aborted when the caller lost the right to this poll (its subscription's lock expired): the poll then appends
   * no events and saves no state, which a newer poll of another worker may own by now.
   */
  signal?: AbortSignal | undefined;
}

/** Runs one poll of a subscription at a time: dedupe, baseline, outbox, state, backoff. Schedulers call it. */
export interface Poller {
  pollOnce(subscription: PollSubscription, options?: PollOnceOptions): Promise<PollOutcome>;
  /** The subscription's interval in ms. */
  intervalMs(subscription: PollSubscription): number;
}

const MIN_INTERVAL_MS = 100;

function emptyState(): PollState {
  return { version: 1, cursor: undefined, baselined: false, seenIds: [], keysAtHighWater: [], keysAhead: [], failures: 0, authFailures: 0 };
}

/**
 * Item timestamps are plain numbers in the provider's unit, compared with each other as they are. Only to compare
 * one with the clock: below this it is Unix seconds, from it on epoch ms (1e11 s is the year 5138, 1e11 ms March
 * 1973, so neither unit's plausible dates fall on the wrong side).
 */
const SECONDS_BELOW = 1e11;
// Above these, a number is microseconds, then nanoseconds (1e14 ms is the year 5138; 1e17 µs the same).
const MICROS_FROM = 1e14;
const NANOS_FROM = 1e17;
/** How many of the timestamp's units make one epoch ms (seconds: 1/1000). */
const unitsPerMs = (timestamp: number): number => {
  const size = Math.abs(timestamp);
  if (size < SECONDS_BELOW) return 0.001;
  if (size < MICROS_FROM) return 1;
  return size < NANOS_FROM ? 1000 : 1_000_000;
};
const toEpochMs = (timestamp: number): number => timestamp / unitsPerMs(timestamp);
/** Epoch ms `ms` in the unit of `like` (see {@link SECONDS_BELOW}). */
const inUnitOf = (ms: number, like: number): number => Math.floor(ms * unitsPerMs(like));
/** The timestamp inside a `ts:<timestamp>:<hash>` key, as `candidates` makes them (NaN for any other key). */
const keyTimestamp = (key: string): number => (key.startsWith('ts:') ? Number(key.slice(3, key.lastIndexOf(':'))) : Number.NaN);

interface Candidate {
  key: string;
  item: unknown;
  timestamp?: number;
}

/**
 * The connector's state as the stores keep it (JSON), so every store hands the same cursor back. Refused before
 * anything is emitted when it is not JSON, too large, or holds what a store cannot keep (a NUL character): saving it
 * would fail after the events were stored, and the subscription would never get past its baseline.
 */
function jsonCursor(sub: PollSubscription, state: unknown, maxBytes: number): unknown {
  if (state === undefined) return undefined;
  const stored = storableJson(state, maxBytes);
  if (!stored.ok) {
    throw new ConnectorError('INVALID_OUTPUT', `poll of trigger ${sub.trigger.name} returned a state that cannot be kept (at /state${stored.path}): ${stored.problem}; keep only a cursor in it, not the items`, { path: `/state${stored.path}` });
  }
  return JSON.parse(stored.json) as unknown;
}

/** New items are appended this many at a time at most: one append is one transaction, whose size the store bounds. */
const APPEND_PART = 10_000;

/** Text any store keeps: NUL characters escaped, lone surrogates replaced (error messages may quote provider data). */
const keepable = (text: string): string => text.replaceAll('\u0000', '\\u0000').replace(/\p{Surrogate}/gu, '\ufffd');

/** The poll's result, or TIMEOUT after `ms`: a poll that hangs must not hold its subscription (and lock) forever. */
async function withDeadline<T>(work: Promise<T>, ms: number, sub: PollSubscription): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ConnectorError('TIMEOUT', `poll of trigger ${sub.trigger.name} took longer than ${ms} ms; it is retried after a backoff`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates the polling engine. Per poll: skip while backing off; run the connector's poll with its last state;
 * on the first poll record what exists (ids, or the newest timestamp and the items at it) and emit nothing;
 * later, emit only items not seen (by id, or with a timestamp above the high-water mark, or equal to it but not
 * seen at it; the mark never runs more than `futureAllowanceMs` ahead of the clock); append them to the outbox with
 * stable keys, and only then save the new state. A crash between the two re-polls the same items next time and
 * the outbox stores them once: at least once, never lost.
 */
export function createPoller(options: PollerOptions): Poller {
  const clock = options.clock ?? systemClock;
  const threshold = options.authFailureThreshold ?? 3;
  const maxBackoff = options.maxBackoffMs ?? 3_600_000;
  const maxSeen = options.maxSeenIds ?? 10_000;
  const pollTimeout = options.pollTimeoutMs ?? 300_000;
  const maxCursorBytes = options.maxCursorBytes ?? 1_048_576;
  const futureAllowance = options.futureAllowanceMs ?? 300_000;
  const log = options.log ?? (() => undefined);

  const intervalMs = (sub: PollSubscription): number => {
    const polling = sub.trigger.polling;
    if (!polling) throw new ConnectorError('INVALID_INPUT', `Trigger ${sub.trigger.name} of subscription ${sub.id} is not a polling trigger`, { path: '/trigger/polling' });
    return Math.max(MIN_INTERVAL_MS, sub.intervalMs ?? polling.intervalSeconds * 1000);
  };

  function candidates(sub: PollSubscription, items: unknown[]): Candidate[] {
    const dedupe = sub.trigger.polling?.dedupe ?? { by: 'id' as const, path: '/id' };
    const out: Candidate[] = [];
    const inBatch = new Set<string>();
    for (const [index, item] of items.entries()) {
      const stored = storableJson(item);
      if (!stored.ok) {
        // Failing the poll instead would fail every later poll too, as long as the API returns this item.
        log('warn', `poll of ${sub.trigger.name}: item ${index} cannot be stored (at ${stored.path || '/'}: ${keepable(stored.problem)}); it is skipped`, { subscription: sub.id });
        continue;
      }
      let c: Candidate;
      if (dedupe.by === 'timestamp') {
        const ts = itemTimestamp(item, dedupe.path);
        if (ts === undefined) {
          log('warn', `poll of ${sub.trigger.name}: an item has no readable timestamp at ${dedupe.path}; it is skipped`, { subscription: sub.id });
          continue;
        }
        c = { key: `ts:${ts}:${itemHash(item)}`, item, timestamp: ts };
      } else {
        const id = itemId(item, dedupe.path);
        c = { key: id === undefined ? `hash:${itemHash(item)}` : `id:${id}`, item };
      }
      if (inBatch.has(c.key)) continue;
      inBatch.add(c.key);
      out.push(c);
    }
    return out;
  }

  /** Splits candidates into the new ones and the next dedupe state. */
  function select(sub: PollSubscription, state: PollState, found: Candidate[], baseline: boolean, now: number): { fresh: Candidate[]; next: Pick<PollState, 'seenIds' | 'highWater' | 'keysAtHighWater' | 'keysAhead'> } {
    if (sub.trigger.polling?.dedupe.by === 'timestamp') {
      const limitMs = now + futureAllowance;
      const isAhead = (timestamp: number): boolean => toEpochMs(timestamp) > limitMs;
      let hw = state.highWater;
      let atHw = new Set(state.keysAtHighWater);
      if (hw !== undefined && isAhead(hw)) {
        // A mark raised into the future by an earlier version of this engine (or our clock went back): left there,
        // it would hide every real item until that date. Pulled back to now, not further (what lies below it was
        // seen or is lost either way); items above it are offered again with the keys they had, which the outbox
        // stores once.
        log('warn', `poll of ${sub.trigger.name}: the high-water mark ${hw} lies in the future; it is moved back to now`, { subscription: sub.id });
        hw = inUnitOf(now, hw);
        atHw = new Set();
      }
      // Items emitted while dated ahead: not new again, whatever the clock says now, until the mark passes them.
      const before = state.keysAhead ?? [];
      const emittedAhead = new Set(before);
      const isNew = (c: Candidate): boolean => {
        const ts = c.timestamp ?? 0;
        return !emittedAhead.has(c.key) && (hw === undefined || ts > hw || (ts === hw && !atHw.has(c.key)));
      };
      const fresh = baseline ? [] : found.filter(isNew);
      const considered = baseline ? found : fresh;
      // Only items dated up to now + allowance move the mark; the others are remembered by key instead.
      const behind = considered.filter((c) => !isAhead(c.timestamp ?? 0));
      let next = hw;
      for (const c of behind) if (next === undefined || (c.timestamp ?? 0) > next) next = c.timestamp;
      const keys = next === hw ? [...atHw] : [];
      const keySet = new Set(keys);
      for (const c of behind) if (c.timestamp === next && !keySet.has(c.key)) { keys.push(c.key); keySet.add(c.key); }
      // Never forget a key at the mark that this page still returned: it would come back as new next time.
      const inPage = found.filter((c) => c.timestamp === next).length;
      // A key is kept while its timestamp is at or above the mark (at the mark it is not in keysAtHighWater). The
      // keys this page returned go last, so the bound forgets the ones the API stopped returning first.
      const pageKeys = new Set(found.map((c) => c.key));
      const kept = before.filter((k) => next === undefined || keyTimestamp(k) >= next);
      const added = considered.filter((c) => isAhead(c.timestamp ?? 0) && !emittedAhead.has(c.key)).map((c) => c.key);
      const ahead = [...kept.filter((k) => !pageKeys.has(k)), ...kept.filter((k) => pageKeys.has(k)), ...added];
      const aheadInPage = ahead.filter((k) => pageKeys.has(k)).length;
      return {
        fresh,
        next: { seenIds: state.seenIds, highWater: next, keysAtHighWater: keys.slice(-Math.max(maxSeen, inPage)), keysAhead: ahead.slice(-Math.max(maxSeen, aheadInPage)) },
      };
    }
    const seen = new Set(state.seenIds);
    const fresh = baseline ? [] : found.filter((c) => !seen.has(c.key));
    // The page's keys go last (most recent), so the bound drops ids the API stopped returning before the ones it
    // still returns: a baseline item is not in the outbox, and forgetting it would emit it as new.
    const inPage = new Set(found.map((c) => c.key));
    if (inPage.size > maxSeen) {
      log('warn', `poll of ${sub.trigger.name} returned ${inPage.size} items, more than the ${maxSeen} ids remembered; older ones may be emitted again`, { subscription: sub.id });
    }
    const seenIds = [...state.seenIds.filter((k) => !inPage.has(k)), ...inPage].slice(-maxSeen);
    return { fresh, next: { seenIds, highWater: state.highWater, keysAtHighWater: state.keysAtHighWater, keysAhead: state.keysAhead } };
  }

  /** Why a poll whose lock was lost stopped: nothing of it is stored (see {@link PollOnceOptions.signal}). */
  const lockLost = (sub: PollSubscription): ConnectorError =>
    new ConnectorError('CONFLICT', `poll of trigger ${sub.trigger.name} (subscription ${sub.id}) lost its lock while it ran; it stored nothing more, and the next poll goes on from the last saved state`);

  async function fail(sub: PollSubscription, state: PollState, error: unknown, now: number, interval: number, signal?: AbortSignal): Promise<PollOutcome> {
    if (signal?.aborted) {
      // The state may be a newer poll's by now: this poll's failure is not recorded over it.
      const lost = toErrorData(lockLost(sub));
      log('warn', lost.message, { subscription: sub.id });
      return { status: 'failed', emitted: 0, nextRunAt: now + interval, error: lost };
    }
    const raw = toErrorData(error);
    // Saved with the state: it must be storable, or the failure itself could not be recorded.
    const data: ErrorData = storableJson(raw).ok ? raw : { code: raw.code, message: keepable(raw.message) };
    const isAuth = data.code === 'AUTH_FAILED' || data.code === 'AUTH_EXPIRED';
    const failures = state.failures + 1;
    const authFailures = isAuth ? state.authFailures + 1 : 0;
    // A provider's Retry-After (seconds) is honoured when longer than our own backoff, within the same cap.
    const retryAfterMs = typeof data.retryAfter === 'number' && Number.isFinite(data.retryAfter) ? data.retryAfter * 1000 : 0;
    const wait = Math.min(maxBackoff, Math.max(interval * 2 ** Math.min(failures, 30), retryAfterMs));
    const nextAttemptAt = now + wait;
    // The cursor and dedupe state stay as they were: only the failure bookkeeping changes.
    const failed: PollState = { ...state, failures, authFailures, authReported: isAuth && state.authFailures > 0 && state.authReported === true ? true : undefined, nextAttemptAt, lastError: data };
    await options.stateStore.save(sub.id, failed);
    log('warn', `poll of ${sub.trigger.name} failed (${data.code}): ${data.message}; next attempt in ${Math.round(wait / 1000)} s`, { subscription: sub.id, failures });
    // `>=` with the flag, not `=== threshold`: a hook that failed at the threshold (the store briefly down) would
    // otherwise never run again, and a revoked key would be polled every backoff for ever, the connection unmarked.
    if (isAuth && authFailures >= threshold && !failed.authReported && options.onAuthFailure) {
      try {
        await options.onAuthFailure(sub, data, authFailures);
        await options.stateStore.save(sub.id, { ...failed, authReported: true });
      } catch (hookError) {
        log('error', `onAuthFailure for subscription ${sub.id} threw: ${toErrorData(hookError).message}; it is tried again at the next auth failure`);
      }
    }
    return { status: 'failed', emitted: 0, nextRunAt: nextAttemptAt, error: data };
  }

  async function pollOnce(sub: PollSubscription, pollOptions: PollOnceOptions = {}): Promise<PollOutcome> {
    const { signal } = pollOptions;
    const interval = intervalMs(sub);
    const now = clock.now();
    const state = (await options.stateStore.load(sub.id)) ?? emptyState();
    if (state.nextAttemptAt !== undefined && state.nextAttemptAt > now) {
      return { status: 'backoff', emitted: 0, nextRunAt: state.nextAttemptAt };
    }
    let result: PollRunResult;
    let cursor: unknown;
    try {
      result = await withDeadline(options.runPoll(sub, state.cursor), pollTimeout, sub);
      if (!result || !Array.isArray(result.items)) {
        throw new ConnectorError('INVALID_OUTPUT', `poll of trigger ${sub.trigger.name} must return { items: [], state }`);
      }
      cursor = jsonCursor(sub, result.state, maxCursorBytes);
    } catch (error) {
      return fail(sub, state, error, now, interval, signal);
    }
    const baseline = !state.baselined;
    // The clock after the poll: an item the provider dated while a long poll ran is not ahead of it.
    const { fresh, next } = select(sub, state, candidates(sub, result.items), baseline, clock.now());
    let emitted = 0;
    if (fresh.length > 0) {
      const events: OutboxEventInput[] = fresh.map((c) => (c.timestamp === undefined ? { key: c.key, payload: c.item } : { key: c.key, payload: c.item, occurredAt: c.timestamp }));
      try {
        // Parts committed before a failing one are stored again, once, by the next poll (their keys are stable).
        for (let at = 0; at < events.length; at += APPEND_PART) {
          if (signal?.aborted) throw lockLost(sub);
          emitted += (await options.outbox.appendEvents({ tenantId: sub.tenantId, subscriptionId: sub.id }, events.slice(at, at + APPEND_PART))).length;
        }
      } catch (error) {
        return fail(sub, state, error, now, interval, signal);
      }
    }
    if (signal?.aborted) return fail(sub, state, lockLost(sub), now, interval, signal);
    const saved: PollState = {
      ...state,
      ...next,
      version: 1,
      cursor,
      baselined: true,
      failures: 0,
      authFailures: 0,
      authReported: undefined,
      nextAttemptAt: undefined,
      lastError: undefined,
      lastSuccessAt: now,
    };
    await options.stateStore.save(sub.id, saved);
    return { status: baseline ? 'baseline' : 'polled', emitted, nextRunAt: now + interval };
  }

  return { pollOnce, intervalMs };
}
