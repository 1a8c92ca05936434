import { describe, expect, it } from 'vitest';
import { createRedactor, REDACTED, secretsOf } from './redact.ts';

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

  it('ignores very short values', () => {
    expect(createRedactor(['ab']).text('abc')).toBe('abc');
  });
});
