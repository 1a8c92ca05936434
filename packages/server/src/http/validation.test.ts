import { describe, expect, it } from 'vitest';
import { findNul } from './validation.ts';

describe('findNul', () => {
  it('finds a NUL in a string, an array item or an object key, as a JSON pointer', () => {
    expect(findNul('a\u0000')).toBe('');
    expect(findNul({ name: 'ok', nested: { list: ['x', 'y\u0000'] } })).toBe('/nested/list/1');
    expect(findNul({ fields: { 'k\u0000': 'v' } })).toBe('/fields/k\u0000');
    // Pointer tokens escape ~ and / (RFC 6901).
    expect(findNul({ 'a/b': { '~c': '\u0000' } })).toBe('/a~1b/~0c');
  });

  it('accepts input without NUL, including numbers, booleans, null and objects without a prototype', () => {
    const query = Object.create(null) as Record<string, unknown>;
    query.q = 'stripe';
    expect(findNul({ a: 1, b: true, c: null, d: [1, 'x'], e: query })).toBeUndefined();
    expect(findNul(undefined)).toBeUndefined();
  });

  it('walks 100,000 levels of nesting without recursion', () => {
    let deep: unknown = '\u0000';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findNul(deep)).toBe('/0'.repeat(100_000));
  });

  it('leaves raw bytes alone', () => {
    expect(findNul(Buffer.from([0x61, 0x00, 0x62]))).toBeUndefined();
  });
});
