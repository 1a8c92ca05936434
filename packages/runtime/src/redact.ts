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

/** A base64 piece shorter than this is not redacted on its own (it could match unrelated text). */
const MIN_BASE64_CORE = 8;

/**
 * The base64 characters that encode `bytes` wherever they sit in a longer base64 text: the encoding of 0, 1 or 2
 * bytes before it (its offset modulo 3) changes only the characters at its edges, which are left out.
 */
function base64Cores(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let offset = 0; offset < 3; offset += 1) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    // Characters 0-1 (offset 1) or 0-2 (offset 2) mix in the bytes before; the last group mixes in the bytes after.
    const start = offset === 0 ? 0 : offset + 1;
    const end = Math.floor((offset + bytes.length) / 3) * 4;
    if (end - start >= MIN_BASE64_CORE) out.push(padded.slice(start, end));
  }
  return out;
}

/**
 * The forms a secret can take on the wire. Built from a few base64 and one percent-encoding pass (the redactor is
 * made per execution, so this is on the hot path): base64 and base64url, also inside a longer base64 text (a
 * token in an encoded JSON blob); percent-encoding (upper- and lower-case hex) and form encoding (plus `!'()~`
 * escaped and space as `+`); JSON string escaping as JavaScript writes it, with `\/` for `/` (PHP) and with
 * `\uXXXX` for non-ASCII (Python). A secret split over several strings, or encoded otherwise, is not found.
 */
function variants(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const b64 = bytes.toString('base64');
  const unpadded = b64.replace(/=+$/, '');
  const urlSafe = (v: string) => v.replace(/\+/g, '-').replace(/\//g, '_');
  const uri = encodeURIComponent(secret);
  const form = uri.replace(/%20/g, '+').replace(FORM_EXTRA, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const lowerHex = (v: string) => v.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
  const json = JSON.stringify(secret).slice(1, -1);
  const cores = base64Cores(bytes);
  const out = new Set<string>([
    secret,
    b64,
    unpadded,
    urlSafe(unpadded),
    uri,
    lowerHex(uri),
    form,
    lowerHex(form),
    json,
    json.replace(/\//g, '\\/'),
    json.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    ...cores,
    ...cores.map(urlSafe),
  ]);
  return [...out].filter((v) => v.length >= MIN_SECRET_LENGTH);
}

/** Variants of recently seen secrets: building them is most of a redactor's cost, and each execution makes one. */
const VARIANT_CACHE_SIZE = 1024;
// Bounded by their length too: the cache lives as long as the process, and a secret can be long (a refreshed token of
// up to 64 Ki characters from a connector's own token endpoint, with some ten forms each several times longer), so
// 1,024 entries alone could hold gigabytes. A secret whose forms are longer than a sixteenth of this is not kept.
const VARIANT_CACHE_CHARS = 16 * 1024 * 1024;
const variantCache = new Map<string, { variants: readonly string[]; chars: number }>();
let variantCacheChars = 0;

/** What the variant cache holds (for tests). */
export function variantCacheUsage(): { entries: number; chars: number } {
  return { entries: variantCache.size, chars: variantCacheChars };
}

function cachedVariants(secret: string): readonly string[] {
  const found = variantCache.get(secret);
  if (found) {
    // Most recently used last, so the oldest entry is the first to go.
    variantCache.delete(secret);
    variantCache.set(secret, found);
    return found.variants;
  }
  const built = variants(secret);
  const chars = built.reduce((n, v) => n + v.length, 0);
  if (chars > VARIANT_CACHE_CHARS / 16) return built;
  variantCache.set(secret, { variants: built, chars });
  variantCacheChars += chars;
  while (variantCache.size > VARIANT_CACHE_SIZE || variantCacheChars > VARIANT_CACHE_CHARS) {
    const [oldest, entry] = variantCache.entries().next().value!;
    variantCache.delete(oldest);
    variantCacheChars -= entry.chars;
  }
  return built;
}

/**
 * Builds a redactor for a set of secret values: each value and its encoded forms (base64 and base64url, also inside
 * longer base64 text; URL- and form-encoded; JSON-escaped) are replaced by `[REDACTED]`.
 */
export function createRedactor(secrets: Iterable<string | undefined>): Redactor {
  const all = new Set<string>();
  for (const s of secrets) if (typeof s === 'string' && s.length >= MIN_SECRET_LENGTH) for (const v of cachedVariants(s)) all.add(v);
  // Longest first, so a secret that contains another is replaced whole.
  const needles = [...all].sort((a, b) => b.length - a.length);
  const shortest = needles.length === 0 ? 0 : needles[needles.length - 1]!.length;
  const text = (value: string): string => {
    if (value.length < shortest) return value;
    let out = value;
    for (const n of needles) if (out.includes(n)) out = out.split(n).join(REDACTED);
    return out;
  };
  // A copy with every string redacted. Iterative, because nothing may be left out however deep it nests (an upstream's
  // JSON nests as deep as it likes); own keys are defined, not assigned, so a "__proto__" key stays a plain key and
  // never becomes the copy's prototype. An object met twice (host error details may hold cycles) is copied once.
  const deep = (root: unknown): unknown => {
    const copies = new Map<object, unknown[] | Record<string, unknown>>();
    const pending: [source: object, target: unknown[] | Record<string, unknown>][] = [];
    const copyOf = (value: unknown): unknown => {
      if (typeof value === 'string') return text(value);
      if (value === null || typeof value !== 'object') return value;
      const known = copies.get(value);
      if (known) return known;
      const target: unknown[] | Record<string, unknown> = Array.isArray(value) ? [] : {};
      copies.set(value, target);
      pending.push([value, target]);
      return target;
    };
    const out = copyOf(root);
    for (let next = pending.pop(); next; next = pending.pop()) {
      const [source, target] = next;
      if (Array.isArray(source) && Array.isArray(target)) {
        for (const item of source) target.push(copyOf(item));
      } else {
        const copy = target as Record<string, unknown>;
        for (const [k, v] of Object.entries(source)) {
          const key = text(k);
          if (key === '__proto__') Object.defineProperty(copy, key, { value: copyOf(v), writable: true, enumerable: true, configurable: true });
          else copy[key] = copyOf(v);
        }
      }
    }
    return out;
  };
  return {
    text: needles.length === 0 ? (v) => v : text,
    value: <T>(v: T): T => (needles.length === 0 ? v : (deep(v) as T)),
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
