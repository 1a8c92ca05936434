/** A value as the JSON text a store keeps, or why no store can keep it. */
export type StorableJson = { ok: true; json: string; bytes: number } | { ok: false; problem: string; path: string };

// What JSON.stringify writes for a NUL character and for a lone surrogate (a pair is written as is), found only where
// it starts an escape: after an even number of backslashes, since a literal backslash is written as `\\`.
const NUL_ESCAPE = /(?<!\\)(?:\\\\)*\\u0000/;
const SURROGATE_ESCAPE = /(?<!\\)(?:\\\\)*\\ud[89a-f][0-9a-f]{2}/;
const LONE_SURROGATE = /\p{Surrogate}/u;

/** The JSON pointer of the first key or string of `value` that `bad` matches, or '' when none is found. */
function pathOf(value: unknown, bad: (text: string) => boolean, path = ''): string | undefined {
  if (typeof value === 'string') return bad(value) ? path : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, child] of Object.entries(value)) {
    const at = `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    if (bad(key)) return at;
    const found = pathOf(child, bad, at);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Serialises a payload or state for storage, refusing what PostgreSQL's jsonb cannot hold (a NUL character, a lone
 * UTF-16 surrogate: JSON allows both, so providers and connectors can produce them), what is not JSON at all
 * (BigInt, cycles), and more than `maxBytes`. Every store refuses the same, so a connector behaves alike on each;
 * the caller turns the problem into its error, and fails that one payload instead of a whole batch.
 * @example const r = storableJson(payload, MAX_EVENT_BYTES); if (!r.ok) throw new ConnectorError('INVALID_OUTPUT', `at ${r.path}: ${r.problem}`);
 */
export function storableJson(value: unknown, maxBytes = Number.POSITIVE_INFINITY): StorableJson {
  let json: string;
  try {
    json = JSON.stringify(value) ?? 'null';
  } catch (error) {
    return { ok: false, problem: `it is not JSON (${error instanceof Error ? error.message : String(error)}); use plain objects, arrays, strings, numbers and booleans`, path: '' };
  }
  const bytes = Buffer.byteLength(json);
  if (bytes > maxBytes) return { ok: false, problem: `it is ${bytes} bytes as JSON, more than the ${maxBytes} allowed`, path: '' };
  if (NUL_ESCAPE.test(json)) {
    return { ok: false, problem: 'a string contains a NUL character (\\u0000), which the store cannot keep; remove or replace it', path: pathOf(value, (s) => s.includes('\u0000')) ?? '' };
  }
  if (SURROGATE_ESCAPE.test(json)) {
    return { ok: false, problem: 'a string contains a lone UTF-16 surrogate (half of an emoji, cut in two), which the store cannot keep; cut strings by code point', path: pathOf(value, (s) => LONE_SURROGATE.test(s)) ?? '' };
  }
  return { ok: true, json, bytes };
}
