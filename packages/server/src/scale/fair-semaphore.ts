import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LUA_NOW_MS, type Keyspace } from './redis.ts';

/** A slot held by one execution; renewed in the background until released. */
export interface SemaphoreLease {
  /** Gives the slot back. Idempotent. */
  release(): Promise<void>;
}

/** Per-tenant and global concurrency limits that hold across every worker process sharing one Redis. */
export interface FairSemaphore {
  /** Resolves with a lease once `tenant` may run one more execution; waits fairly behind other tenants. */
  acquire(tenant: string, signal?: AbortSignal): Promise<SemaphoreLease>;
  /** Stops polling and renewing; leases still held expire on their own. */
  close(): void;
}

/** Options of {@link createFairSemaphore}. */
export interface FairSemaphoreOptions {
  redis: Redis;
  keys: Keyspace['limiter'];
  /** Executions at once per tenant across all workers (default 5). */
  perTenant?: number;
  /** Executions at once in total across all workers (default 10). */
  total?: number;
  /** How long a slot outlives its last renewal: a killed worker's slots free up after this (default 15 s). */
  leaseMs?: number;
  /** How often waiting acquisitions ask Redis again (default 50 ms). */
  pollMs?: number;
}

// One atomic step of the distributed scheduler, run by every process on every poll:
// 1. drop expired slots (killed workers) and waiters whose process stopped heart-beating;
// 2. enqueue this process's new waiters (ARGV[5..]) in arrival order and refresh their heartbeat;
// 3. hand free slots out: among tenants with waiters and fewer than perTenant running, the one served least
//    recently gets its oldest waiter (round-robin across tenants, FIFO within a tenant);
// 4. answer which of this process's waiters now hold a slot.
// Members are `tenant|ticket`. Running slots are at most `total`, waiters at most the queue bound, so the scans
// stay small.
const TICK = `
local running, waiting, order, served, seqkey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local perTenant, total, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local waitLease = tonumber(ARGV[4])
local now = ${LUA_NOW_MS}
redis.call('ZREMRANGEBYSCORE', running, '-inf', now)
for _, m in ipairs(redis.call('ZRANGEBYSCORE', waiting, '-inf', now)) do
  redis.call('ZREM', order, m)
  redis.call('ZREM', waiting, m)
end
for i = 5, #ARGV do
  local m = ARGV[i]
  if not redis.call('ZSCORE', running, m) then
    if not redis.call('ZSCORE', order, m) then redis.call('ZADD', order, redis.call('INCR', seqkey), m) end
    redis.call('ZADD', waiting, now + waitLease, m)
  end
end
local counts, active = {}, 0
for _, m in ipairs(redis.call('ZRANGE', running, 0, -1)) do
  local t = string.match(m, '^(.*)|')
  counts[t] = (counts[t] or 0) + 1
  active = active + 1
end
while active < total do
  local best, bestTenant, bestServed = nil, nil, nil
  local seen = {}
  for _, m in ipairs(redis.call('ZRANGE', order, 0, -1)) do
    local t = string.match(m, '^(.*)|')
    if not seen[t] then
      seen[t] = true
      if (counts[t] or 0) < perTenant then
        local s = tonumber(redis.call('HGET', served, t) or '0')
        if best == nil or s < bestServed then best, bestTenant, bestServed = m, t, s end
      end
    end
  end
  if best == nil then break end
  redis.call('ZREM', order, best)
  redis.call('ZREM', waiting, best)
  redis.call('ZADD', running, now + lease, best)
  redis.call('HSET', served, bestTenant, redis.call('INCR', seqkey))
  counts[bestTenant] = (counts[bestTenant] or 0) + 1
  active = active + 1
end
local granted = {}
for i = 5, #ARGV do
  if redis.call('ZSCORE', running, ARGV[i]) then table.insert(granted, ARGV[i]) end
end
return granted
`;

// Extends the slots this process holds. A slot missing from Redis (a restart lost it, or it expired while Redis was
// out of reach) is added back: its execution is still running, so it still counts against the limits.
const RENEW = `
local now = ${LUA_NOW_MS}
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i]) end
return 1
`;

// Gives slots or places in the queue back.
const RELEASE = `
for i = 1, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('ZREM', KEYS[3], ARGV[i])
end
return 1
`;

const closedError = () => new Error('The execution semaphore is closed (the worker is shutting down)');

/** Option `name` of `options`, or `fallback`; a whole number of at least 1. */
function positive(options: FairSemaphoreOptions, name: 'perTenant' | 'total' | 'leaseMs' | 'pollMs', fallback: number): number {
  const value = options[name] ?? fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`Fair semaphore option ${name} must be a whole number of at least 1 (got ${value}); check BOS_EXECUTIONS_PER_TENANT and BOS_EXECUTIONS_TOTAL`);
  return value;
}

interface Waiter {
  resolve(lease: SemaphoreLease): void;
  reject(error: unknown): void;
}

/**
 * Creates the cross-worker semaphore. Each process keeps its waiting acquisitions locally and asks Redis about
 * all of them in one script call per poll; held slots carry a lease that a background timer renews, so a worker
 * killed mid-execution frees its slots after `leaseMs` without anyone's help.
 * @example const sem = createFairSemaphore({ redis, keys: keyspace('bos').limiter }); const lease = await sem.acquire(tenantId); try { ... } finally { await lease.release(); }
 */
export function createFairSemaphore(options: FairSemaphoreOptions): FairSemaphore {
  const { redis, keys } = options;
  // A zero, negative or NaN limit would leave every acquisition waiting forever; refuse it at start instead.
  const perTenant = positive(options, 'perTenant', 5);
  const total = positive(options, 'total', 10);
  const leaseMs = positive(options, 'leaseMs', 15_000);
  const pollMs = positive(options, 'pollMs', 50);
  const waiters = new Map<string, Waiter>();
  const held = new Set<string>();
  let pollTimer: NodeJS.Timeout | undefined;
  let ticking = false;
  let again = false;
  let closed = false;

  const renew = () => {
    if (held.size === 0) return;
    redis.eval(RENEW, 1, keys.running, leaseMs, ...held).catch(() => undefined);
  };
  const renewTimer = setInterval(renew, Math.max(50, Math.floor(leaseMs / 3)));
  renewTimer.unref();
  // After a reconnect (perhaps to a restarted, empty Redis) the slots in use are registered again at once.
  redis.on('ready', renew);

  const release = async (member: string): Promise<void> => {
    held.delete(member);
    await redis.eval(RELEASE, 3, keys.running, keys.waiting, keys.order, member);
    // A slot came free: local waiters may take it without waiting for the next poll.
    schedule(0);
  };

  function schedule(delay: number): void {
    if (closed || waiters.size === 0) return;
    if (ticking) {
      again = true;
      return;
    }
    if (pollTimer && delay > 0) return;
    clearTimeout(pollTimer);
    pollTimer = setTimeout(() => void tick(), delay);
  }

  async function tick(): Promise<void> {
    pollTimer = undefined;
    if (closed || waiters.size === 0) return;
    ticking = true;
    const members = [...waiters.keys()];
    try {
      const granted = (await redis.eval(TICK, 5, keys.running, keys.waiting, keys.order, keys.served, keys.seq, perTenant, total, leaseMs, leaseMs, ...members)) as string[];
      for (const member of granted) {
        const waiter = waiters.get(member);
        if (!waiter) {
          // Cancelled while the script ran: give the slot straight back.
          void release(member).catch(() => undefined);
          continue;
        }
        waiters.delete(member);
        held.add(member);
        let released = false;
        waiter.resolve({
          release: () => {
            if (released) return Promise.resolve();
            released = true;
            return release(member);
          },
        });
      }
    } catch (error) {
      // Redis unreachable: the waiters keep their place locally and ask again; a closed semaphore fails them.
      if (closed) for (const w of waiters.values()) w.reject(error);
    } finally {
      ticking = false;
    }
    const rerun = again;
    again = false;
    schedule(rerun ? 0 : pollMs);
  }

  return {
    acquire(tenant, signal) {
      if (closed) return Promise.reject(closedError());
      // A listener added to an already aborted signal never fires: the acquisition would go on and hold a slot.
      if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('Cancelled while waiting for an execution slot'));
      const member = `${tenant}|${randomUUID()}`;
      return new Promise<SemaphoreLease>((resolve, reject) => {
        const onAbort = () => {
          if (!waiters.delete(member)) return;
          void redis.eval(RELEASE, 3, keys.running, keys.waiting, keys.order, member).catch(() => undefined);
          reject(signal?.reason ?? new Error('Cancelled while waiting for an execution slot'));
        };
        waiters.set(member, {
          resolve: (lease) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(lease);
          },
          reject,
        });
        signal?.addEventListener('abort', onAbort, { once: true });
        schedule(0);
      });
    },
    close() {
      closed = true;
      clearTimeout(pollTimer);
      clearInterval(renewTimer);
      redis.off('ready', renew);
      // Nothing will poll for them any more: fail them rather than leave their callers waiting forever.
      const members = [...waiters.keys()];
      const waiting = [...waiters.values()];
      waiters.clear();
      for (const w of waiting) w.reject(closedError());
      if (members.length > 0) void redis.eval(RELEASE, 3, keys.running, keys.waiting, keys.order, ...members).catch(() => undefined);
    },
  };
}
