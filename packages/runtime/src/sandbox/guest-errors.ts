// What the host makes of errors that come out of a guest: a guest may claim any code, so only catalogue codes a
// connector may raise pass; the ones only the host assigns (deadline, memory, quotas...) become INTERNAL. Plain
// functions with no engine behind them, so the runtime can vet per-delivery errors of a batch too.
//
// A guest can also make its error *look* like a fault (an object named InternalError with the message "out of
// memory" or "stack overflow", thrown by its own code or copied from an upstream answer). Such errors keep the fault's
// code for the caller, but only errors the host itself detected are marked as violations (hostViolation), and only
// marked errors count towards quarantine: nothing a guest throws may affect other executions or other tenants.
import type { ErrorData } from '@businessos/connector-sdk';
import type { SandboxLimits } from './types.ts';
import { cutText } from '../cut-text.ts';

/** Codes only the host may assign: a guest claiming one gets INTERNAL instead. */
const HOST_ONLY_CODES: ReadonlySet<string> = new Set(['SANDBOX_DEADLINE', 'SANDBOX_MEMORY', 'SANDBOX_CRASH', 'SANDBOX_QUOTA', 'QUARANTINED', 'QUEUE_FULL', 'CIRCUIT_OPEN']);
const GUEST_CODES: ReadonlySet<string> = new Set([
  'INVALID_INPUT', 'INVALID_OUTPUT', 'AUTH_FAILED', 'AUTH_EXPIRED', 'FORBIDDEN', 'EGRESS_DENIED', 'NOT_FOUND', 'CONFLICT',
  'PAYLOAD_TOO_LARGE', 'RATE_LIMITED', 'UPSTREAM_ERROR', 'NETWORK_ERROR', 'TIMEOUT', 'NON_RETRYABLE', 'NOT_IMPLEMENTED', 'INTERNAL',
]);

// Error data objects the host created for violations it detected itself. Identity, not a field: the guest shapes the
// fields of its own errors, and cannot put anything in this set. Only meaningful within one thread (the worker turns
// it into the `violation` flag of its done message).
const hostDetected = new WeakSet<object>();

/** Marks `data` as a violation the host itself detected (deadline, quota, exhausted memory, engine fault) and returns it. */
export function hostViolation<T extends ErrorData>(data: T): T {
  hostDetected.add(data);
  return data;
}

/** True only for error data {@link hostViolation} marked in this thread; never for an error a guest raised, whatever its code. */
export function isHostViolation(data: unknown): boolean {
  return typeof data === 'object' && data !== null && hostDetected.has(data);
}

function memoryFault(limits: Pick<SandboxLimits, 'memoryBytes'>): ErrorData {
  return { code: 'SANDBOX_MEMORY', message: `The connector ran out of memory (cap ${limits.memoryBytes} bytes); reduce what it holds at once or raise limits.memoryBytes` };
}

function stackFault(limits: Pick<SandboxLimits, 'maxStackBytes'>): ErrorData {
  return { code: 'SANDBOX_CRASH', message: `The connector overflowed its stack (cap ${limits.maxStackBytes} bytes); avoid deep recursion` };
}

/**
 * An out-of-memory error the guest reported while its memory was not near the cap: an allocation larger than the
 * cap that the engine refused, or an error the connector threw itself. Not a violation.
 */
function reportedMemoryFault(limits: Pick<SandboxLimits, 'memoryBytes'>): ErrorData {
  return {
    code: 'SANDBOX_MEMORY',
    message: `The connector failed with an out-of-memory error while its sandbox was well below the memory cap (${limits.memoryBytes} bytes): an allocation larger than the cap was refused, or the connector threw such an error itself; allocate less at once`,
  };
}

/**
 * Classifies an exception that escaped the WebAssembly engine itself (not a guest exception). The result is marked
 * as a host-detected violation: only call it for what the host caught or measured.
 */
export function classifyEngineFault(error: unknown, limits: Pick<SandboxLimits, 'memoryBytes' | 'maxStackBytes'>): ErrorData {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  if (/out of memory|OOM|Cannot enlarge memory|could not allocate/i.test(text)) return hostViolation(memoryFault(limits));
  if (/call stack|stack overflow/i.test(text)) return hostViolation(stackFault(limits));
  return hostViolation({ code: 'SANDBOX_CRASH', message: `The sandbox engine failed (${cutText(text, 200)}); the sandbox was discarded` });
}

/**
 * A fault the guest's own error names (`'memory'` or `'stack'`: an InternalError that reached the glue, genuine or
 * forged). A memory fault is a violation only when `memoryNearCap` (measured by the host) backs it; a stack overflow
 * leaves no trace the host could check, so it never is.
 */
export function reportedFault(kind: 'memory' | 'stack', limits: Pick<SandboxLimits, 'memoryBytes' | 'maxStackBytes'>, memoryNearCap: boolean): ErrorData {
  if (kind === 'stack') return stackFault(limits);
  return memoryNearCap ? hostViolation(memoryFault(limits)) : reportedMemoryFault(limits);
}

/**
 * An error object the guest glue produced (`{ code, message, ..., fault? }`), keeping only well-formed catalogue
 * fields. `memoryNearCap`: the host measured the sandbox's memory near its cap. QuickJS throws an empty exception when
 * it cannot even allocate the error object, which with memory near the cap means it ran out.
 */
export function vetGuestError(value: unknown, limits: Pick<SandboxLimits, 'memoryBytes' | 'maxStackBytes'>, memoryNearCap = false): ErrorData {
  const raw = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  if (raw.fault === 'memory' || (raw.fault === 'empty' && memoryNearCap)) return reportedFault('memory', limits, memoryNearCap);
  if (raw.fault === 'stack') return reportedFault('stack', limits, memoryNearCap);
  const code = typeof raw.code === 'string' && GUEST_CODES.has(raw.code) && !HOST_ONLY_CODES.has(raw.code) ? (raw.code as ErrorData['code']) : 'INTERNAL';
  const message = typeof raw.message === 'string' && raw.message ? cutText(raw.message, 4000) : 'The connector failed without a message';
  const data: ErrorData = { code, message };
  if (typeof raw.retryAfter === 'number' && Number.isFinite(raw.retryAfter)) data.retryAfter = raw.retryAfter;
  if (typeof raw.path === 'string') data.path = cutText(raw.path, 1000);
  if (typeof raw.upstreamStatus === 'number' && Number.isInteger(raw.upstreamStatus)) data.upstreamStatus = raw.upstreamStatus;
  if (raw.details !== undefined) data.details = raw.details;
  return data;
}

/** {@link vetGuestError} of the error JSON the guest glue produced. */
export function guestErrorData(json: string, limits: Pick<SandboxLimits, 'memoryBytes' | 'maxStackBytes'>, memoryNearCap = false): ErrorData {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return { code: 'INTERNAL', message: 'The connector failed with an unreadable error' };
  }
  return vetGuestError(parsed, limits, memoryNearCap);
}
