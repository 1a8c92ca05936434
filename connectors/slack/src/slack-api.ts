import {
  ConnectorError,
  createHttpClient,
  parseRetryAfter,
  RateLimitedError,
  type ActionContext,
  type ErrorCode,
  type HttpClient,
  type HttpRequest,
  type HttpResponse,
} from '@businessos/connector-sdk';

/** How one Slack `error` string maps into the catalogue, and which param it is about (for the error's JSON path). */
interface SlackErrorRule {
  code: ErrorCode;
  hint: string;
  param?: string;
}

const AUTH: SlackErrorRule = { code: 'AUTH_FAILED', hint: 'the token is invalid or was revoked; reconnect the Slack workspace' };
const SCOPE: SlackErrorRule = { code: 'FORBIDDEN', hint: 'the app lacks a permission for this call; reinstall it with the scopes listed in the connector' };
const TRANSIENT: SlackErrorRule = { code: 'UPSTREAM_ERROR', hint: 'Slack had a temporary problem; retry later' };

/** Slack's documented error strings → catalogue codes. Anything not listed is NON_RETRYABLE (a logical failure). */
export const SLACK_ERRORS: Readonly<Record<string, SlackErrorRule>> = {
  not_authed: AUTH,
  invalid_auth: AUTH,
  token_revoked: AUTH,
  account_inactive: AUTH,
  two_factor_setup_required: AUTH,
  token_expired: { code: 'AUTH_EXPIRED', hint: 'the access token expired; the host refreshes it or the workspace must be reconnected' },
  missing_scope: SCOPE,
  not_allowed_token_type: SCOPE,
  no_permission: SCOPE,
  restricted_action: SCOPE,
  ekm_access_denied: SCOPE,
  team_access_not_granted: SCOPE,
  not_in_channel: { code: 'FORBIDDEN', hint: 'the bot is not a member of the channel; invite it with /invite @<bot>', param: 'channel' },
  ratelimited: { code: 'RATE_LIMITED', hint: 'Slack rate-limited the app; retry after the delay' },
  rate_limited: { code: 'RATE_LIMITED', hint: 'Slack rate-limited the app; retry after the delay' },
  channel_not_found: { code: 'NOT_FOUND', hint: 'no such channel, or it is private and the bot is not in it', param: 'channel' },
  users_not_found: { code: 'NOT_FOUND', hint: 'no user in this workspace has that email address', param: 'email' },
  user_not_found: { code: 'NOT_FOUND', hint: 'no such user', param: 'user' },
  message_not_found: { code: 'NOT_FOUND', hint: 'no message with that timestamp in the channel', param: 'timestamp' },
  thread_not_found: { code: 'NOT_FOUND', hint: 'no thread with that thread_ts', param: 'thread_ts' },
  is_archived: { code: 'CONFLICT', hint: 'the channel is archived; unarchive it or pick another', param: 'channel' },
  no_text: { code: 'INVALID_INPUT', hint: 'give text, blocks or attachments', param: 'text' },
  msg_too_long: { code: 'INVALID_INPUT', hint: 'the message text is too long (max 40,000 characters)', param: 'text' },
  invalid_blocks: { code: 'INVALID_INPUT', hint: 'the blocks are not valid Block Kit', param: 'blocks' },
  invalid_blocks_format: { code: 'INVALID_INPUT', hint: 'blocks must be an array of Block Kit objects', param: 'blocks' },
  too_many_attachments: { code: 'INVALID_INPUT', hint: 'at most 100 attachments', param: 'attachments' },
  invalid_name: { code: 'INVALID_INPUT', hint: 'not a known emoji name (use "thumbsup", without colons)', param: 'name' },
  too_many_reactions: { code: 'CONFLICT', hint: 'the message has the maximum number of reactions' },
  invalid_cursor: { code: 'INVALID_INPUT', hint: 'the pagination cursor is invalid or expired; start from the first page', param: 'cursor' },
  invalid_arguments: { code: 'INVALID_INPUT', hint: 'Slack rejected the arguments' },
  invalid_array_arg: { code: 'INVALID_INPUT', hint: 'an array argument was sent in a form Slack does not accept' },
  invalid_charset: { code: 'INVALID_INPUT', hint: 'the request charset is not UTF-8' },
  invalid_json: { code: 'INVALID_INPUT', hint: 'the JSON body is not valid' },
  json_not_object: { code: 'INVALID_INPUT', hint: 'the JSON body must be an object' },
  invalid_form_data: { code: 'INVALID_INPUT', hint: 'the form body is not valid' },
  internal_error: TRANSIENT,
  fatal_error: TRANSIENT,
  service_unavailable: TRANSIENT,
  request_timeout: TRANSIENT,
};

function headerValue(headers: Record<string, string>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/** The `{ ok: false, error }` of a Slack answer, if that is what it is. */
function slackFailure(data: unknown): { error: string; details: unknown } | undefined {
  if (!data || typeof data !== 'object' || !('ok' in data) || data.ok !== false) return undefined;
  const error = 'error' in data && typeof data.error === 'string' ? data.error : 'unknown_error';
  const details = 'response_metadata' in data ? { error, response_metadata: data.response_metadata } : { error };
  return { error, details };
}

/** Turns Slack's `ok: false` answer (HTTP 200) or an HTTP error into a catalogue error. */
export function slackError(request: Pick<HttpRequest, 'method' | 'url'>, response: HttpResponse): ConnectorError | undefined {
  const method = request.url.replace(/^.*\//, '').split('?')[0];
  const failure = slackFailure(response.data);
  const retryAfter = parseRetryAfter(headerValue(response.headers, 'retry-after'));
  if (!failure) {
    if (response.status === 429) return Object.assign(new RateLimitedError(retryAfter, `Slack ${method} was rate-limited; retry after ${retryAfter ?? 'a few'} seconds`), { upstreamStatus: 429 });
    if (response.status >= 200 && response.status < 300) return undefined;
    // Slack itself reports auth problems as ok:false with HTTP 200; proxies and gateways in between may not.
    const extra = { upstreamStatus: response.status, details: response.data };
    if (response.status === 401) return new ConnectorError('AUTH_FAILED', `Slack ${method} refused the token (HTTP 401); reconnect the Slack workspace`, extra);
    if (response.status === 403) return new ConnectorError('FORBIDDEN', `Slack ${method} is not allowed for this token (HTTP 403); reinstall the app with the needed scopes`, extra);
    const code: ErrorCode = response.status === 404 ? 'NOT_FOUND' : 'UPSTREAM_ERROR';
    return new ConnectorError(code, `Slack ${method} answered HTTP ${response.status}; retry later`, extra);
  }
  const rule = SLACK_ERRORS[failure.error];
  const extra = { upstreamStatus: response.status, details: failure.details, path: rule?.param ? `/${rule.param}` : undefined };
  if (!rule) {
    return new ConnectorError('NON_RETRYABLE', `Slack ${method} failed with "${failure.error}"; see https://api.slack.com/methods/${method} for what it means`, extra);
  }
  const message = `Slack ${method} failed with "${failure.error}": ${rule.hint}`;
  if (rule.code === 'RATE_LIMITED') return Object.assign(new RateLimitedError(retryAfter, message), extra);
  return new ConnectorError(rule.code, message, extra);
}

/**
 * The connector's HTTP client with Slack's conventions: a Slack answer with `ok: false` (sent with HTTP 200)
 * throws the mapped catalogue error, JSON bodies say `charset=utf-8` as Slack asks.
 */
export function slackClient(ctx: ActionContext): HttpClient {
  return createHttpClient(async (request) => {
    const headers = request.body === undefined ? request.headers : { 'content-type': 'application/json; charset=utf-8', ...request.headers };
    const response = await ctx.http.request({ ...request, headers, throwOnError: false });
    const error = slackError(request, response);
    if (error) throw error;
    return response;
  });
}
