import { describe, expect, it } from 'vitest';
import { createRedactor, REDACTED, secretsOf, variantCacheUsage } from './redact.ts';

describe('redaction', () => {
  const secret = 'sk_live_51H+abc/def=';
  const r = createRedactor([secret]);

  it('replaces the raw value and its encoded forms', () => {
    expect(r.text(`key=${secret}`)).toBe(`key=${REDACTED}`);
    expect(r.text(Buffer.from(secret).toString('base64'))).toBe(REDACTED);
    expect(r.text(Buffer.from(secret).toString('base64url'))).toBe(REDACTED);
    expect(r.text(`?k=${encodeURIComponent(secret)}`)).toBe(`?k=${REDACTED}`);
    expect(r.text(new URLSearchParams({ k: secret }).toString())).toBe(`k=${REDACTED}`);
  });

  it('matches the encoders it imitates for awkward characters', () => {
    for (const odd of ["p a!s'(s)~w*o-r_d.é€😀+/=", 'a\u0000b"c\\d\ne€e', '~~~~~~~~']) {
      const red = createRedactor([odd]);
      const encoded = [
        Buffer.from(odd).toString('base64'),
        Buffer.from(odd).toString('base64').replace(/=+$/, ''),
        Buffer.from(odd).toString('base64url'),
        encodeURIComponent(odd),
        new URLSearchParams({ k: odd }).toString().slice(2),
        JSON.stringify(odd).slice(1, -1),
      ];
      for (const form of encoded) expect(red.text(`<${form}>`)).toBe(`<${REDACTED}>`);
    }
  });

  it('finds encodings other encoders produce: lower-case percent-encoding, \\/ and \\u escapes, base64 inside base64', () => {
    for (const form of [
      encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
      JSON.stringify(secret).slice(1, -1).replace(/\//g, '\\/'),
    ]) expect(r.text(`<${form}>`)).toBe(`<${REDACTED}>`);
    const accented = 'pässwörd-123456';
    const python = JSON.stringify(accented).slice(1, -1).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    expect(createRedactor([accented]).text(python)).toBe(REDACTED);
    // A token inside an encoded JSON blob, at each of the three alignments base64 can put it at.
    for (const before of ['{"t":"', '{"tk":"', '{"tok":"']) {
      const blob = Buffer.from(`${before}${secret}","exp":1}`).toString('base64');
      expect(r.text(blob)).toContain(REDACTED);
      expect(Buffer.from(r.text(blob).replace(REDACTED, ''), 'base64').toString('latin1')).not.toContain(secret.slice(2, -2));
      expect(r.text(Buffer.from(`${before}${secret}","exp":1}`).toString('base64url'))).toContain(REDACTED);
    }
  });

  it('redacts however deep a value nests, and a "__proto__" key never becomes the copy\'s prototype', () => {
    let nested: unknown = { token: secret };
    for (let i = 0; i < 1000; i += 1) nested = [nested];
    expect(JSON.stringify(r.value(nested))).not.toContain(secret);
    const hostile = JSON.parse(`{"__proto__":{"admin":true,"k":"${secret}"},"a":1}`) as Record<string, unknown>;
    const copy = r.value(hostile);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(copy.admin).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(copy, '__proto__')?.value).toEqual({ admin: true, k: REDACTED });
    const cyclic: Record<string, unknown> = { k: secret };
    cyclic.self = cyclic;
    const again = r.value(cyclic);
    expect(again.self).toBe(again);
    expect(again.k).toBe(REDACTED);
  });

  it('redacts deep inside values, keys included, without touching the input', () => {
    const input = { a: [{ b: `token ${secret}` }], [secret]: 1, n: 5 };
    expect(r.value(input)).toEqual({ a: [{ b: `token ${REDACTED}` }], [REDACTED]: 1, n: 5 });
    expect(input.a[0]!.b).toContain(secret);
  });

  it('collects the secrets of a connection, including basic pairs and secret fields', () => {
    const list = secretsOf(
      { username: 'user', password: 'hunter22', apiKey: 'key-123456', fields: { shop: 'acme', signing: 'whsec_xyz987' } },
      { type: 'basic', fields: { shop: { type: 'string', label: 'Shop' }, signing: { type: 'string', label: 'S', secret: true } } },
    );
    expect(list).toEqual(expect.arrayContaining(['hunter22', 'key-123456', 'user:hunter22', 'whsec_xyz987']));
    expect(list).not.toContain('acme');
    const basic = createRedactor(list);
    expect(basic.text(`Basic ${Buffer.from('user:hunter22').toString('base64')}`)).toBe(`Basic ${REDACTED}`);
  });

  it('treats the user name of password-less basic auth as the secret (an API key sent as the user, as Stripe does)', () => {
    const key = 'sk_test_4eC39HqLyjWDarjtT1zdp7dc';
    const list = secretsOf({ username: key }, { type: 'basic' });
    const redactor = createRedactor(list);
    expect(redactor.text(`Basic ${Buffer.from(`${key}:`).toString('base64')}`)).toBe(`Basic ${REDACTED}`);
    expect(redactor.text(`key ${key}`)).toBe(`key ${REDACTED}`);
    // With a password, the user name alone is not a secret.
    expect(secretsOf({ username: 'ada', password: 'hunter22' }, { type: 'basic' })).not.toContain('ada');
  });

  it('keeps the encoded forms of long secrets within a bound: the cache lives as long as the process', () => {
    // Refreshed tokens of 64 Ki characters (the refresher's limit), a new one each time, as a hostile token endpoint sends them.
    const long = (i: number) => `tok-${i}-`.padEnd(64 * 1024, 'abcdefghij');
    for (let i = 0; i < 60; i += 1) createRedactor([long(i)]);
    expect(variantCacheUsage().chars).toBeLessThanOrEqual(16 * 1024 * 1024);
    // Redaction itself is unchanged, for a secret still cached and for one whose forms are too long to keep.
    expect(createRedactor([long(59)]).text(`a ${Buffer.from(long(59)).toString('base64')} b`)).toBe(`a ${REDACTED} b`);
    const wide = 'é'.repeat(64 * 1024);
    expect(createRedactor([wide]).text(`<${encodeURIComponent(wide)}>`)).toBe(`<${REDACTED}>`);
    expect(variantCacheUsage().chars).toBeLessThanOrEqual(16 * 1024 * 1024);
  });

  it('ignores very short values', () => {
    expect(createRedactor(['ab']).text('abc')).toBe('abc');
  });
});
