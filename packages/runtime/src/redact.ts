import type { Credentials, AuthSpec } from '@businessos/connector-sdk';

/** What replaces a secret. */
export const REDACTED = '[REDACTED]';

/** Replaces secret values in strings and JSON values. */
export interface Redactor {
  text(value: string): string;
  /** A deep copy of a JSON value with secrets replaced in every string (keys included). */
  value<T>(value: T): T;
  /** True when there is nothing to redact. */
  readonly empty: boolean;
}

/** Secrets shorter than this are not redacted (replacing "a" everywhere would garble every output). */
const MIN_SECRET_LENGTH = 6;

const FORM_EXTRA = /[!'()~]/g;

/**
 * The forms a secret can take on the wire. Built from one base64 and one percent-encoding pass (the
 * redactor is made per execution, so this is on the hot path): base64url is base64 with `-_` and no
 * padding; form encoding is percent-encoding plus `!'()~` escaped and space as `+`.
 */
function variants(secret: string): string[] {
  const b64 = Buffer.from(secret, 'utf8').toString('base64');
  const unpadded = b64.replace(/=+$/, '');
  const uri = encodeURIComponent(secret);
  const out = new Set<string>([
    secret,
    b64,
    unpadded,
    unpadded.replace(/\+/g, '-').replace(/\//g, '_'),
    uri,
    uri.replace(/%20/g, '+').replace(FORM_EXTRA, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    JSON.stringify(secret).slice(1, -1),
  ]);
  return [...out].filter((v) => v.length >= MIN_SECRET_LENGTH);
}

/**
 * Builds a redactor for a set of secret values: each value and its base64, base64url, URL-encoded, form-encoded
 * and JSON-escaped forms are replaced by `[REDACTED]`.
 */
export function createRedactor(secrets: Iterable<string | undefined>): Redactor {
  const all = new Set<string>();
  for (const s of secrets) if (typeof s === 'string' && s.length >= MIN_SECRET_LENGTH) for (const v of variants(s)) all.add(v);
  // Longest first, so a secret that contains another is replaced whole.
  const needles = [...all].sort((a, b) => b.length - a.length);
  const text = (value: string): string => {
    let out = value;
    for (const n of needles) if (out.includes(n)) out = out.split(n).join(REDACTED);
    return out;
  };
  const deep = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return text(value);
    if (value === null || typeof value !== 'object' || depth > 200) return value;
    if (Array.isArray(value)) return value.map((v) => deep(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[text(k)] = deep(v, depth + 1);
    return out;
  };
  return {
    text: needles.length === 0 ? (v) => v : text,
    value: <T>(v: T): T => (needles.length === 0 ? v : (deep(v, 0) as T)),
    empty: needles.length === 0,
  };
}

/**
 * The secret values of a connection: API key, password, tokens, the basic-auth pair and the values of
 * connection fields the auth spec marks secret. Extra values (such as an OAuth client secret) may be added.
 */
export function secretsOf(credentials: Credentials | undefined, spec?: AuthSpec, extra: (string | undefined)[] = []): string[] {
  if (!credentials) return extra.filter((s): s is string => typeof s === 'string');
  const c = credentials;
  const list = [c.apiKey, c.password, c.token, c.accessToken, c.refreshToken, ...extra];
  if (c.username !== undefined && c.password !== undefined) list.push(`${c.username}:${c.password}`);
  if (spec?.type === 'basic' && c.username !== undefined && !c.password) {
    // Basic auth with no password (Stripe's style: the API key is the user name): the user name is the secret, and
    // the Authorization header carries base64("key:").
    list.push(c.username, `${c.username}:`);
  }
  for (const [name, field] of Object.entries(spec?.fields ?? {})) if (field.secret && c.fields?.[name]) list.push(c.fields[name]);
  return list.filter((s): s is string => typeof s === 'string' && s.length > 0);
}
