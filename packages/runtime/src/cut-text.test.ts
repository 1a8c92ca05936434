import { describe, expect, it } from 'vitest';
import { cutText } from './cut-text.ts';

describe('cutText', () => {
  it('cuts to at most max code units, never between the halves of a surrogate pair', () => {
    expect(cutText('ab🙂', 3)).toBe('ab');
    expect(cutText('ab🙂', 4)).toBe('ab🙂');
    expect(cutText('ab🙂c', 4)).toBe('ab🙂');
    expect(cutText('abcdef', 3)).toBe('abc');
    expect(cutText('🙂🙂', 1)).toBe('');
    expect(cutText('short', 100)).toBe('short');
    // Each cut of a string of emoji stays well formed.
    const emoji = '🙂'.repeat(30);
    for (let max = 0; max <= emoji.length; max++) expect(cutText(emoji, max)).not.toMatch(/\p{Surrogate}/u);
  });
});
