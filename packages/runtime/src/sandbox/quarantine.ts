// Quarantine of bundle keys (name@version) that keep hitting sandbox limits: after `threshold` violations
// within `windowMs`, the key is refused with QUARANTINED for `coolOffMs`.
import type { ErrorData } from '@businessos/connector-sdk';
import type { QuarantineEntry } from './types.ts';

/** Options of the quarantine; defaults: 5 violations in 10 minutes → refused for 10 minutes. */
export interface QuarantineOptions {
  threshold?: number;
  windowMs?: number;
  coolOffMs?: number;
  /** Set false to never quarantine. */
  enabled?: boolean;
}

export interface Quarantine {
  record(bundleKey: string, error: ErrorData): void;
  /** QUARANTINED error data while the key is refused, else undefined. */
  check(bundleKey: string): ErrorData | undefined;
  list(): QuarantineEntry[];
  clear(bundleKey?: string): void;
}

/** Creates an in-memory quarantine (per pool; the service may persist decisions itself). */
export function createQuarantine(options: QuarantineOptions = {}, now: () => number = Date.now): Quarantine {
  const threshold = options.threshold ?? 5;
  const windowMs = options.windowMs ?? 10 * 60_000;
  const coolOffMs = options.coolOffMs ?? 10 * 60_000;
  const enabled = options.enabled ?? true;
  const hits = new Map<string, number[]>();
  const blocked = new Map<string, QuarantineEntry>();

  return {
    record(bundleKey, error) {
      if (!enabled) return;
      const t = now();
      const recent = (hits.get(bundleKey) ?? []).filter((x) => x > t - windowMs);
      recent.push(t);
      hits.set(bundleKey, recent);
      if (recent.length >= threshold) {
        blocked.set(bundleKey, { bundleKey, until: t + coolOffMs, violations: recent.length, lastError: { code: error.code, message: error.message } });
        hits.delete(bundleKey);
      }
    },
    check(bundleKey) {
      const entry = blocked.get(bundleKey);
      if (!entry) return undefined;
      const t = now();
      if (entry.until <= t) {
        blocked.delete(bundleKey);
        return undefined;
      }
      const retryAfter = Math.ceil((entry.until - t) / 1000);
      return {
        code: 'QUARANTINED',
        message: `Connector ${bundleKey} is quarantined for ${retryAfter} s after ${entry.violations} sandbox violations (last: ${entry.lastError.code}); fix the connector or ask an operator to clear the quarantine`,
        retryAfter,
      };
    },
    list() {
      const t = now();
      return [...blocked.values()].filter((e) => e.until > t).map((e) => ({ ...e, lastError: { ...e.lastError } }));
    },
    clear(bundleKey) {
      if (bundleKey === undefined) {
        blocked.clear();
        hits.clear();
      } else {
        blocked.delete(bundleKey);
        hits.delete(bundleKey);
      }
    },
  };
}
