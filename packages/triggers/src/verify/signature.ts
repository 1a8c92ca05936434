import { createHmac } from 'node:crypto';
import { ConnectorError, type ErrorCode, type SignatureSpec } from '@businessos/connector-sdk';
import { decodeSignature, digestEquals } from './constant-time.ts';
import { normalizeHeaders, type RawHeaders } from './headers.ts';

/** Why a delivery's signature was refused. */
export type VerifyFailure =
  | 'missing_secret'
  | 'invalid_spec'
  | 'missing_header'
  | 'malformed_header'
  | 'stale_timestamp'
  | 'signature_mismatch';

/**
 * Outcome of {@link verifySignature}. `timestamp` (Unix seconds) is the signed timestamp for schemes that have one.
 * `code` is a catalogue code: AUTH_FAILED for anything the sender got wrong, INTERNAL when our side is misconfigured.
 */
export type VerifyResult =
  | { ok: true; timestamp?: number }
  | { ok: false; code: ErrorCode; failure: VerifyFailure; reason: string };

export interface VerifyInput {
  /** The body exactly as received, before any JSON or form parsing. */
  rawBody: Buffer;
  headers: RawHeaders;
  /** The resolved signing secret; undefined when none is configured (verification then fails closed). */
  secret: string | undefined;
  /** Current time, epoch milliseconds. */
  now: number;
}

/** Default timestamp window of the schemes that sign a timestamp: Stripe's and Slack's documented 5 minutes. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

const fail = (failure: VerifyFailure, reason: string, code: ErrorCode = 'AUTH_FAILED'): VerifyResult => ({ ok: false, code, failure, reason });

function hmac(algorithm: string, secret: string, parts: (string | Buffer)[]): Buffer {
  const h = createHmac(algorithm, secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

function parseUnixSeconds(value: string): number | undefined {
  return /^\d{1,12}$/.test(value.trim()) ? Number(value.trim()) : undefined;
}

function checkWindow(timestamp: number, now: number, toleranceSeconds: number, header: string): VerifyResult | undefined {
  if (toleranceSeconds <= 0) return undefined;
  const skew = Math.abs(now / 1000 - timestamp);
  if (skew > toleranceSeconds) {
    return fail('stale_timestamp', `${header} ${timestamp} is ${Math.round(skew)} s away from the server clock (tolerance ${toleranceSeconds} s); a replayed or delayed delivery is refused`);
  }
  return undefined;
}

function verifyShopify(input: VerifyInput, secret: string, h: Record<string, string>): VerifyResult {
  const header = h['x-shopify-hmac-sha256'];
  if (header === undefined) return fail('missing_header', 'X-Shopify-Hmac-Sha256 header is missing');
  const provided = decodeSignature(header, 'base64');
  if (!provided) return fail('malformed_header', 'X-Shopify-Hmac-Sha256 is not base64');
  const expected = hmac('sha256', secret, [input.rawBody]);
  return digestEquals(expected, provided) ? { ok: true } : fail('signature_mismatch', 'X-Shopify-Hmac-Sha256 does not match the body; check the app\'s webhook secret');
}

function verifyGithub(input: VerifyInput, secret: string, h: Record<string, string>): VerifyResult {
  const header = h['x-hub-signature-256'];
  if (header === undefined) return fail('missing_header', 'X-Hub-Signature-256 header is missing');
  if (!header.startsWith('sha256=')) return fail('malformed_header', 'X-Hub-Signature-256 must start with "sha256="');
  const provided = decodeSignature(header.slice('sha256='.length), 'hex');
  if (!provided) return fail('malformed_header', 'X-Hub-Signature-256 is not sha256=<hex>');
  const expected = hmac('sha256', secret, [input.rawBody]);
  return digestEquals(expected, provided) ? { ok: true } : fail('signature_mismatch', 'X-Hub-Signature-256 does not match the body; check the webhook secret');
}

function verifyStripe(input: VerifyInput, secret: string, h: Record<string, string>, tolerance: number): VerifyResult {
  const header = h['stripe-signature'];
  if (header === undefined) return fail('missing_header', 'Stripe-Signature header is missing');
  let t: string | undefined;
  const v1: string[] = [];
  for (const item of header.split(',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) continue;
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (key === 't') t = value;
    else if (key === 'v1') v1.push(value);
  }
  const timestamp = t === undefined ? undefined : parseUnixSeconds(t);
  if (timestamp === undefined) return fail('malformed_header', 'Stripe-Signature has no valid t=<unix seconds> element');
  if (v1.length === 0) return fail('malformed_header', 'Stripe-Signature has no v1 signature (only v1 is accepted)');
  const stale = checkWindow(timestamp, input.now, tolerance, 'Stripe-Signature t=');
  if (stale) return stale;
  const expected = hmac('sha256', secret, [`${t}.`, input.rawBody]);
  // Every v1 is compared (no early exit): during secret rotation Stripe sends one per active secret.
  let matched = false;
  for (const candidate of v1) {
    const provided = decodeSignature(candidate, 'hex') ?? Buffer.alloc(0);
    matched = digestEquals(expected, provided) || matched;
  }
  return matched ? { ok: true, timestamp } : fail('signature_mismatch', 'No v1 signature in Stripe-Signature matches the body; check the endpoint\'s signing secret (whsec_...)');
}

function verifySlack(input: VerifyInput, secret: string, h: Record<string, string>, tolerance: number): VerifyResult {
  const header = h['x-slack-signature'];
  const ts = h['x-slack-request-timestamp'];
  if (header === undefined) return fail('missing_header', 'X-Slack-Signature header is missing');
  if (ts === undefined) return fail('missing_header', 'X-Slack-Request-Timestamp header is missing');
  const timestamp = parseUnixSeconds(ts);
  if (timestamp === undefined) return fail('malformed_header', 'X-Slack-Request-Timestamp is not Unix seconds');
  if (!header.startsWith('v0=')) return fail('malformed_header', 'X-Slack-Signature must start with "v0="');
  const provided = decodeSignature(header.slice(3), 'hex');
  if (!provided) return fail('malformed_header', 'X-Slack-Signature is not v0=<hex>');
  const stale = checkWindow(timestamp, input.now, tolerance, 'X-Slack-Request-Timestamp');
  if (stale) return stale;
  const expected = hmac('sha256', secret, [`v0:${ts.trim()}:`, input.rawBody]);
  return digestEquals(expected, provided) ? { ok: true, timestamp } : fail('signature_mismatch', 'X-Slack-Signature does not match the body; check the app\'s signing secret');
}

type HmacSpec = Extract<SignatureSpec, { scheme: 'hmac' }>;

const PLACEHOLDER = /\{(body|timestamp|header:[A-Za-z0-9-]+)\}/g;

/** Builds what a generic HMAC signs from its template: `{body}` (raw bytes), `{timestamp}`, `{header:Name}`. */
function signedPayload(template: string, rawBody: Buffer, headers: Record<string, string>, timestamp: string | undefined): (string | Buffer)[] | string {
  const parts: (string | Buffer)[] = [];
  let last = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    parts.push(template.slice(last, m.index));
    const name = m[1] ?? '';
    if (name === 'body') parts.push(rawBody);
    else if (name === 'timestamp') {
      if (timestamp === undefined) return 'the payload template uses {timestamp} but the spec declares no timestampHeader';
      parts.push(timestamp);
    } else {
      const value = headers[name.slice('header:'.length).toLowerCase()];
      if (value === undefined) return `header ${name.slice('header:'.length)} used by the payload template is missing`;
      parts.push(value);
    }
    last = m.index + m[0].length;
  }
  parts.push(template.slice(last));
  return parts;
}

function verifyHmac(input: VerifyInput, secret: string, h: Record<string, string>, spec: HmacSpec): VerifyResult {
  if (!['sha1', 'sha256', 'sha512'].includes(spec.algorithm)) return fail('invalid_spec', `verify.algorithm "${spec.algorithm}" is not sha1, sha256 or sha512`, 'INTERNAL');
  if (spec.encoding !== 'hex' && spec.encoding !== 'base64') return fail('invalid_spec', `verify.encoding "${String(spec.encoding)}" is not hex or base64`, 'INTERNAL');
  if (!spec.header) return fail('invalid_spec', 'verify.header is required for the hmac scheme', 'INTERNAL');
  const header = h[spec.header.toLowerCase()];
  if (header === undefined) return fail('missing_header', `${spec.header} header is missing`);
  let value = header.trim();
  if (spec.prefix) {
    if (!value.startsWith(spec.prefix)) return fail('malformed_header', `${spec.header} must start with "${spec.prefix}"`);
    value = value.slice(spec.prefix.length);
  }
  const provided = decodeSignature(value, spec.encoding);
  if (!provided) return fail('malformed_header', `${spec.header} is not ${spec.encoding}`);
  let timestamp: number | undefined;
  let rawTimestamp: string | undefined;
  if (spec.timestampHeader) {
    rawTimestamp = h[spec.timestampHeader.toLowerCase()]?.trim();
    if (rawTimestamp === undefined) return fail('missing_header', `${spec.timestampHeader} header is missing`);
    timestamp = parseUnixSeconds(rawTimestamp);
    if (timestamp === undefined) return fail('malformed_header', `${spec.timestampHeader} is not Unix seconds`);
    const stale = checkWindow(timestamp, input.now, spec.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS, spec.timestampHeader);
    if (stale) return stale;
  }
  const parts = signedPayload(spec.payload ?? '{body}', input.rawBody, h, rawTimestamp);
  if (typeof parts === 'string') return fail('invalid_spec', `verify.payload: ${parts}`, 'INTERNAL');
  const expected = hmac(spec.algorithm, secret, parts);
  if (!digestEquals(expected, provided)) return fail('signature_mismatch', `${spec.header} does not match the body; check the signing secret`);
  return timestamp === undefined ? { ok: true } : { ok: true, timestamp };
}

/**
 * Verifies a webhook delivery against the connector's declared {@link SignatureSpec}, on the raw body bytes,
 * with constant-time comparisons. Fails closed: no secret, an unknown scheme or a missing header all refuse.
 *
 * @example
 * const result = verifySignature({ scheme: 'github', secret: 'subscription' }, { rawBody, headers, secret, now: Date.now() });
 * if (!result.ok) reply.code(401).send({ error: { code: result.code, message: result.reason } });
 */
export function verifySignature(spec: SignatureSpec, input: VerifyInput): VerifyResult {
  if (!input.secret) return fail('missing_secret', `No signing secret is configured for this ${spec.scheme} webhook (secret source ${spec.secret}); re-enable the trigger or set the secret`, 'INTERNAL');
  const h = normalizeHeaders(input.headers);
  switch (spec.scheme) {
    case 'shopify':
      return verifyShopify(input, input.secret, h);
    case 'github':
      return verifyGithub(input, input.secret, h);
    case 'stripe':
      return verifyStripe(input, input.secret, h, spec.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS);
    case 'slack':
      return verifySlack(input, input.secret, h, spec.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS);
    case 'hmac':
      return verifyHmac(input, input.secret, h, spec);
    default:
      return fail('invalid_spec', `Unknown signature scheme "${String((spec as { scheme?: unknown }).scheme)}"`, 'INTERNAL');
  }
}

/**
 * Signs a body the way the provider of `spec` would, returning the headers to send: for tests, mock providers
 * and benchmarks. `timestamp` is Unix seconds (used by Stripe, Slack and hmac specs with a timestampHeader).
 */
export function signDelivery(spec: SignatureSpec, secret: string, rawBody: Buffer | string, timestamp = Math.floor(Date.now() / 1000)): Record<string, string> {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody) : rawBody;
  switch (spec.scheme) {
    case 'shopify':
      return { 'x-shopify-hmac-sha256': hmac('sha256', secret, [body]).toString('base64') };
    case 'github':
      return { 'x-hub-signature-256': `sha256=${hmac('sha256', secret, [body]).toString('hex')}` };
    case 'stripe':
      return { 'stripe-signature': `t=${timestamp},v1=${hmac('sha256', secret, [`${timestamp}.`, body]).toString('hex')}` };
    case 'slack':
      return {
        'x-slack-request-timestamp': String(timestamp),
        'x-slack-signature': `v0=${hmac('sha256', secret, [`v0:${timestamp}:`, body]).toString('hex')}`,
      };
    case 'hmac': {
      const headers: Record<string, string> = {};
      if (spec.timestampHeader) headers[spec.timestampHeader.toLowerCase()] = String(timestamp);
      const parts = signedPayload(spec.payload ?? '{body}', body, headers, spec.timestampHeader ? String(timestamp) : undefined);
      if (typeof parts === 'string') throw new ConnectorError('INVALID_INPUT', `signDelivery: ${parts}`, { path: '/payload' });
      headers[spec.header.toLowerCase()] = `${spec.prefix ?? ''}${hmac(spec.algorithm, secret, parts).toString(spec.encoding)}`;
      return headers;
    }
    default:
      throw new ConnectorError('INVALID_INPUT', `signDelivery: unknown scheme ${String((spec as { scheme?: unknown }).scheme)}`, { path: '/scheme' });
  }
}
