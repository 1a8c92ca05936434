import { describe, expect, it } from 'vitest';
import { storableJson } from './storable-json.ts';

describe('storableJson', () => {
  it('gives the JSON text and its size for what a store can keep, escaped backslashes and emoji included', () => {
    expect(storableJson({ a: 'é😀', b: [1, null] })).toEqual({ ok: true, json: '{"a":"é😀","b":[1,null]}', bytes: 27 });
    // A literal backslash followed by "u0000" is not a NUL: JSON writes it as \\u0000.
    expect(storableJson({ s: '\\u0000 and \\ud83d' })).toMatchObject({ ok: true });
    expect(storableJson(undefined)).toMatchObject({ ok: true, json: 'null' });
  });

  it('refuses NUL characters and lone surrogates, in values or keys, with the JSON pointer of the first one', () => {
    expect(storableJson({ customer: { name: 'Bob\u0000' } })).toMatchObject({ ok: false, path: '/customer/name', problem: expect.stringContaining('NUL') });
    expect(storableJson({ list: [{ ['a/b\u0000']: 1 }] })).toMatchObject({ ok: false, path: '/list/0/a~1b\u0000', problem: expect.stringContaining('NUL') });
    expect(storableJson({ text: 'cut 😀'.slice(0, 5) })).toMatchObject({ ok: false, path: '/text', problem: expect.stringContaining('surrogate') });
    expect(storableJson('\\\u0000')).toMatchObject({ ok: false, path: '' });
  });

  it('refuses values that are not JSON and values over the size limit, saying which', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(storableJson({ n: 1n })).toMatchObject({ ok: false, problem: expect.stringContaining('not JSON') });
    expect(storableJson(cycle)).toMatchObject({ ok: false, problem: expect.stringContaining('not JSON') });
    expect(storableJson('x'.repeat(10), 11)).toMatchObject({ ok: false, problem: 'it is 12 bytes as JSON, more than the 11 allowed' });
    expect(storableJson('x'.repeat(9), 11)).toMatchObject({ ok: true, bytes: 11 });
  });
});
