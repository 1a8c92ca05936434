// What the host makes of errors that come out of a guest: a guest may claim any code, so only catalogue codes a
// connector may raise pass; the ones only the host assigns (deadline, memory, quotas...) become INTERNAL. Plain
// functions with no engine behind them, so the runtime can vet per-delivery errors of a batch too.
import type { ErrorData } from '@businessos/connector-sdk';
import type { SandboxLimits } from './types.ts';

/** Codes only the host may assign: a guest claiming one gets INTERNAL instead. */
const HOST_ONLY_CODES: ReadonlySet<string> = new Set(['SANDBOX_DEADLINE', 'SANDBOX_MEMORY', 'SANDBOX_CRASH', 'SANDBOX_QUOTA', 'QUARANTINED', 'QUEUE_FULL', 'CIRCUIT_OPEN']);
const GUEST_CODES: ReadonlySet<string> = new Set([
  'INVALID_INPUT', 'INVALID_OUTPUT', 'AUTH_FAILED', 'AUTH_EXPIRED', 'FORBIDDEN', 'EGRESS_DENIED', 'NOT_FOUND', 'CONFLICT',
  'PAYLOAD_TOO_LARGE', 'RATE_LIMITED', 'UPSTREAM_ERROR', 'NETWORK_ERROR', 'TIMEOUT', 'NON_RETRYABLE', 'NOT_IMPLEMENTED', 'INTERNAL',
]);

/** Classifies an exception that escaped the WebAssembly engine itself (not a guest exception). */
export function classifyEngineFault(error: unknown, limits: Pick<SandboxLimits, 'memoryBytes' | 'maxStackBytes'>): ErrorData {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  if (/out of memory|OOM|Cannot enlarge memory|could not allocate/i.test(text)) {
    return { code: 'SANDBOX_MEMORY', message: `The connector ran out of memory (cap ${limits.memoryBytes} bytes); reduce what it holds at once or raise limits.memoryBytes` };
  }
  if (/call stack|stack overflow/i.test(text)) {
    return { code: 'SANDBOX_CRASH', message: `The connector overflowed its stack (cap ${limits.maxStackBytes} bytes); avoid deep recursion` };
  }
  return { code: 'SANDBOX_CRASH', message: `The sandbox engine failed (${text.slice(0, 200)}); the sandbox was discarded` };
}

/**
 * An error object the guest glue produced (`{ code, message, ..., fault? }`), keeping only well-formed catalogue
 * fields. `memoryNearCap`: QuickJS throws an empty exception when it cannot even allocate the error object, which
 * with memory near the cap means it ran out.
 */
export function vetGuestError(value: unknown, limits: Pick<SandboxLimits, 'memoryBytes' | 'maxStackBytes'>, memoryNearCap = false): ErrorData {
  const raw = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  if (raw.fault === 'memory' || (raw.fault === 'empty' && memoryNearCap)) return classifyEngineFault(new Error('out of memory'), limits);
  if (raw.fault === 'stack') return classifyEngineFault(new Error('stack overflow'), limits);
  const code = typeof raw.code === 'string' && GUEST_CODES.has(raw.code) && !HOST_ONLY_CODES.has(raw.code) ? (raw.code as ErrorData['code']) : 'INTERNAL';
  const message = typeof raw.message === 'string' && raw.message ? raw.message.slice(0, 4000) : 'The connector failed without a message';
  const data: ErrorData = { code, message };
  if (typeof raw.retryAfter === 'number' && Number.isFinite(raw.retryAfter)) data.retryAfter = raw.retryAfter;
  if (typeof raw.path === 'string') data.path = raw.path.slice(0, 1000);
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
