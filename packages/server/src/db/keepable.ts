// PostgreSQL text and jsonb hold neither a NUL character nor a lone UTF-16 surrogate (half of an emoji), yet JSON
// allows both, so error messages from providers and connector code can carry them. What must be recorded whatever
// it says (an execution's error, an audit entry, a usage record) is kept with those characters replaced by U+FFFD
// instead of failing its write; a connector *result* is refused instead (see `storableJson`), as changing data
// would be silent.

// A lone surrogate: with the u flag a whole pair reads as one code point, so only a half matches.
const LONE_SURROGATES = /\p{Surrogate}/gu;
// What JSON.stringify writes for a NUL and for a lone surrogate (a pair is written as is), only where it starts an
// escape: after an even number of backslashes, since a literal backslash is written as `\\`.
const NUL_ESCAPES = /(?<!\\)((?:\\\\)*)\\u0000/g;
const SURROGATE_ESCAPES = /(?<!\\)((?:\\\\)*)\\ud[89a-f][0-9a-f]{2}/g;
const UNKEEPABLE_ESCAPE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/;

/** JSON text with its NUL and lone-surrogate escapes turned into U+FFFD escapes. */
const replaceEscapes = (json: string): string => json.replace(NUL_ESCAPES, '$1\\ufffd').replace(SURROGATE_ESCAPES, '$1\\ufffd');

/**
 * `text` with every NUL character and lone UTF-16 surrogate replaced by U+FFFD; `text` itself when it has none.
 * @example keepableText('a\u0000b') // 'a\uFFFDb'
 */
export function keepableText(text: string): string {
  return text.replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATES, '\uFFFD');
}

/**
 * `value` as JSON text jsonb can hold: every NUL character and lone surrogate in a string or key is replaced by
 * U+FFFD. `value` must be JSON data (it throws for a BigInt or a cycle, as JSON.stringify does); undefined is `null`.
 * @example await tx.query('INSERT ... VALUES ($1)', [keepableJsonText(details)]);
 */
export function keepableJsonText(value: unknown): string {
  const json = JSON.stringify(value) ?? 'null';
  return UNKEEPABLE_ESCAPE.test(json) ? replaceEscapes(json) : json;
}

/**
 * `value` (JSON data) as {@link keepableJsonText} keeps it: `value` itself when nothing needed replacing, else a copy.
 * Use it where the caller is answered with what is recorded, so the two say the same.
 * @example const error = keepableJson(toErrorData(thrown));
 */
export function keepableJson<T>(value: T): T {
  const json = JSON.stringify(value);
  if (json === undefined || !UNKEEPABLE_ESCAPE.test(json)) return value;
  return JSON.parse(replaceEscapes(json)) as T;
}
