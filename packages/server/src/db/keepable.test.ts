import { describe, expect, it } from 'vitest';
import { keepableJson, keepableJsonText, keepableText } from './keepable.ts';

describe('keepable values', () => {
  it('replaces NUL characters and lone surrogates, in text, strings and keys, by U+FFFD', () => {
    expect(keepableText('a\u0000b')).toBe('a\uFFFDb');
    expect(keepableText('cut x🙂'.slice(0, 6))).toBe('cut x\uFFFD');
    expect(keepableText('\udc00🙂\ud800')).toBe('\uFFFD🙂\uFFFD');
    const value = { message: 'a\u0000b', ['k\ud83d']: ['ok', 'x\ude42'], nested: { emoji: '🙂' } };
    expect(keepableJson(value)).toEqual({ message: 'a\uFFFDb', ['k\uFFFD']: ['ok', 'x\uFFFD'], nested: { emoji: '🙂' } });
    expect(keepableJsonText(value)).toBe('{"message":"a\\ufffdb","k\\ufffd":["ok","x\\ufffd"],"nested":{"emoji":"🙂"}}');
  });

  it('leaves well-formed values as they are: whole emoji, and a literal backslash-u in the text', () => {
    const value = { emoji: '🙂', escaped: '\\u0000 and \\ud83d', slash: '\\\u0000' };
    expect(keepableJson({ emoji: '🙂', escaped: '\\u0000 and \\ud83d' })).toEqual({ emoji: '🙂', escaped: '\\u0000 and \\ud83d' });
    const same = { a: 1 };
    expect(keepableJson(same)).toBe(same);
    // A literal backslash before a NUL: the backslash stays, the NUL goes.
    expect(keepableJson(value).slash).toBe('\\\uFFFD');
    expect(keepableJsonText(undefined)).toBe('null');
    expect(keepableJson(undefined)).toBeUndefined();
  });
});
