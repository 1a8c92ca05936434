// Quarantine of connector versions (bundle keys, name@version) that keep hitting sandbox limits, in two scopes:
// - one tenant: after `threshold` violations of that tenant's executions within `windowMs`, the version is refused
//   for that tenant alone, with QUARANTINED, for `coolOffMs`;
// - every tenant: when the violations within `windowMs` come from at least `globalTenants` distinct tenants (and
//   number at least `threshold` in all), the version is refused for everyone for `coolOffMs`.
// A tenant's violations often come from what that tenant feeds the connector (its own slow upstream, its inputs);
// one tenant alone must never take a version away from the others.
import type { ErrorData } from '@businessos/connector-sdk';
import type { QuarantineEntry } from './types.ts';

/**
 * Options of the quarantine; defaults: 5 violations of one tenant in 10 minutes → refused for that tenant for
 * 10 minutes; violations from 3 tenants (5 in all) in 10 minutes → refused for every tenant for 10 minutes.
 */
export interface QuarantineOptions {
  /** Violations of one tenant within `windowMs` that quarantine the version for that tenant (default 5). */
  threshold?: number;
  windowMs?: number;
  coolOffMs?: number;
  /**
   * Distinct tenants whose violations within `windowMs` (at least `threshold` of them in all) quarantine the version
   * for every tenant (default 3). At least 2; `Infinity` never quarantines for everyone.
   */
  globalTenants?: number;
  /** Set false to never quarantine. */
  enabled?: boolean;
}

export interface Quarantine {
  /** Records a violation the host detected in an execution of `bundleKey` for `tenant`. */
  record(bundleKey: string, tenant: string, error: ErrorData): void;
  /** QUARANTINED error data while the key is refused for `tenant` (alone or with everyone), else undefined. */
  check(bundleKey: string, tenant: string): ErrorData | undefined;
  list(): QuarantineEntry[];
  /** Lifts quarantines and forgets violations: of one tenant for one key, of one key for every tenant, or all. */
  clear(bundleKey?: string, tenant?: string): void;
}

interface Violation {
  at: number;
  tenant: string;
}

/** What the quarantine knows of one bundle key. */
interface KeyState {
  /** Per tenant: times of its violations within the window. */
  hits: Map<string, number[]>;
  /** Per tenant: its own quarantine. */
  blocked: Map<string, QuarantineEntry>;
  /** Violations within the window, with their tenants, for the rule that covers everyone. */
  recent: Violation[];
  everyone: QuarantineEntry | undefined;
}

function duration(ms: number): string {
  return ms >= 60_000 && ms % 60_000 === 0 ? `${ms / 60_000} min` : `${Math.ceil(ms / 1000)} s`;
}

/** Creates an in-memory quarantine (per pool; the service may persist decisions itself). */
export function createQuarantine(options: QuarantineOptions = {}, now: () => number = Date.now): Quarantine {
  const threshold = options.threshold ?? 5;
  const windowMs = options.windowMs ?? 10 * 60_000;
  const coolOffMs = options.coolOffMs ?? 10 * 60_000;
  const globalTenants = options.globalTenants ?? 3;
  const enabled = options.enabled ?? true;
  if (!(globalTenants >= 2) || (Number.isFinite(globalTenants) && !Number.isInteger(globalTenants))) {
    throw {
      code: 'INVALID_INPUT',
      message: `quarantine.globalTenants must be a whole number of at least 2 (or Infinity), got ${String(globalTenants)}: one tenant alone must not quarantine a version for everyone`,
      path: '/quarantine/globalTenants',
    } satisfies ErrorData;
  }
  const keys = new Map<string, KeyState>();
  let lastSweep = now();

  const stateOf = (bundleKey: string): KeyState => {
    let state = keys.get(bundleKey);
    if (!state) {
      state = { hits: new Map(), blocked: new Map(), recent: [], everyone: undefined };
      keys.set(bundleKey, state);
    }
    return state;
  };
  const live = (entry: QuarantineEntry | undefined, t: number) => (entry && entry.until > t ? entry : undefined);

  /** Drops what has expired for keys and tenants that went quiet, so the maps do not grow with every tenant ever seen. */
  function sweep(t: number): void {
    if (t - lastSweep < windowMs) return;
    lastSweep = t;
    for (const [bundleKey, state] of keys) {
      for (const [tenant, hits] of state.hits) if (hits[hits.length - 1]! <= t - windowMs) state.hits.delete(tenant);
      for (const [tenant, entry] of state.blocked) if (entry.until <= t) state.blocked.delete(tenant);
      state.recent = state.recent.filter((v) => v.at > t - windowMs);
      if (state.everyone && state.everyone.until <= t) state.everyone = undefined;
      if (state.hits.size === 0 && state.blocked.size === 0 && state.recent.length === 0 && !state.everyone) keys.delete(bundleKey);
    }
  }

  function refusal(entry: QuarantineEntry, t: number): ErrorData {
    const retryAfter = Math.ceil((entry.until - t) / 1000);
    const until = new Date(entry.until).toISOString();
    const last = entry.lastError.code;
    if (entry.scope === 'everyone') {
      return {
        code: 'QUARANTINED',
        message: `Connector ${entry.bundleKey} is quarantined for every tenant for ${retryAfter} s more (until ${until}): ${entry.violations} sandbox violations from ${entry.tenants?.length ?? 0} different tenants within ${duration(windowMs)} (last: ${last}). Fix the connector and publish a new version, or ask an operator to clear the quarantine`,
        retryAfter,
        details: { scope: 'everyone', until },
      };
    }
    return {
      code: 'QUARANTINED',
      message: `Connector ${entry.bundleKey} is quarantined for tenant ${entry.tenant} only, for ${retryAfter} s more (until ${until}): this tenant's executions hit ${entry.violations} sandbox violations within ${duration(windowMs)} (last: ${last}); other tenants are not affected. Check what this tenant's executions feed the connector (a slow upstream, large inputs), fix the connector, or ask an operator to clear the quarantine`,
      retryAfter,
      details: { scope: 'tenant', until },
    };
  }

  return {
    record(bundleKey, tenant, error) {
      if (!enabled) return;
      const t = now();
      sweep(t);
      const state = stateOf(bundleKey);
      const lastError = { code: error.code, message: error.message };
      const hits = (state.hits.get(tenant) ?? []).filter((x) => x > t - windowMs);
      hits.push(t);
      state.hits.set(tenant, hits);
      if (hits.length >= threshold) {
        state.blocked.set(tenant, { bundleKey, scope: 'tenant', tenant, until: t + coolOffMs, violations: hits.length, lastError });
        state.hits.delete(tenant);
      }
      if (!Number.isFinite(globalTenants)) return;
      state.recent = state.recent.filter((v) => v.at > t - windowMs);
      state.recent.push({ at: t, tenant });
      const tenants = [...new Set(state.recent.map((v) => v.tenant))];
      if (tenants.length >= globalTenants && state.recent.length >= threshold) {
        state.everyone = { bundleKey, scope: 'everyone', tenants, until: t + coolOffMs, violations: state.recent.length, lastError };
        // Counting starts afresh once it lifts; a tenant's own quarantine keeps its own term.
        state.recent = [];
        state.hits.clear();
      }
    },
    check(bundleKey, tenant) {
      const state = keys.get(bundleKey);
      if (!state) return undefined;
      const t = now();
      const entry = live(state.everyone, t) ?? live(state.blocked.get(tenant), t);
      return entry ? refusal(entry, t) : undefined;
    },
    list() {
      const t = now();
      const out: QuarantineEntry[] = [];
      for (const state of keys.values()) {
        for (const entry of [state.everyone, ...state.blocked.values()]) {
          const e = live(entry, t);
          if (e) out.push({ ...e, ...(e.tenants ? { tenants: [...e.tenants] } : {}), lastError: { ...e.lastError } });
        }
      }
      return out;
    },
    clear(bundleKey, tenant) {
      if (bundleKey === undefined) {
        keys.clear();
        return;
      }
      if (tenant === undefined) {
        keys.delete(bundleKey);
        return;
      }
      const state = keys.get(bundleKey);
      if (!state) return;
      state.blocked.delete(tenant);
      state.hits.delete(tenant);
      // Its violations no longer count towards the quarantine for everyone either.
      state.recent = state.recent.filter((v) => v.tenant !== tenant);
    },
  };
}
