import type { ErrorData } from '@businessos/connector-sdk';
import type { Redis } from 'ioredis';

/**
 * What the polling engine keeps per subscription between polls. The connector's own state is `cursor`; the rest
 * is the engine's dedupe and failure bookkeeping. Plain JSON.
 */
export interface PollState {
  version: 1;
  /** The state the connector's poll returned last time (passed back to the next poll). */
  cursor: unknown;
  /** Set once the first poll recorded the existing items. */
  baselined: boolean;
  /** `dedupe.by: 'id'`: ids already seen, oldest first, bounded. */
  seenIds: string[];
  /** `dedupe.by: 'timestamp'`: the largest timestamp seen (epoch ms or the provider's number). */
  highWater?: number | undefined;
  /** Keys of the items seen at exactly `highWater`, so equal timestamps are neither lost nor repeated. */
  keysAtHighWater: string[];
  /**
   * `dedupe.by: 'timestamp'`: keys of items emitted while dated beyond the clock's allowance (they leave the mark
   * alone), so they are not emitted again; each is dropped once the mark passes its timestamp. Bounded. Absent in
   * states saved before it existed.
   */
  keysAhead?: string[] | undefined;
  /** Consecutive failed polls. */
  failures: number;
  /** Consecutive polls that failed with AUTH_FAILED / AUTH_EXPIRED. */
  authFailures: number;
  /**
   * Set once the poller's `onAuthFailure` hook succeeded for the current run of auth failures, so the hook runs
   * once per run, and again at the next auth failure while it keeps failing. Dropped with the run (`authFailures`
   * reset by a success, another error or a re-enable). Absent in older states.
   */
  authReported?: boolean | undefined;
  /** No poll before this time (epoch ms): the backoff after failures. */
  nextAttemptAt?: number | undefined;
  lastError?: ErrorData | undefined;
  /** Epoch ms of the last successful poll. */
  lastSuccessAt?: number | undefined;
}

/**
 * Where poll states live (the service keeps them in PostgreSQL). `save` must be durable when it resolves.
 * The engine only writes a subscription's state while it holds that subscription's poll lock.
 */
export interface PollStateStore {
  load(subscriptionId: string): Promise<PollState | undefined>;
  save(subscriptionId: string, state: PollState): Promise<void>;
  delete(subscriptionId: string): Promise<void>;
}

/** {@link PollStateStore} in memory (tests, simulator); states are deep-copied in and out. */
export function createMemoryPollStateStore(): PollStateStore & { entries(): Map<string, PollState> } {
  const states = new Map<string, PollState>();
  return {
    async load(id) {
      const s = states.get(id);
      return s ? structuredClone(s) : undefined;
    },
    async save(id, state) {
      states.set(id, structuredClone(state));
    },
    async delete(id) {
      states.delete(id);
    },
    entries: () => new Map([...states].map(([k, v]) => [k, structuredClone(v)])),
  };
}

/** {@link PollStateStore} in Redis: one JSON string per subscription under `prefix` (default `bos:triggers:poll-state:`). */
export function createRedisPollStateStore(options: { redis: Redis; prefix?: string }): PollStateStore {
  const prefix = options.prefix ?? 'bos:triggers:poll-state:';
  return {
    async load(id) {
      const raw = await options.redis.get(`${prefix}${id}`);
      return raw === null ? undefined : (JSON.parse(raw) as PollState);
    },
    async save(id, state) {
      await options.redis.set(`${prefix}${id}`, JSON.stringify(state));
    },
    async delete(id) {
      await options.redis.del(`${prefix}${id}`);
    },
  };
}
