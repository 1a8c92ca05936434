import { ERROR_CATALOGUE, isConnectorError, type ErrorCode } from '@businessos/connector-sdk';

/** One invalid input: where (JSON pointer inside `in`) and what is wrong. */
export interface ProblemFieldError {
  /** JSON pointer into the request part, e.g. `/stars`; `` for the part itself. */
  path: string;
  /** Which part of the request: body, querystring, params or headers. */
  in: string;
  message: string;
}

/** The one error envelope of the HTTP API (RFC 9457 `application/problem+json`). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail: string;
  errors?: ProblemFieldError[];
  requestId?: string;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Longest path parameter the router accepts (Fastify's `maxParamLength`); longer ones answer 414. */
export const MAX_PARAM_LENGTH = 100;
const TYPE_BASE = 'https://businessos.dev/problems/';

const TITLES: Partial<Record<ErrorCode, string>> = {
  INVALID_INPUT: 'Invalid input',
  AUTH_FAILED: 'Authentication failed',
  AUTH_EXPIRED: 'Credentials expired or revoked',
  FORBIDDEN: 'Forbidden',
  NOT_FOUND: 'Not found',
  CONFLICT: 'Conflict',
  PAYLOAD_TOO_LARGE: 'Payload too large',
  RATE_LIMITED: 'Rate limited',
  NOT_IMPLEMENTED: 'Not implemented',
  INTERNAL: 'Internal error',
};

/**
 * An error a route throws on purpose. `code` comes from the SDK catalogue; `type` may name the precise
 * situation (e.g. `api-key-revoked`) where one catalogue code covers several.
 * @example throw new ProblemError('NOT_FOUND', `No connector with id ${id}`);
 */
export class ProblemError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: string | undefined;
  readonly errors: ProblemFieldError[] | undefined;
  constructor(code: ErrorCode, detail: string, options: { status?: number; type?: string; errors?: ProblemFieldError[] } = {}) {
    super(detail);
    this.name = 'ProblemError';
    this.code = code;
    this.status = options.status ?? ERROR_CATALOGUE[code].status;
    this.type = options.type;
    this.errors = options.errors;
  }
}

/** Builds the envelope for a code; `type` defaults to the code's own page. */
export function problem(code: ErrorCode, detail: string, extra: { status?: number; type?: string; errors?: ProblemFieldError[] } = {}): Problem {
  const out: Problem = {
    type: `${TYPE_BASE}${extra.type ?? code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[code] ?? code.toLowerCase().replace(/_/g, ' ').replace(/^\w/, (c) => c.toUpperCase()),
    status: extra.status ?? ERROR_CATALOGUE[code].status,
    code,
    detail,
  };
  if (extra.errors && extra.errors.length > 0) out.errors = extra.errors;
  return out;
}

interface AjvLikeError {
  instancePath?: string;
  keyword?: string;
  message?: string;
  params?: Record<string, unknown>;
}

/** Turns Ajv errors into field errors that name the full path, including a missing or unknown property. */
export function fieldErrors(errors: readonly AjvLikeError[], part: string): ProblemFieldError[] {
  return errors.map((e) => {
    let pointer = e.instancePath ?? '';
    let message = e.message ?? 'is invalid';
    const params = e.params ?? {};
    if (e.keyword === 'required' && typeof params.missingProperty === 'string') {
      pointer += `/${params.missingProperty}`;
      message = 'is required';
    } else if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
      pointer += `/${params.additionalProperty}`;
      message = 'is not a known field; remove it';
    } else if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) {
      message = `must be one of ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    return { path: pointer, in: part, message };
  });
}

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message?: string;
  validation?: AjvLikeError[];
  validationContext?: string;
}

/** Maps anything thrown while handling a request to the envelope. Unknown errors never reveal their message. */
export function toProblem(error: unknown): Problem {
  if (error instanceof ProblemError) {
    return problem(error.code, error.message, { status: error.status, ...(error.type ? { type: error.type } : {}), ...(error.errors ? { errors: error.errors } : {}) });
  }
  const e = (typeof error === 'object' && error !== null ? error : {}) as FastifyLikeError;
  if (Array.isArray(e.validation)) {
    const part = e.validationContext ?? 'body';
    const errors = fieldErrors(e.validation, part);
    const first = errors[0];
    // A body that is not an object at all was usually sent as text or form data, or not sent: say how to send it.
    const hint = part === 'body' && first?.path === '' && e.validation[0]?.keyword === 'type' ? '; send a JSON object with Content-Type: application/json' : '';
    const detail = first
      ? `Invalid ${part}: ${first.path || '(root)'} ${first.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}${hint}`
      : `Invalid ${part}`;
    return problem('INVALID_INPUT', detail, { errors });
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return problem('INVALID_INPUT', `The request body is not valid JSON (${e.message ?? 'parse error'}); send a JSON document`, { type: 'malformed-json' });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problem('INVALID_INPUT', 'The request body is empty but Content-Type is application/json; send a JSON document or no Content-Type', { type: 'malformed-json' });
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem('PAYLOAD_TOO_LARGE', 'The request body is larger than this service accepts (BOS_BODY_LIMIT); send less data');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem('INVALID_INPUT', 'Unsupported Content-Type; send application/json', { status: 415, type: 'unsupported-media-type' });
    case 'FST_ERR_BAD_URL':
      return problem('INVALID_INPUT', `The URL path is not valid percent-encoding (${e.message ?? 'bad escape'}); write a literal % as %25`, { type: 'malformed-url' });
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return problem('INVALID_INPUT', `A path segment of the URL is longer than ${MAX_PARAM_LENGTH} characters; check the URL`, { status: 414, type: 'uri-too-long' });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problem('INVALID_INPUT', 'Content-Length does not match the body sent', { type: 'malformed-request' });
    default:
      break;
  }
  if (isConnectorError(error)) {
    const data = error as { code: ErrorCode; message?: string; path?: string };
    return problem(data.code, String(data.message ?? data.code), data.path ? { errors: [{ path: data.path, in: 'body', message: String(data.message) }] } : {});
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const code: ErrorCode = e.statusCode === 404 ? 'NOT_FOUND' : e.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : e.statusCode === 429 ? 'RATE_LIMITED' : 'INVALID_INPUT';
    return problem(code, e.message ?? 'Bad request', { status: e.statusCode });
  }
  return problem('INTERNAL', 'An unexpected error occurred; it has been logged. Retry later or report the request id.');
}

/** JSON Schema of {@link Problem}, used as the error response of every route. */
export const problemSchema = {
  type: 'object',
  description: 'Error envelope (application/problem+json). `code` is stable; `detail` is for humans.',
  required: ['type', 'title', 'status', 'code', 'detail'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string', enum: Object.keys(ERROR_CATALOGUE) },
    detail: { type: 'string' },
    requestId: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'in', 'message'],
        properties: { path: { type: 'string' }, in: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
} as const;

/**
 * The envelope for a request Node's HTTP parser refused before Fastify saw it (no request id exists yet): malformed
 * HTTP, request line and headers over `maxHeaderBytes`, or a request not received in time.
 */
export function transportProblem(errorCode: string | undefined, maxHeaderBytes: number): Problem {
  if (errorCode === 'HPE_HEADER_OVERFLOW') {
    return problem('INVALID_INPUT', `The URL and headers are larger than this service accepts (${maxHeaderBytes} bytes in all); shorten the URL or send fewer or shorter headers`, {
      status: 431,
      type: 'headers-too-large',
    });
  }
  if (errorCode === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return problem('TIMEOUT', 'The request was not received completely in time; send it again', { status: 408, type: 'request-timeout' });
  }
  return problem('INVALID_INPUT', `The request is not valid HTTP/1.1${errorCode ? ` (${errorCode})` : ''}; check the method, Content-Length and Transfer-Encoding`, {
    type: 'malformed-request',
  });
}
