// Removing credentials from recorded traffic before it is written into a fixtures file that may be committed.

/** Headers that are never written into a recorded fixture. */
export const SECRET_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'apikey',
  'x-auth-token',
  'x-access-token',
  'x-shopify-access-token',
  'x-csrf-token',
  'x-xsrf-token',
]);

/** Placeholder written instead of a secret value. */
export const REDACTED = '[REDACTED]';

/** Key names whose values are secrets whatever they look like. */
const SECRET_KEY_RE = /(^|[_-])(secret|password|passwd|pwd|token|api[_-]?key|apikey|authorization|auth|cookie|session|signature|private[_-]?key|client[_-]?secret|credentials?)($|[_-])|token$|secret$|password$|apikey$/i;

/** Value shapes of well-known credentials (Stripe, Slack, GitHub, Shopify, AWS, JWTs, bearer strings, PEM keys). */
const SECRET_VALUE_RES: readonly RegExp[] = [
  /^(sk|rk|pk)_(live|test)_[A-Za-z0-9]{8,}$/,
  /^whsec_[A-Za-z0-9+/=]{8,}$/,
  /^xox[abposr]-[A-Za-z0-9-]{8,}$/,
  /^(ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{16,}$/,
  /^shp(at|ss|ca|pa)_[A-Fa-f0-9]{16,}$/,
  /^AKIA[0-9A-Z]{16}$/,
  /^eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*$/,
  /^(bearer|basic|token)\s+\S{8,}$/i,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
  /^(mat|mrt|mac)_[A-Za-z0-9_-]{16,}$/,
];

/** True when a key name says its value is a secret (`client_secret`, `apiKey`, `access_token`...). */
export function isSecretKey(key: string): boolean {
  // camelCase → snake_case so `apiKey` and `accessToken` are recognised like `api_key` and `access_token`.
  const snake = key.replace(/([a-z0-9])([A-Z])/g, '$1_$2');
  if (/^(token_type|expires_in|auth_type|authorization_url|token_url)$/i.test(snake)) return false;
  // Pagination cursors are not credentials, and a recording needs them to replay.
  if (/(page|next|prev|previous|continuation|sync|cursor)_token$/i.test(snake)) return false;
  return SECRET_KEY_RE.test(snake);
}

/** True when a string looks like a credential whatever its key is called. */
export function isSecretValue(value: string): boolean {
  return SECRET_VALUE_RES.some((re) => re.test(value.trim()));
}

/**
 * A deep copy of `value` with secrets replaced by {@link REDACTED}: values under secret-looking keys and
 * strings shaped like known credentials. `extra` lists literal values to hide too (e.g. the credentials in use).
 */
export function redactSecrets(value: unknown, extra: readonly string[] = []): unknown {
  const literals = extra.filter((s) => s.length >= 4);
  const walk = (v: unknown, key: string | undefined): unknown => {
    if (key !== undefined && isSecretKey(key) && v !== null && typeof v !== 'object' && typeof v !== 'boolean') return REDACTED;
    if (typeof v === 'string') {
      if (isSecretValue(v)) return REDACTED;
      let out = v;
      for (const lit of literals) out = out.split(lit).join(REDACTED);
      return out;
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, undefined));
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    return v;
  };
  return walk(value, undefined);
}

/** Drops secret headers and redacts secret-looking values in the rest; names are lower-cased. */
export function redactHeaders(headers: Record<string, string>, extra: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    // Custom API-key headers (`X-Key`, `X-Shop-Key`) are as secret as the well-known ones.
    if (SECRET_HEADERS.has(lower) || /(^|-)key$/.test(lower)) continue;
    out[lower] = isSecretKey(lower) ? REDACTED : (redactSecrets(value, extra) as string);
  }
  return out;
}

/** Drops query parameters that carry credentials (`api_key`, `access_token`...) and redacts secret-looking values. */
export function redactQuery(query: Record<string, string | string[]>, extra: readonly string[] = []): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(query)) {
    if (isSecretKey(name)) continue;
    out[name] = redactSecrets(value, extra) as string | string[];
  }
  return out;
}
