import { randomUUID } from 'node:crypto';
import { ConnectorError } from '@businessos/connector-sdk';
import { systemClock, type Clock } from '../clock.ts';

/** A held lock; `release` answers false when the lock had already expired and passed to someone else. */
export interface LockLease {
  release(): Promise<boolean>;
  /**
   * Makes the lease last `ttlMs` from now, atomically, while it is still ours: false when it had expired and passed
   * to someone else (or expired and nobody took it: then it is not taken back either). Optional for other backends.
   */
  extend?(ttlMs: number): Promise<boolean>;
}

/** A mutual-exclusion lock with expiry, shared by every process that uses the same backend. */
export interface Lock {
  /** Tries once; answers a lease, or undefined when another holder has the key. */
  tryAcquire(key: string, ttlMs: number): Promise<LockLease | undefined>;
}

/** A lock for one process (tests, embedded mode without Redis). */
export function createMemoryLock(clock: Clock = systemClock): Lock {
  const held = new Map<string, { token: string; until: number }>();
  return {
    async tryAcquire(key, ttlMs) {
      const now = clock.now();
      const current = held.get(key);
      if (current && current.until > now) return undefined;
      const token = randomUUID();
      held.set(key, { token, until: now + ttlMs });
      return {
        async release() {
          const mine = held.get(key);
          if (mine?.token !== token) return false;
          held.delete(key);
          return true;
        },
        async extend(ms) {
          const mine = held.get(key);
          const at = clock.now();
          if (mine?.token !== token || mine.until <= at) return false;
          mine.until = at + ms;
          return true;
        },
      };
    },
  };
}

/**
 * Waits for a lock: tries, then polls every `pollMs` until `waitMs` passes. Between tries `onWait` may end
 * the wait early with a value (for example when another holder already did the work).
 */
export async function acquireLock<T>(
  lock: Lock,
  key: string,
  options: { ttlMs: number; waitMs: number; pollMs?: number; clock?: Clock; onWait?: () => Promise<T | undefined> },
): Promise<{ lease: LockLease } | { value: T }> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + options.waitMs;
  for (;;) {
    const lease = await lock.tryAcquire(key, options.ttlMs);
    if (lease) return { lease };
    if (options.onWait) {
      const value = await options.onWait();
      if (value !== undefined) return { value };
    }
    if (clock.now() >= deadline) {
      throw new ConnectorError('TIMEOUT', `Timed out after ${options.waitMs} ms waiting for lock ${key}, held by another worker; try again`);
    }
    await clock.sleep(options.pollMs ?? 100);
  }
}
