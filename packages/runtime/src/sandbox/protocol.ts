// Messages between the pool (caller's thread) and a sandbox worker thread. Guest data travels as JSON text.
import type { ErrorData, LogLevel } from '@businessos/connector-sdk';
import type { SandboxCall, SandboxLimits } from './types.ts';

export interface RunMessage {
  t: 'run';
  id: number;
  tenant: string;
  bundleKey: string;
  sha256: string;
  /** Left out when the pool believes the worker already holds the code; the worker answers `need-code` if not. */
  code?: string;
  /** A sandbox image of this code (sent with the code when the pool's store has one). */
  image?: Uint8Array;
  /** The pool has no image of this code: capture one at the first load and send it back. */
  wantImage?: boolean;
  call: SandboxCall;
  connection: { fields?: Record<string, string> } | undefined;
  limits: SandboxLimits;
  deadlineAt: number;
}

export interface HostResultMessage {
  t: 'host-result';
  id: number;
  callId: number;
  ok: boolean;
  /** JSON of the answer when ok (empty string for "no value"), JSON of ErrorData otherwise. */
  json: string;
}

export interface DropWarmMessage {
  t: 'drop-warm';
  bundleKey?: string;
}

export type ToWorker = RunMessage | HostResultMessage | DropWarmMessage;

export interface DoneStats {
  hostCalls: number;
  logBytes: number;
  resultBytes: number;
  warm: boolean;
  /** A cold start that restored an image instead of evaluating the bundle. */
  restored?: boolean;
  cpuMs?: number;
}

export type FromWorker =
  | { t: 'ready' }
  | { t: 'need-code'; id: number }
  | { t: 'host'; id: number; callId: number; op: 'request' | 'storeGet' | 'storeSet' | 'storeDelete'; args: string }
  | { t: 'log'; id: number; level: LogLevel; message: string; data?: string }
  /** `warmKeys`: the worker's warm sandboxes, sent only when they changed since its last done message. */
  | { t: 'done'; id: number; ok: true; json: string; stats: DoneStats; warmKeys?: string[]; image?: Uint8Array }
  /**
   * `violation`: the host detected a sandbox violation (deadline, quota, exhausted memory, engine fault), which counts
   * towards quarantine. Never set for an error the guest raised, even one whose code says SANDBOX_MEMORY or SANDBOX_CRASH.
   */
  | { t: 'done'; id: number; ok: false; error: ErrorData; violation?: boolean; stats: DoneStats; warmKeys?: string[]; image?: Uint8Array };

/**
 * PAYLOAD_TOO_LARGE for a host call whose arguments (`argBytes`) would bring those of calls still waiting for an answer
 * (`pendingBytes`) over `limit` (limits.maxHostCallBytes). The guest may catch it; it is not a violation.
 */
export function hostCallBytesError(op: string, argBytes: number, pendingBytes: number, limit: number): ErrorData {
  return {
    code: 'PAYLOAD_TOO_LARGE',
    message: `The ${op} call's arguments are ${argBytes} bytes${pendingBytes > 0 ? ` and calls still waiting for an answer hold ${pendingBytes} more` : ''}, over the ${limit}-byte limit of arguments in flight; send less per call, await calls before sending more, or raise limits.maxHostCallBytes`,
  };
}

/**
 * Identity of a warm sandbox: same tenant, same bundle bytes, same creation-time limits. JSON keeps the parts apart
 * whatever characters a tenant id or bundle key holds (joined with a separator, 'a\0b' + 'c' would equal 'a' + 'b\0c').
 */
export function warmKeyOf(tenant: string, bundleKey: string, sha256: string, limits: Pick<SandboxLimits, 'memoryBytes' | 'maxStackBytes'>): string {
  return JSON.stringify([tenant, bundleKey, sha256, limits.memoryBytes, limits.maxStackBytes]);
}

/**
 * Deepest nesting of arrays and objects accepted in JSON from a guest (results, host-call arguments, log data). A
 * guest builds far deeper values cheaply, and the host's own JSON.stringify (V8) overflows its stack a few thousand
 * levels down, wherever the host later serialises them.
 */
export const MAX_JSON_DEPTH = 512;

/** True when the JSON text `json` nests arrays/objects more than `max` levels deep (brackets inside strings do not count). */
export function jsonDeeperThan(json: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < json.length; i += 1) {
    const c = json.charCodeAt(i);
    if (c === 34) {
      // Skip the string, escapes included.
      for (i += 1; i < json.length; i += 1) {
        const d = json.charCodeAt(i);
        if (d === 92) i += 1;
        else if (d === 34) break;
      }
    } else if (c === 91 || c === 123) {
      depth += 1;
      if (depth > max) return true;
    } else if (c === 93 || c === 125) {
      depth -= 1;
    }
  }
  return false;
}
