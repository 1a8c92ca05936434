/**
 * The one closed catalogue of error codes shared by the SDK, the runtime, the service and the web page.
 * A code maps to an HTTP status and says whether retrying the same call may succeed.
 * Across the sandbox boundary errors travel as plain {@link ErrorData} and are recognised by `code`.
 */
export const ERROR_CATALOGUE = {
  INVALID_INPUT: { status: 400, retryable: false },
  INVALID_OUTPUT: { status: 502, retryable: false },
  AUTH_FAILED: { status: 401, retryable: false },
  AUTH_EXPIRED: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  EGRESS_DENIED: { status: 403, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  CONFLICT: { status: 409, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  RATE_LIMITED: { status: 429, retryable: true },
  QUEUE_FULL: { status: 429, retryable: true },
  UPSTREAM_ERROR: { status: 502, retryable: true },
  NETWORK_ERROR: { status: 502, retryable: true },
  TIMEOUT: { status: 504, retryable: true },
  CIRCUIT_OPEN: { status: 503, retryable: true },
  SANDBOX_DEADLINE: { status: 504, retryable: false },
  SANDBOX_MEMORY: { status: 507, retryable: false },
  SANDBOX_CRASH: { status: 500, retryable: false },
  SANDBOX_QUOTA: { status: 429, retryable: false },
  QUARANTINED: { status: 503, retryable: false },
  NON_RETRYABLE: { status: 422, retryable: false },
  NOT_IMPLEMENTED: { status: 501, retryable: false },
  INTERNAL: { status: 500, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** Plain-data form of an error: what crosses the sandbox boundary and the HTTP API. */
export interface ErrorData {
  code: ErrorCode;
  message: string;
  /** Seconds to wait before retrying (RATE_LIMITED, QUEUE_FULL). */
  retryAfter?: number;
  /** Where in the input the problem is, as a JSON pointer (`/line_items/0/quantity`). */
  path?: string;
  /** Upstream HTTP status, when the error came from a provider's response. */
  upstreamStatus?: number;
  details?: unknown;
}

const ERROR_BRAND = Symbol.for('businessos.connector-error');

/**
 * Base error for connector code and hosts. Prefer the named subclasses in connector code.
 * @example throw new ConnectorError('CONFLICT', 'An order with this reference already exists');
 */
export class ConnectorError extends Error {
  readonly code: ErrorCode;
  readonly retryAfter: number | undefined;
  readonly path: string | undefined;
  readonly upstreamStatus: number | undefined;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, extra: Omit<ErrorData, 'code' | 'message'> = {}) {
    super(message);
    this.name = 'ConnectorError';
    this.code = code;
    this.retryAfter = extra.retryAfter;
    this.path = extra.path;
    this.upstreamStatus = extra.upstreamStatus;
    this.details = extra.details;
    Object.defineProperty(this, ERROR_BRAND, { value: true });
  }

  toJSON(): ErrorData {
    return toErrorData(this);
  }
}

/** The provider asked us to slow down; the runtime retries after `retryAfter` seconds where the action allows it. */
export class RateLimitedError extends ConnectorError {
  constructor(retryAfter?: number, message = 'The provider rate-limited this request') {
    super('RATE_LIMITED', message, retryAfter === undefined ? {} : { retryAfter });
    this.name = 'RateLimitedError';
  }
}

/** Retrying cannot help (bad business input, a rule the provider will not relax). */
export class NonRetryableError extends ConnectorError {
  constructor(message: string, details?: unknown) {
    super('NON_RETRYABLE', message, { details });
    this.name = 'NonRetryableError';
  }
}

/** The stored credentials no longer work; the tenant must reconnect. */
export class AuthExpiredError extends ConnectorError {
  constructor(message = 'The connection\'s credentials have expired or were revoked; reconnect the account') {
    super('AUTH_EXPIRED', message);
    this.name = 'AuthExpiredError';
  }
}

export class NotFoundError extends ConnectorError {
  constructor(message: string, details?: unknown) {
    super('NOT_FOUND', message, { details });
    this.name = 'NotFoundError';
  }
}

export class InvalidInputError extends ConnectorError {
  constructor(message: string, path?: string, details?: unknown) {
    super('INVALID_INPUT', message, { path, details });
    this.name = 'InvalidInputError';
  }
}

export class UpstreamError extends ConnectorError {
  constructor(message: string, upstreamStatus?: number, details?: unknown) {
    super('UPSTREAM_ERROR', message, { upstreamStatus, details });
    this.name = 'UpstreamError';
  }
}

export class TimeoutError extends ConnectorError {
  constructor(message = 'The request timed out') {
    super('TIMEOUT', message);
    this.name = 'TimeoutError';
  }
}

/** True for values that carry a catalogue `code`, whichever realm or process created them. */
export function isConnectorError(value: unknown): value is ConnectorError | ErrorData {
  if (typeof value !== 'object' || value === null) return false;
  const code = (value as { code?: unknown }).code;
  return typeof code === 'string' && Object.hasOwn(ERROR_CATALOGUE, code);
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CATALOGUE, value);
}

/** Serialises any thrown value into catalogue data; unknown throwables become INTERNAL. */
export function toErrorData(error: unknown): ErrorData {
  if (isConnectorError(error)) {
    const e = error as ErrorData;
    const data: ErrorData = { code: e.code, message: String(e.message ?? e.code) };
    if (typeof e.retryAfter === 'number') data.retryAfter = e.retryAfter;
    if (typeof e.path === 'string') data.path = e.path;
    if (typeof e.upstreamStatus === 'number') data.upstreamStatus = e.upstreamStatus;
    if (e.details !== undefined) data.details = e.details;
    return data;
  }
  if (error instanceof Error) return { code: 'INTERNAL', message: error.message || error.name };
  return { code: 'INTERNAL', message: typeof error === 'string' ? error : 'Connector threw a non-error value' };
}

/** Rebuilds a throwable from {@link ErrorData}. */
export function fromErrorData(data: ErrorData): ConnectorError {
  const { code, message, ...extra } = data;
  return new ConnectorError(isErrorCode(code) ? code : 'INTERNAL', message, extra);
}

export function errorStatus(code: ErrorCode): number {
  return ERROR_CATALOGUE[code].status;
}

export function isRetryable(code: ErrorCode): boolean {
  return ERROR_CATALOGUE[code].retryable;
}
