/**
 * Reads an RFC 6901 JSON pointer (`/data/object/id`, `~1` for `/`, `~0` for `~`) from a parsed JSON value.
 * `''` is the whole value; a missing step gives undefined.
 */
export function readPointer(value: unknown, pointer: string): unknown {
  if (pointer === '') return value;
  if (!pointer.startsWith('/')) return undefined;
  let current: unknown = value;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      if (!/^(0|[1-9]\d*)$/.test(key)) return undefined;
      current = current[Number(key)];
    } else if (current !== null && typeof current === 'object') {
      if (!Object.hasOwn(current, key)) return undefined;
      current = (current as Record<string, unknown>)[key];
    } else return undefined;
  }
  return current;
}
