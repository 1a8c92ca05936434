import { ConnectorError, toErrorData, type ErrorCode } from '@businessos/connector-sdk';
import { storableJson, type OutboxEvent } from '@businessos/connector-triggers';
import { preparedStatement, type Db } from '../db/db.ts';
import { insertEvents, insertEventsCounted, type EventRowInput } from './pg-outbox.ts';

/** A delivery as it was stored (what ingress hands over, see {@link DeliveryProcessor.handOver}). */
export interface HandedDelivery {
  id: string;
  tenantId: string;
  subscriptionId: string;
  endpointId: string;
  dedupeKey: string;
  /** Lower-case names, as stored. */
  headers: Record<string, string>;
  query: Record<string, string>;
  rawBody: Buffer;
}

/** A stored delivery handed to the transform. */
export interface ClaimedDelivery extends HandedDelivery {
  /** This attempt's number, from 1. */
  attempt: number;
}

/** Options of {@link createDeliveryProcessor}. */
export interface DeliveryProcessorOptions {
  db: Db;
  /** Turns one delivery into event payloads (the connector's transform step in the sandbox). */
  transform(delivery: ClaimedDelivery): Promise<unknown[]>;
  /**
   * Turns deliveries of one endpoint (same subscription) into events in one go: one outcome per delivery, in order
   * (an array of events, or an Error for that delivery alone). A batch of a claim is grouped by endpoint and each
   * group goes here when it has more than one delivery; when a group's call rejects, its deliveries are transformed
   * one by one with `transform`, so one bad delivery cannot fail the others.
   */
  transformMany?: ((deliveries: ClaimedDelivery[]) => Promise<(unknown[] | Error)[]>) | undefined;
  /** Called with the events each batch inserted, after they are committed (pushing them to BullMQ). Must not throw. */
  publish?: ((events: OutboxEvent[]) => Promise<void>) | undefined;
  /** Deliveries claimed at a time (default 64). */
  batchSize?: number;
  /**
   * How long a delivery handed over by ingress stays claimed by this process, ms (default 10 s): the `claimForMs` its
   * delivery writer stores deliveries with (see {@link DeliveryProcessor.handOver}). One still waiting here after half
   * of it has its claim renewed (for `leaseMs`) before its transform, if nobody took it meanwhile.
   */
  handOverClaimMs?: number;
  /**
   * Most handed-over deliveries, and bytes of their bodies, kept in memory (default 10 000 and 64 MiB). Past that a
   * delivery handed over is kept by id only (up to 100 000 ids) and read back by primary key when its turn comes,
   * still under the claim it was stored with.
   */
  handOverLimits?: { deliveries?: number; bytes?: number };
  /** Transforms running at once within a batch (default 8). */
  concurrency?: number;
  /** How often stored deliveries are looked for without a wake-up, ms (default 500): other processes' deliveries, retries. */
  pollMs?: number;
  /** How long a claim keeps other processes off a delivery, ms (default 30 s): a killed process's claims are retried after it. */
  leaseMs?: number;
  /** Attempts before a delivery is marked failed (default 5). */
  maxAttempts?: number;
  /** Wait before attempt n + 1 after attempt n failed, ms (default 2 s × 4^(n-1), at most 10 min). */
  backoffMs?: (attempt: number) => number;
  /**
   * Share of the time the loop works while ingress is storing deliveries in this process (default 0.5; 1: never
   * yields): after a batch it rests `batch time × (1 − share) / share` (at most a second), so requests get the cores
   * first and the processor still gets at least this share. At full speed when no delivery arrived for 100 ms.
   */
  busyShare?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string, data?: Record<string, unknown>) => void;
}

/** Turns stored webhook deliveries into events in the background; see {@link createDeliveryProcessor}. */
export interface DeliveryProcessor {
  /** Starts the background loop (idempotent): a sweep now, then on every wake-up and every `pollMs`. */
  start(): void;
  /**
   * Says deliveries were stored: the loop runs soon (starting it if needed). With their ids, they are claimed by
   * primary key instead of through the pending index (cheaper while a busy endpoint leaves many processed rows behind).
   * `fromIngress: false` (announcements from the store, see delivery-notifications.ts): ids this process was already
   * given are ignored, no ids means "look for anything due", and the loop does not take it for ingress being busy.
   */
  wake(deliveryIds?: readonly string[], options?: { fromIngress?: boolean }): void;
  /**
   * Takes a delivery this process has just stored already claimed (attempt 1, see `handOverClaimMs`), with its
   * content: it is transformed without a claim statement and without reading it back. Past `handOverLimits` only its
   * id is kept and the row is read back when its turn comes. False when it was not taken (closed, or even the ids
   * are too many): the row then waits for its claim to run out and a sweep takes it.
   */
  handOver(delivery: HandedDelivery): boolean;
  /** Processes batches until none is due now; resolves to how many deliveries were settled (processed or given up). */
  drain(): Promise<number>;
  /** Stops the loop; the batch in hand finishes first. */
  close(): Promise<void>;
}

interface ClaimRow {
  id: string;
  tenant_id: string;
  subscription_id: string;
  endpoint_id: string;
  dedupe_key: string;
  headers: Record<string, string>;
  query: Record<string, string>;
  raw_body: Uint8Array;
  attempts: number;
}

// Trying again gives the same answer: the connector said so, or the subscription's connection is gone.
const PERMANENT: ReadonlySet<ErrorCode> = new Set(['INVALID_INPUT', 'INVALID_OUTPUT', 'NON_RETRYABLE', 'NOT_FOUND']);
const MAX_ERROR_TEXT = 1000;

// Ingress counts as busy while deliveries arrived within this long; a rest lasts at most MAX_REST_MS.
const INGRESS_QUIET_MS = 100;
const MAX_REST_MS = 1000;

/**
 * Most events one delivery may be turned into (more fails it with INVALID_OUTPUT). With HANDED_BATCH deliveries a
 * batch stays within what one transaction may insert (MAX_EVENTS_PER_INSERT).
 */
export const MAX_EVENTS_PER_DELIVERY = 1000;
/** Largest event payload, as JSON bytes (a 1 MiB body passed through, with room to spare); larger is INVALID_OUTPUT. */
export const MAX_EVENT_BYTES = 2 * 1024 * 1024;

/** Events of at most this many bytes (as JSON) are stored in one transaction; a batch with more takes several. */
const SETTLE_BYTES = 16 * 1024 * 1024;

/** What became of one delivery of a batch: its events, checked to be storable, or its error. */
type Settlement =
  | { delivery: ClaimedDelivery; rows: EventRowInput[]; bytes: number }
  | { delivery: ClaimedDelivery; error: string; final: boolean };

/** Deliveries of one endpoint transformed in one sandbox execution at most. */
const MAX_GROUP = 16;

// Handed-over deliveries: at most this many (or bytes of body) wait in memory; a batch takes at most HANDED_BATCH of
// them (more than a claim: no statement gets larger with it, and a busy endpoint's group grows) or HANDED_BATCH_BYTES.
const MAX_HANDED = 10_000;
const MAX_HANDED_BYTES = 64 * 1024 * 1024;
const HANDED_BATCH = 256;
const HANDED_BATCH_BYTES = 8 * 1024 * 1024;
// Ids of handed-over deliveries that did not fit in memory, read back by id (see handOverLimits).
const MAX_OVERFLOW_IDS = 100_000;

// What a claim reads back of each delivery (a ClaimRow).
const CLAIMED_COLUMNS = 'd.id::text, d.tenant_id::text, d.subscription_id::text, d.endpoint_id, d.dedupe_key, d.headers, d.query, d.raw_body, d.attempts';

// By id, the condition is spelled so the pending index cannot serve it: the planner then looks each id up by primary
// key, instead of walking the pending index past the entries processed rows leave until vacuum.
const claimSql = (pick: string) => `WITH async AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true) AS setting)
   UPDATE connectors.trigger_deliveries d
   SET attempts = d.attempts + 1, next_attempt_at = now() + $2 * interval '1 millisecond'
   FROM async
   WHERE async.setting = 'off' AND d.id IN (${pick})
   RETURNING ${CLAIMED_COLUMNS}`;
const CLAIM_BY_ID_SQL = preparedStatement('deliveries-claim-by-id', claimSql(`SELECT id FROM connectors.trigger_deliveries
   WHERE id = ANY($3::uuid[]) AND coalesce(processed_at, failed_at) IS NULL AND next_attempt_at <= now() LIMIT $1 FOR UPDATE SKIP LOCKED`));
const CLAIM_DUE_SQL = preparedStatement('deliveries-claim-due', claimSql(`SELECT id FROM connectors.trigger_deliveries
   WHERE processed_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now() ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED`));
// Handed-over deliveries kept by id only: read back and their claim renewed, only while it is still the claim they were
// stored with (attempt 1); `attempts` stays 1, this is still the first try.
const RECLAIM_HANDED_SQL = preparedStatement('deliveries-reclaim-handed', `WITH async AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true) AS setting)
   UPDATE connectors.trigger_deliveries d SET next_attempt_at = now() + $2 * interval '1 millisecond'
   FROM async
   WHERE async.setting = 'off' AND d.id IN (SELECT id FROM connectors.trigger_deliveries
     WHERE id = ANY($1::uuid[]) AND coalesce(processed_at, failed_at) IS NULL AND attempts = 1 FOR UPDATE SKIP LOCKED)
   RETURNING ${CLAIMED_COLUMNS}`);
// A handed-over delivery's claim, renewed only while it is still the claim it was stored with (attempt 1).
const RENEW_HANDED_SQL = preparedStatement('deliveries-renew-handed', `WITH async AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true) AS setting)
   UPDATE connectors.trigger_deliveries d SET next_attempt_at = now() + $2 * interval '1 millisecond'
   FROM async
   WHERE async.setting = 'off' AND d.id = ANY($1::uuid[]) AND d.attempts = 1 AND d.processed_at IS NULL AND d.failed_at IS NULL
   RETURNING d.id::text`);
const SETTLE_DONE_SQL = preparedStatement('deliveries-processed', 'UPDATE connectors.trigger_deliveries SET processed_at = now(), last_error = NULL WHERE id = ANY($1::uuid[]) AND processed_at IS NULL');

const defaultBackoff = (attempt: number) => Math.min(600_000, 2000 * 4 ** (attempt - 1));

/**
 * The delivery processor: webhook ingress answers once the raw delivery is committed, and this turns stored
 * deliveries into events, in the background of every service process (and any process that creates it).
 *
 * A batch is claimed in one statement (`FOR UPDATE SKIP LOCKED`, so processes never take the same rows, then a
 * lease: `next_attempt_at` moves `leaseMs` ahead and `attempts` counts up): deliveries it was woken with by primary
 * key, else the longest due through the pending index (a sweep: every `pollMs`, and whenever no ids are left). The
 * transforms run outside any transaction (a slow sandbox holds no locks and no transaction id back). Then one
 * transaction appends every event of the batch (keys `<dedupeKey>#<index>`, so a delivery transformed twice, after a
 * lease ran out, still yields its events once), marks those deliveries processed, and schedules failed ones again
 * with backoff, or marks them failed with their error once attempts run out or the connector says the delivery can
 * never be turned into events. A failed delivery's error is also shown on its subscription (`statusDetail`).
 * Deliveries a killed process had claimed are taken again when its lease ends; unclaimed ones left by it at the next
 * sweep. While ingress keeps waking it, it works at most `busyShare` of the time (see the option).
 */
export function createDeliveryProcessor(options: DeliveryProcessorOptions): DeliveryProcessor {
  const { db } = options;
  const batchSize = options.batchSize ?? 64;
  const concurrency = options.concurrency ?? 8;
  const pollMs = options.pollMs ?? 500;
  const leaseMs = options.leaseMs ?? 30_000;
  const maxAttempts = options.maxAttempts ?? 5;
  const backoff = options.backoffMs ?? defaultBackoff;
  const busyShare = Math.min(1, Math.max(0.05, options.busyShare ?? 0.5));
  const handOverClaimMs = options.handOverClaimMs ?? 10_000;
  const maxHanded = options.handOverLimits?.deliveries ?? MAX_HANDED;
  const maxHandedBytes = options.handOverLimits?.bytes ?? MAX_HANDED_BYTES;
  const log = options.log ?? (() => {});
  let started = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  // One loop at a time in this process; a wake-up during a run makes it go round again.
  let running: Promise<number> | undefined;
  let again = false;
  // Ids of deliveries this process stored and has not claimed yet (claimed by primary key, the cheap way); a sweep
  // through the pending index finds everything else: other processes' deliveries, retries, expired claims, and ids
  // dropped when this list was full.
  const fresh: string[] = [];
  const maxFresh = 10_000;
  // Ids given lately (oldest first), so an announcement of this process's own deliveries adds no second claim.
  const given = new Set<string>();
  let sweepDue = true;
  // Deliveries ingress handed over (stored already claimed by this process), oldest first, with when they came.
  const handed: { delivery: ClaimedDelivery; at: number }[] = [];
  let kickScheduled = false;
  let handedBytes = 0;
  // Ids of deliveries handed over past maxHanded / maxHandedBytes, oldest first.
  const overflow: string[] = [];
  // When ingress last handed over delivery ids, and how to cut a rest short (close).
  let lastWokenAt = -Infinity;
  let endRest: (() => void) | undefined;

  /** After a batch that took `ms`, while ingress is busy: leave the cores to it for a while. */
  async function yieldToIngress(ms: number): Promise<void> {
    if (busyShare >= 1 || closed || performance.now() - lastWokenAt > INGRESS_QUIET_MS) return;
    const rest = Math.min(MAX_REST_MS, (ms * (1 - busyShare)) / busyShare);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, rest);
      endRest = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    endRest = undefined;
  }

  /**
   * Claims due deliveries: those among `ids` (looked up by primary key), or else the longest due (through the pending
   * index). The claim commits without waiting for its WAL flush (synchronous_commit off for this one statement): a
   * claim lost in a crash only lets the delivery be taken again at once, which the event keys make harmless.
   */
  async function claim(ids?: readonly string[]): Promise<ClaimedDelivery[]> {
    const { rows } = await db.query<ClaimRow>(ids ? CLAIM_BY_ID_SQL : CLAIM_DUE_SQL, ids ? [batchSize, leaseMs, ids] : [batchSize, leaseMs]);
    return rows.map(claimedOf);
  }

  /** Handed-over deliveries kept by id: read back, if their first claim is still theirs (nobody took them since). */
  async function reclaimHanded(ids: readonly string[]): Promise<ClaimedDelivery[]> {
    const { rows } = await db.query<ClaimRow>(RECLAIM_HANDED_SQL, [ids, leaseMs]);
    return rows.map(claimedOf);
  }

  function claimedOf(r: ClaimRow): ClaimedDelivery {
    return {
      id: r.id,
      tenantId: r.tenant_id,
      subscriptionId: r.subscription_id,
      endpointId: r.endpoint_id,
      dedupeKey: r.dedupe_key,
      headers: r.headers,
      query: r.query,
      rawBody: Buffer.from(r.raw_body),
      attempt: r.attempts,
    };
  }

  /**
   * The oldest handed-over deliveries. Those that waited past half their claim (a backlog) get their claim renewed
   * first, in one statement without their content, and only if it is still the claim they were stored with
   * (`attempts` 1): once it ran out, another process may have taken one, and then it is that process's.
   */
  async function takeHanded(): Promise<ClaimedDelivery[]> {
    const oldest = performance.now() - handOverClaimMs / 2;
    const current: ClaimedDelivery[] = [];
    const stale: ClaimedDelivery[] = [];
    let bytes = 0;
    let taken = 0;
    for (const entry of handed) {
      if (taken >= HANDED_BATCH || (taken > 0 && bytes + entry.delivery.rawBody.byteLength > HANDED_BATCH_BYTES)) break;
      taken += 1;
      bytes += entry.delivery.rawBody.byteLength;
      (entry.at < oldest ? stale : current).push(entry.delivery);
    }
    handed.splice(0, taken);
    handedBytes -= bytes;
    if (stale.length === 0) return current;
    const { rows } = await db.query<{ id: string }>(RENEW_HANDED_SQL, [stale.map((d) => d.id), leaseMs]);
    const renewed = new Set(rows.map((r) => r.id));
    return [...current, ...stale.filter((d) => renewed.has(d.id))];
  }

  /**
   * The next batch: deliveries handed over, else those this process stored, while it knows of some and no sweep is
   * due; else a sweep (every `pollMs`, so retries and other processes' deliveries are never starved by a busy ingress).
   */
  function claimNext(): Promise<ClaimedDelivery[]> {
    if (!sweepDue) {
      if (handed.length > 0) return takeHanded();
      if (overflow.length > 0) return reclaimHanded(overflow.splice(0, batchSize));
      if (fresh.length > 0) return claim(fresh.splice(0, batchSize));
    }
    sweepDue = false;
    return claim();
  }

  async function transformOne(delivery: ClaimedDelivery): Promise<unknown[] | Error> {
    try {
      const events = await options.transform(delivery);
      return Array.isArray(events) ? events : new ConnectorError('INVALID_OUTPUT', `the transform returned ${typeof events}, not an array of events`);
    } catch (error) {
      return error instanceof Error ? error : new Error(toErrorData(error).message);
    }
  }

  /** A group of one endpoint's deliveries: in one call when possible, else (or when that call fails) one by one. */
  async function transformGroup(group: ClaimedDelivery[]): Promise<(unknown[] | Error)[]> {
    if (group.length > 1 && options.transformMany) {
      try {
        const outcomes = await options.transformMany(group);
        if (outcomes.length === group.length) return outcomes.map((o) => (o instanceof Error || Array.isArray(o) ? o : new ConnectorError('INVALID_OUTPUT', 'the transform returned something other than an array of events')));
        log('warn', 'a batch transform answered the wrong number of outcomes; transforming its deliveries one by one', { expected: group.length, got: outcomes.length });
      } catch (error) {
        log('warn', 'a batch transform failed as a whole; transforming its deliveries one by one', { deliveries: group.length, error: toErrorData(error).message });
      }
    }
    const out: (unknown[] | Error)[] = [];
    for (const delivery of group) out.push(await transformOne(delivery));
    return out;
  }

  async function transformAll(batch: ClaimedDelivery[]): Promise<(unknown[] | Error)[]> {
    const results: (unknown[] | Error)[] = new Array(batch.length);
    // Without a batch transform every delivery is its own group, so `concurrency` of them run at once as before.
    const groups = new Map<string, number[]>();
    batch.forEach((delivery, i) => {
      const key = options.transformMany ? `${delivery.endpointId}\u0000${delivery.subscriptionId}` : String(i);
      const indexes = groups.get(key);
      if (indexes) indexes.push(i);
      else groups.set(key, [i]);
    });
    // At most MAX_GROUP per sandbox call: transforms that call the provider's API must all fit in one deadline.
    const queue = [...groups.values()].flatMap((indexes) => Array.from({ length: Math.ceil(indexes.length / MAX_GROUP) }, (_, k) => indexes.slice(k * MAX_GROUP, (k + 1) * MAX_GROUP)));
    let next = 0;
    const lane = async () => {
      while (next < queue.length) {
        const indexes = queue[next++]!;
        const outcomes = await transformGroup(indexes.map((i) => batch[i]!));
        indexes.forEach((at, k) => (results[at] = outcomes[k]!));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, lane));
    return results;
  }

  /**
   * The rows of a delivery's events, each checked to be storable (so a payload the store would refuse fails its own
   * delivery, not the transaction of the whole batch), or INVALID_OUTPUT saying what is wrong.
   */
  function checkedEvents(delivery: ClaimedDelivery, payloads: unknown[]): { rows: EventRowInput[]; bytes: number } | ConnectorError {
    if (payloads.length > MAX_EVENTS_PER_DELIVERY) {
      return new ConnectorError('INVALID_OUTPUT', `the transform turned one delivery into ${payloads.length} events, more than the ${MAX_EVENTS_PER_DELIVERY} allowed; return fewer, larger events`);
    }
    const rows: EventRowInput[] = [];
    let bytes = 0;
    for (const [n, payload] of payloads.entries()) {
      const stored = storableJson(payload, MAX_EVENT_BYTES);
      if (!stored.ok) return new ConnectorError('INVALID_OUTPUT', `event ${n} of the transform (at /${n}${stored.path}) cannot be stored: ${stored.problem}`, { path: `/${n}${stored.path}` });
      bytes += stored.bytes;
      rows.push({ tenantId: delivery.tenantId, subscriptionId: delivery.subscriptionId, deliveryId: delivery.id, key: `${delivery.dedupeKey}#${n}`, payload, payloadJson: stored.json });
    }
    return { rows, bytes };
  }

  /** A failed attempt at a delivery: final when the error says retrying cannot help, or attempts ran out. */
  function failure(delivery: ClaimedDelivery, error: unknown): Settlement {
    const data = toErrorData(error);
    const final = PERMANENT.has(data.code) || delivery.attempt >= maxAttempts;
    // A text column cannot hold NUL either, and the message may quote what the connector or provider sent.
    return { delivery, error: `${data.code}: ${data.message}`.replaceAll('\u0000', '\\u0000').slice(0, MAX_ERROR_TEXT), final };
  }

  /** Stores settlements in one transaction: their events appended, their deliveries marked processed or failed. */
  async function settle(settlements: Settlement[]): Promise<number> {
    const events: EventRowInput[] = [];
    const done: string[] = [];
    const failures: Extract<Settlement, { error: string }>[] = [];
    for (const s of settlements) {
      if ('rows' in s) {
        done.push(s.delivery.id);
        events.push(...s.rows);
      } else failures.push(s);
    }
    const { publish } = options;
    const inserted = await db.transaction(async (tx) => {
      // The inserted events travel back only when they are to be published.
      const out = publish ? await insertEvents(tx, events) : await insertEventsCounted(tx, events);
      if (done.length > 0) {
        await tx.query(SETTLE_DONE_SQL, [done]);
      }
      if (failures.length > 0) {
        await tx.query(
          `UPDATE connectors.trigger_deliveries d
           SET last_error = u.error,
               failed_at = CASE WHEN u.final THEN now() END,
               next_attempt_at = CASE WHEN u.final THEN d.next_attempt_at ELSE now() + u.wait * interval '1 millisecond' END
           FROM unnest($1::uuid[], $2::text[], $3::boolean[], $4::float8[]) AS u(id, error, final, wait)
           WHERE d.id = u.id AND d.processed_at IS NULL`,
          [failures.map((f) => f.delivery.id), failures.map((f) => f.error), failures.map((f) => f.final), failures.map((f) => (f.final ? 0 : backoff(f.delivery.attempt)))],
        );
        const given = failures.filter((f) => f.final);
        if (given.length > 0) {
          await tx.query(
            `UPDATE connectors.trigger_subscriptions s SET status_detail = u.detail, updated_at = now()
             FROM unnest($1::uuid[], $2::text[]) AS u(id, detail) WHERE s.id = u.id`,
            [given.map((f) => f.delivery.subscriptionId), given.map((f) => `Delivery ${f.delivery.id} could not be turned into events after ${f.delivery.attempt} attempt(s): ${f.error}`.slice(0, MAX_ERROR_TEXT))],
          );
        }
      }
      return out;
    });
    for (const f of failures) {
      log(f.final ? 'error' : 'warn', f.final ? 'webhook delivery failed for good' : 'webhook delivery transform failed; retrying', { delivery: f.delivery.id, attempt: f.delivery.attempt, error: f.error });
    }
    // Committed: a failing push must not make the caller store these deliveries again (they stay readable anyway).
    if (publish && Array.isArray(inserted) && inserted.length > 0) {
      await publish(inserted).catch((error: unknown) => log('warn', 'events stored but not published', { events: inserted.length, error: toErrorData(error).message }));
    }
    return done.length + failures.filter((f) => f.final).length;
  }

  /**
   * {@link settle}, and when that transaction fails as a whole (the store refused something no check foresaw), the
   * same one delivery at a time: a delivery whose events still cannot be stored then counts as a failed attempt with
   * the store's error, so it can neither hold the others back nor be claimed again forever. Rejects only when even
   * that cannot be recorded (the store is down): the claims then run out and the deliveries are taken again.
   */
  async function settleApart(settlements: Settlement[]): Promise<number> {
    try {
      return await settle(settlements);
    } catch (error) {
      const only = settlements[0];
      if (settlements.length > 1) {
        log('warn', 'storing a batch of webhook deliveries failed; storing them one by one', { deliveries: settlements.length, error: toErrorData(error).message });
        let settled = 0;
        for (const s of settlements) settled += await settleApart([s]);
        return settled;
      }
      if (!only || !('rows' in only)) throw error;
      return settle([failure(only.delivery, error)]);
    }
  }

  /** Claims, transforms and settles one batch: how many were claimed (0: nothing was due) and settled. */
  async function runBatch(): Promise<{ claimed: number; settled: number }> {
    const batch = await claimNext();
    if (batch.length === 0) return { claimed: 0, settled: 0 };
    const results = await transformAll(batch);
    // Settled in transactions of at most SETTLE_BYTES of events, so a batch of large events is not one huge statement.
    const parts: Settlement[][] = [[]];
    let bytes = 0;
    batch.forEach((delivery, i) => {
      const result = results[i]!;
      const rows = Array.isArray(result) ? checkedEvents(delivery, result) : result;
      const settlement: Settlement = rows instanceof Error ? failure(delivery, rows) : { delivery, ...rows };
      const size = 'bytes' in settlement ? settlement.bytes : 0;
      if (bytes > 0 && bytes + size > SETTLE_BYTES) {
        parts.push([]);
        bytes = 0;
      }
      parts.at(-1)!.push(settlement);
      bytes += size;
    });
    let settled = 0;
    for (const part of parts) settled += await settleApart(part);
    return { claimed: batch.length, settled };
  }

  function runLoop(): Promise<number> {
    running ??= (async () => {
      let settled = 0;
      do {
        again = false;
        for (;;) {
          const began = performance.now();
          const n = await runBatch();
          settled += n.settled;
          if (n.claimed > 0) await yieldToIngress(performance.now() - began);
          if ((n.claimed === 0 && fresh.length === 0 && handed.length === 0 && overflow.length === 0) || closed) break;
        }
      } while (again && !closed);
      return settled;
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  function kick(): void {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    void runLoop().catch((error: unknown) => log('error', 'processing stored webhook deliveries failed; retrying at the next sweep', { error: toErrorData(error).message }));
  }

  /**
   * kick() once the current turn of the event loop is done: ingress hands over every delivery of a stored batch one
   * after another, and a loop started by the first would take that one alone (a sandbox execution of its own).
   */
  function kickSoon(): void {
    if (running) {
      again = true;
      return;
    }
    if (kickScheduled) return;
    kickScheduled = true;
    setImmediate(() => {
      kickScheduled = false;
      kick();
    });
  }

  return {
    start() {
      if (started || closed) return;
      started = true;
      timer = setInterval(() => {
        sweepDue = true;
        kick();
      }, pollMs);
      timer.unref();
      kickSoon();
    },
    wake(deliveryIds, wakeOptions) {
      const fromIngress = wakeOptions?.fromIngress ?? true;
      if (deliveryIds && deliveryIds.length > 0) {
        if (fromIngress) lastWokenAt = performance.now();
        for (const id of deliveryIds) {
          if (given.has(id)) continue;
          given.add(id);
          if (given.size > maxFresh * 2) given.delete(given.values().next().value!);
          if (fresh.length < maxFresh) fresh.push(id);
        }
      } else if (!fromIngress) {
        sweepDue = true;
      }
      if (!started) this.start();
      else kick();
    },
    handOver(delivery) {
      const bytes = delivery.rawBody.byteLength;
      if (closed) return false;
      const now = performance.now();
      // Once ids are waiting, later deliveries wait behind them, so they are taken in the order they came.
      if (overflow.length > 0 || handed.length >= maxHanded || handedBytes + bytes > maxHandedBytes) {
        if (overflow.length >= MAX_OVERFLOW_IDS) return false;
        overflow.push(delivery.id);
      } else {
        const { id, tenantId, subscriptionId, endpointId, dedupeKey, headers, query, rawBody } = delivery;
        handed.push({ delivery: { id, tenantId, subscriptionId, endpointId, dedupeKey, headers, query, rawBody, attempt: 1 }, at: now });
        handedBytes += bytes;
      }
      lastWokenAt = now;
      if (started) kickSoon();
      else this.start();
      return true;
    },
    async drain() {
      // A loop in progress may have started before the deliveries the caller cares about: run one of our own after it.
      const before = await (running ?? Promise.resolve(0)).catch(() => 0);
      return before + (await runLoop());
    },
    async close() {
      closed = true;
      // What is still handed over stays claimed in the store until its claim runs out; then any process's sweep takes it.
      handed.length = 0;
      handedBytes = 0;
      overflow.length = 0;
      endRest?.();
      if (timer) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => 0);
    },
  };
}
