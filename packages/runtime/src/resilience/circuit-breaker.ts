import { ConnectorError } from '@businessos/connector-sdk';
import { systemClock, type Clock } from '../clock.ts';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit (default 5). */
  failureThreshold?: number;
  /** How long an open circuit refuses calls before one probe may pass (default 30 s). */
  cooldownMs?: number;
  clock?: Clock;
}

export type CircuitState = 'closed' | 'open' | 'half-open';

/** One breaker per key (the runtime uses `connector|host`). */
export interface CircuitBreakers {
  /** Throws CIRCUIT_OPEN (with retryAfter) when calls to `key` are refused; otherwise admits the call. */
  check(key: string): void;
  success(key: string): void;
  failure(key: string): void;
  state(key: string): CircuitState;
}

interface Circuit {
  failures: number;
  openedAt: number | undefined;
  probing: boolean;
}

/**
 * Creates circuit breakers: closed until `failureThreshold` consecutive failures, then open (calls refused
 * with CIRCUIT_OPEN) for `cooldownMs`, then half-open: one probe call passes; its success closes the
 * circuit, its failure opens it again.
 */
export function createCircuitBreakers(options: CircuitBreakerOptions = {}): CircuitBreakers {
  const threshold = options.failureThreshold ?? 5;
  const cooldownMs = options.cooldownMs ?? 30_000;
  const clock = options.clock ?? systemClock;
  const circuits = new Map<string, Circuit>();
  const get = (key: string): Circuit => {
    let c = circuits.get(key);
    if (!c) {
      c = { failures: 0, openedAt: undefined, probing: false };
      circuits.set(key, c);
    }
    return c;
  };
  const stateOf = (c: Circuit | undefined): CircuitState => {
    if (!c || c.openedAt === undefined) return 'closed';
    return clock.now() - c.openedAt >= cooldownMs ? 'half-open' : 'open';
  };
  return {
    check(key) {
      const c = circuits.get(key);
      const state = stateOf(c);
      if (state === 'closed' || !c) return;
      if (state === 'half-open' && !c.probing) {
        c.probing = true;
        return;
      }
      const wait = Math.max(1, Math.ceil((cooldownMs - (clock.now() - (c.openedAt ?? 0))) / 1000));
      throw new ConnectorError('CIRCUIT_OPEN', `Calls to ${key.split('|').pop()} are paused after ${c.failures} consecutive failures; try again in ${wait} s`, { retryAfter: wait });
    },
    success(key) {
      circuits.delete(key);
    },
    failure(key) {
      const c = get(key);
      c.failures++;
      if (c.probing || c.failures >= threshold) c.openedAt = clock.now();
      c.probing = false;
    },
    state: (key) => stateOf(circuits.get(key)),
  };
}
