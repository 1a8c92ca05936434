// Signature verification attacked the way a hostile sender would: look-alike encodings, wrong lengths, ambiguous
// headers, shifted timestamps. signature.test.ts covers the documented happy paths; this file covers the edges.
import { createHmac } from 'node:crypto';
import type { SignatureSpec } from '@businessos/connector-sdk';
import { describe, expect, it } from 'vitest';
import { decodeSignature, digestEquals } from './constant-time.ts';
import { resolveSigningSecret } from './secret.ts';
import { verifySignature, type VerifyInput, type VerifyResult } from './signature.ts';

const failure = (r: VerifyResult) => (r.ok ? 'ok' : r.failure);
const mac = (algorithm: string, secret: string, ...parts: (string | Buffer)[]) => {
  const h = createHmac(algorithm, secret);
  for (const p of parts) h.update(p);
  return h.digest();
};
const base64url = (b: Buffer) => b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

describe('digestEquals and decodeSignature', () => {
  it('returns false, without throwing, for digests of any other length', () => {
    const expected = mac('sha256', 'k', 'body');
    for (const n of [0, 1, 16, 31, 33, 64]) expect(digestEquals(expected, Buffer.alloc(n, 0xab))).toBe(false);
    expect(digestEquals(expected, Buffer.from(expected))).toBe(true);
  });

  it('refuses look-alike encodings instead of decoding them loosely', () => {
    const d = Buffer.from('fb01ff7e', 'hex');
    expect(decodeSignature('FB01FF7E', 'hex')).toEqual(d);
    for (const bad of ['fb01ff7', 'fb01ff7g', '0xfb01ff7e', 'fb 01ff7e', '']) expect(decodeSignature(bad, 'hex')).toBeUndefined();
    const b64 = Buffer.from([0xfb, 0xff, 0xbf]);
    expect(decodeSignature('+/+/', 'base64')).toEqual(b64);
    for (const bad of ['-_-_', 'YQ', 'YQ=', 'YQ===', 'Y Q==', '====']) expect(decodeSignature(bad, 'base64')).toBeUndefined();
  });
});

describe('Stripe-Signature under attack', () => {
  const spec: SignatureSpec = { scheme: 'stripe', secret: 'subscription' };
  const secret = 'whsec_hostile';
  const body = Buffer.from('{"id":"evt_1","object":"event","type":"payment_intent.succeeded"}');
  const t = 1_700_000_000;
  const now = (t + 10) * 1000;
  const sig = (ts: number | string, b: Buffer = body, key = secret) => mac('sha256', key, `${ts}.`, b).toString('hex');
  const run = (header: string | string[], input: Partial<VerifyInput> = {}) => verifySignature(spec, { rawBody: body, headers: { 'stripe-signature': header }, secret, now, ...input });

  it('accepts one valid v1 among several malformed or wrong ones, in any position', () => {
    const junk = ['', 'zz', 'abc', sig(t).slice(2), `${sig(t)}00`, sig(t, body, 'whsec_other')];
    for (let i = 0; i <= junk.length; i += 1) {
      const v1s = [...junk.slice(0, i), sig(t), ...junk.slice(i)].map((v) => `v1=${v}`);
      expect(run(`t=${t},${v1s.join(',')}`).ok).toBe(true);
    }
    expect(failure(run(`t=${t},${junk.map((v) => `v1=${v}`).join(',')}`))).toBe('signature_mismatch');
  });

  it('refuses a valid digest carried under v0, an unknown scheme or a differently cased key', () => {
    for (const key of ['v0', 'v2', 'V1', 'v1 x', 'sha256']) expect(failure(run(`t=${t},${key}=${sig(t)}`))).toBe('malformed_header');
    expect(failure(run(`T=${t},v1=${sig(t)}`))).toBe('malformed_header');
  });

  it('tolerates whitespace around elements but not inside the digest', () => {
    expect(run(` t = ${t} , v1 = ${sig(t)} `).ok).toBe(true);
    const spaced = sig(t).replace(/^(.{32})/, '$1 ');
    expect(failure(run(`t=${t},v1=${spaced}`))).toBe('signature_mismatch');
  });

  it('cannot be fooled by a second t=: the checked timestamp is the signed one', () => {
    const old = t - 3600;
    // A captured old signature with a fresh t appended or prepended never passes.
    expect(run(`t=${old},v1=${sig(old)},t=${t}`).ok).toBe(false);
    expect(failure(run(`t=${t},t=${old},v1=${sig(old)}`))).toBe('stale_timestamp');
    expect(failure(run(`t=${old},v1=${sig(old)}`))).toBe('stale_timestamp');
  });

  it('refuses timestamps that are not plain Unix seconds', () => {
    for (const ts of ['', '-5', '1e9', '0x6553f100', `${t}.0`, '+1700000000', '99999999999999999999', 'NaN', 'Infinity']) {
      expect(failure(run(`t=${ts},v1=${sig(ts)}`)), ts).toBe('malformed_header');
    }
  });

  it('refuses timestamps in the future beyond the tolerance, and accepts them within it', () => {
    const ahead = (s: number) => run(`t=${t + s},v1=${sig(t + s)}`, { now: t * 1000 });
    expect(ahead(299).ok).toBe(true);
    expect(failure(ahead(301))).toBe('stale_timestamp');
    expect(failure(ahead(10 ** 11))).toBe('stale_timestamp');
  });

  it('refuses the signature once the body changed by a single byte anywhere', () => {
    for (const at of [0, Math.floor(body.length / 2), body.length - 1]) {
      const changed = Buffer.from(body);
      changed[at] = changed[at]! ^ 0x01;
      expect(failure(run(`t=${t},v1=${sig(t)}`, { rawBody: changed }))).toBe('signature_mismatch');
    }
    expect(failure(run(`t=${t},v1=${sig(t)}`, { rawBody: Buffer.concat([body, Buffer.from('\n')]) }))).toBe('signature_mismatch');
    expect(failure(run(`t=${t},v1=${sig(t)}`, { rawBody: body.subarray(0, -1) }))).toBe('signature_mismatch');
  });

  it('uses the first value of a header sent twice, and Node\'s comma-joined form still needs a real signature', () => {
    expect(run([`t=${t},v1=${sig(t)}`, `t=${t},v1=${'0'.repeat(64)}`]).ok).toBe(true);
    expect(failure(run([`t=${t},v1=${'0'.repeat(64)}`, `t=${t},v1=${sig(t)}`]))).toBe('signature_mismatch');
    expect(run(`t=${t},v1=${'0'.repeat(64)}, t=${t},v1=${sig(t)}`).ok).toBe(true);
    expect(failure(run(`t=${t},v1=${'0'.repeat(64)}, t=${t},v1=${'1'.repeat(64)}`))).toBe('signature_mismatch');
  });

  it('fails closed on an empty secret, even for a body signed with the empty key', () => {
    const r = run(`t=${t},v1=${sig(t, body, '')}`, { secret: '' });
    expect(r).toMatchObject({ ok: false, code: 'INTERNAL', failure: 'missing_secret' });
    expect(resolveSigningSecret('subscription', { subscriptionSecret: '' })).toBeUndefined();
    expect(resolveSigningSecret('config:signing_secret', { config: {} })).toBeUndefined();
  });
});

describe('Shopify, GitHub and generic HMAC under attack', () => {
  const secret = 'shpss_hostile';
  const body = Buffer.from('{"id":820982911946154508,"note":"a/b+c?","total":"10.00"}');
  const digest = mac('sha256', secret, body);

  describe('Shopify', () => {
    const spec: SignatureSpec = { scheme: 'shopify', secret: 'config:client_secret' };
    const run = (header: string, rawBody = body) => verifySignature(spec, { rawBody, headers: { 'x-shopify-hmac-sha256': header }, secret, now: 0 });

    it('accepts standard padded base64 only', () => {
      expect(run(digest.toString('base64')).ok).toBe(true);
      expect(run(base64url(digest)).ok).toBe(false);
      expect(run(digest.toString('base64').replace(/=+$/, '')).ok).toBe(false);
      expect(run(`${digest.toString('base64')}=`).ok).toBe(false);
      expect(run(digest.toString('hex')).ok).toBe(false);
      expect(run(digest.toString('hex').toUpperCase()).ok).toBe(false);
    });

    it('answers a mismatch, never an exception, for digests of the wrong length', () => {
      for (const n of [0, 1, 20, 31, 33, 48, 64]) {
        expect(() => run(Buffer.alloc(n, 7).toString('base64'))).not.toThrow();
        expect(run(Buffer.alloc(n, 7).toString('base64')).ok).toBe(false);
      }
      expect(failure(run(Buffer.concat([digest, Buffer.from([0])]).toString('base64')))).toBe('signature_mismatch');
      expect(failure(run(digest.subarray(0, 31).toString('base64')))).toBe('signature_mismatch');
    });

    it('verifies the raw bytes: the same JSON re-serialised does not match', () => {
      const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString('utf8')), null, 1));
      expect(failure(run(digest.toString('base64'), reserialised))).toBe('signature_mismatch');
      expect(failure(run(mac('sha256', secret, reserialised).toString('base64')))).toBe('signature_mismatch');
    });
  });

  describe('GitHub', () => {
    const spec: SignatureSpec = { scheme: 'github', secret: 'subscription' };
    const run = (headers: Record<string, string>, rawBody = body) => verifySignature(spec, { rawBody, headers, secret, now: 0 });

    it('accepts sha256=<hex> in either case of hex, and nothing else', () => {
      expect(run({ 'x-hub-signature-256': `sha256=${digest.toString('hex')}` }).ok).toBe(true);
      expect(run({ 'x-hub-signature-256': `sha256=${digest.toString('hex').toUpperCase()}` }).ok).toBe(true);
      expect(failure(run({ 'x-hub-signature-256': `SHA256=${digest.toString('hex')}` }))).toBe('malformed_header');
      expect(failure(run({ 'x-hub-signature-256': digest.toString('hex') }))).toBe('malformed_header');
      expect(failure(run({ 'x-hub-signature-256': `sha256=${digest.toString('base64')}` }))).toBe('malformed_header');
    });

    it('does not fall back to the legacy sha1 header or accept a sha1 digest', () => {
      const sha1 = mac('sha1', secret, body).toString('hex');
      expect(failure(run({ 'x-hub-signature': `sha1=${sha1}` }))).toBe('missing_header');
      expect(failure(run({ 'x-hub-signature-256': `sha1=${sha1}` }))).toBe('malformed_header');
      expect(failure(run({ 'x-hub-signature-256': `sha256=${sha1}` }))).toBe('signature_mismatch');
    });

    it('answers a mismatch for wrong-length hex and malformed for odd-length hex, without throwing', () => {
      const hex = digest.toString('hex');
      expect(failure(run({ 'x-hub-signature-256': `sha256=${hex.slice(2)}` }))).toBe('signature_mismatch');
      expect(failure(run({ 'x-hub-signature-256': `sha256=${hex}00` }))).toBe('signature_mismatch');
      expect(failure(run({ 'x-hub-signature-256': `sha256=${hex.slice(1)}` }))).toBe('malformed_header');
      expect(failure(run({ 'x-hub-signature-256': 'sha256=' }))).toBe('malformed_header');
    });

    it('verifies the raw bytes, not a re-serialisation of them', () => {
      const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString('utf8'))).replace(/,/g, ', '));
      expect(failure(run({ 'x-hub-signature-256': `sha256=${digest.toString('hex')}` }, reserialised))).toBe('signature_mismatch');
    });
  });

  describe('generic hmac', () => {
    it('keeps base64, base64url and hex apart', () => {
      const b64: SignatureSpec = { scheme: 'hmac', secret: 'subscription', algorithm: 'sha256', encoding: 'base64', header: 'X-Sig' };
      const hex: SignatureSpec = { ...b64, encoding: 'hex' };
      const run = (s: SignatureSpec, value: string) => verifySignature(s, { rawBody: body, headers: { 'x-sig': value }, secret, now: 0 });
      expect(run(b64, digest.toString('base64')).ok).toBe(true);
      expect(run(b64, base64url(digest)).ok).toBe(false);
      expect(run(b64, digest.toString('hex')).ok).toBe(false);
      expect(run(hex, digest.toString('hex')).ok).toBe(true);
      expect(run(hex, digest.toString('base64')).ok).toBe(false);
      expect(failure(run(hex, Buffer.alloc(20).toString('hex')))).toBe('signature_mismatch');
    });

    it('refuses a digest of a weaker algorithm than the one declared', () => {
      const spec: SignatureSpec = { scheme: 'hmac', secret: 'subscription', algorithm: 'sha512', encoding: 'hex', header: 'X-Sig' };
      const weak = mac('sha256', secret, body).toString('hex');
      expect(failure(verifySignature(spec, { rawBody: body, headers: { 'x-sig': weak }, secret, now: 0 }))).toBe('signature_mismatch');
      expect(verifySignature(spec, { rawBody: body, headers: { 'x-sig': mac('sha512', secret, body).toString('hex') }, secret, now: 0 }).ok).toBe(true);
    });
  });
});

describe('Slack v0 under attack', () => {
  const spec: SignatureSpec = { scheme: 'slack', secret: 'config:signing_secret' };
  const secret = 'slack_hostile_secret';
  const body = Buffer.from('{"type":"event_callback","event_id":"Ev1"}');
  const ts = 1_700_000_000;
  const sign = (at: number | string, b = body) => `v0=${mac('sha256', secret, `v0:${at}:`, b).toString('hex')}`;
  const run = (headers: Record<string, string>, now = ts * 1000) => verifySignature(spec, { rawBody: body, headers, secret, now });

  it('binds the timestamp header: a signature for another timestamp, or a mismatched one, fails', () => {
    expect(run({ 'x-slack-request-timestamp': String(ts), 'x-slack-signature': sign(ts) }).ok).toBe(true);
    expect(failure(run({ 'x-slack-request-timestamp': String(ts + 1), 'x-slack-signature': sign(ts) }))).toBe('signature_mismatch');
    expect(failure(run({ 'x-slack-request-timestamp': `0${ts}`, 'x-slack-signature': sign(ts) }))).toBe('signature_mismatch');
  });

  it('refuses stale and far-future timestamps even with a correct signature', () => {
    for (const at of [ts - 301, ts + 301, 999_999_999_999]) {
      expect(failure(run({ 'x-slack-request-timestamp': String(at), 'x-slack-signature': sign(at) }))).toBe('stale_timestamp');
    }
  });

  it('refuses other signature versions and encodings', () => {
    const hex = sign(ts).slice(3);
    for (const header of [`v1=${hex}`, `V0=${hex}`, hex, `v0=${Buffer.from(hex, 'hex').toString('base64')}`, `v0=${hex.slice(2)}`]) {
      expect(run({ 'x-slack-request-timestamp': String(ts), 'x-slack-signature': header }).ok).toBe(false);
    }
  });
});
