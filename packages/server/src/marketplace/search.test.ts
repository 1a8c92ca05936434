import { describe, expect, it } from 'vitest';
import { prefixQuery } from './search.ts';

describe('prefixQuery', () => {
  it('makes the last word a prefix and requires every word', () => {
    expect(prefixQuery('stripe pay')).toBe('stripe & pay:*');
    expect(prefixQuery('Shop')).toBe('shop:*');
  });

  it('drops tsquery operators and punctuation so the query is always valid', () => {
    expect(prefixQuery("a:* | !b & 'c' (d)")).toBe('a & b & c & d:*');
    expect(prefixQuery('  --  ')).toBeNull();
    expect(prefixQuery('')).toBeNull();
  });

  it('keeps letters beyond ASCII', () => {
    expect(prefixQuery('Zahlungsüberweisung')).toBe('zahlungsüberweisung:*');
  });
});
