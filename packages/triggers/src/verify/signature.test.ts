import { createHmac } from 'node:crypto';
import type { SignatureSpec } from '@businessos/connector-sdk';
import { describe, expect, it } from 'vitest';
import { resolveSigningSecret } from './secret.ts';
import { signDelivery, verifySignature, type VerifyResult } from './signature.ts';
import { slackChallenge } from './slack-challenge.ts';

const failure = (r: VerifyResult) => (r.ok ? 'ok' : r.failure);

describe('GitHub X-Hub-Signature-256', () => {
  const spec: SignatureSpec = { scheme: 'github', secret: 'subscription' };
  // Worked example from GitHub's docs, "Validating webhook deliveries" (Testing the webhook payload validation):
  // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
  const secret = "It's a Secret to Everybody";
  const body = Buffer.from('Hello, World!');
  const header = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

  it('accepts GitHub\'s documented example', () => {
    expect(verifySignature(spec, { rawBody: body, headers: { 'X-Hub-Signature-256': header }, secret, now: Date.now() })).toEqual({ ok: true });
    expect(signDelivery(spec, secret, body)).toEqual({ 'x-hub-signature-256': header });
  });

  it('refuses a tampered body, a wrong secret, a missing or malformed header', () => {
    const now = Date.now();
    expect(failure(verifySignature(spec, { rawBody: Buffer.from('Hello, World?'), headers: { 'x-hub-signature-256': header }, secret, now }))).toBe('signature_mismatch');
    expect(failure(verifySignature(spec, { rawBody: body, headers: { 'x-hub-signature-256': header }, secret: 'another secret', now }))).toBe('signature_mismatch');
    expect(failure(verifySignature(spec, { rawBody: body, headers: {}, secret, now }))).toBe('missing_header');
    expect(failure(verifySignature(spec, { rawBody: body, headers: { 'x-hub-signature-256': header.slice(7) }, secret, now }))).toBe('malformed_header');
    expect(failure(verifySignature(spec, { rawBody: body, headers: { 'x-hub-signature-256': 'sha256=zz' + header.slice(9) }, secret, now }))).toBe('malformed_header');
    // A truncated digest is well-formed hex but the wrong length: refused without throwing.
    expect(failure(verifySignature(spec, { rawBody: body, headers: { 'x-hub-signature-256': header.slice(0, -2) }, secret, now }))).toBe('signature_mismatch');
  });

  it('fails closed without a secret, with a catalogue code that blames our configuration', () => {
    const r = verifySignature(spec, { rawBody: body, headers: { 'x-hub-signature-256': header }, secret: undefined, now: Date.now() });
    expect(r).toMatchObject({ ok: false, code: 'INTERNAL', failure: 'missing_secret' });
  });
});

describe('Slack v0 signing secret', () => {
  const spec: SignatureSpec = { scheme: 'slack', secret: 'config:slack.signingSecret' };
  // Worked example from Slack's "Verifying requests from Slack":
  // https://api.slack.com/authentication/verifying-requests-from-slack (secret, timestamp, slash-command body, signature).
  const secret = '8f742231b10e8888abcd99yyyzzz85a5';
  const timestamp = '1531420618';
  const body = Buffer.from('token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c');
  const signature = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
  const headers = { 'X-Slack-Request-Timestamp': timestamp, 'X-Slack-Signature': signature };
  const at = (secondsAfter: number) => (Number(timestamp) + secondsAfter) * 1000;

  it('accepts Slack\'s documented example inside the 5-minute window', () => {
    expect(verifySignature(spec, { rawBody: body, headers, secret, now: at(60) })).toEqual({ ok: true, timestamp: 1531420618 });
    expect(signDelivery(spec, secret, body, Number(timestamp))).toEqual({ 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature });
  });

  it('refuses a stale or future timestamp, a tampered body and a wrong secret', () => {
    expect(failure(verifySignature(spec, { rawBody: body, headers, secret, now: at(301) }))).toBe('stale_timestamp');
    expect(failure(verifySignature(spec, { rawBody: body, headers, secret, now: at(-301) }))).toBe('stale_timestamp');
    expect(failure(verifySignature(spec, { rawBody: Buffer.concat([body, Buffer.from('&x=1')]), headers, secret, now: at(0) }))).toBe('signature_mismatch');
    expect(failure(verifySignature(spec, { rawBody: body, headers, secret: secret.replace('8', '9'), now: at(0) }))).toBe('signature_mismatch');
  });

  it('binds the timestamp into the signature: a fresh timestamp on an old signature fails', () => {
    const moved = { ...headers, 'X-Slack-Request-Timestamp': String(Number(timestamp) + 400) };
    expect(failure(verifySignature(spec, { rawBody: body, headers: moved, secret, now: at(400) }))).toBe('signature_mismatch');
  });

  it('refuses missing and malformed headers', () => {
    expect(failure(verifySignature(spec, { rawBody: body, headers: { 'X-Slack-Signature': signature }, secret, now: at(0) }))).toBe('missing_header');
    expect(failure(verifySignature(spec, { rawBody: body, headers: { 'X-Slack-Request-Timestamp': timestamp }, secret, now: at(0) }))).toBe('missing_header');
    expect(failure(verifySignature(spec, { rawBody: body, headers: { ...headers, 'X-Slack-Request-Timestamp': '15314e3' }, secret, now: at(0) }))).toBe('malformed_header');
    expect(failure(verifySignature(spec, { rawBody: body, headers: { ...headers, 'X-Slack-Signature': signature.slice(3) }, secret, now: at(0) }))).toBe('malformed_header');
  });

  it('honours a declared tolerance', () => {
    expect(verifySignature({ ...spec, toleranceSeconds: 30 }, { rawBody: body, headers, secret, now: at(60) })).toMatchObject({ ok: false, failure: 'stale_timestamp' });
  });

  it('recognises the url_verification handshake only', () => {
    expect(slackChallenge({ token: 'x', challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', type: 'url_verification' })).toBe('3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P');
    expect(slackChallenge({ type: 'event_callback', challenge: 'x' })).toBeUndefined();
    expect(slackChallenge('url_verification')).toBeUndefined();
    expect(slackChallenge(null)).toBeUndefined();
  });
});

describe('Stripe-Signature', () => {
  // Scheme as documented in Stripe's "Verify webhook signatures manually" (https://docs.stripe.com/webhooks#verify-manually):
  // the header is `t=<unix>,v1=<hex>[,v1=...][,v0=...]`, the signed payload is `${t}.${raw body}` with HMAC-SHA256 keyed
  // by the endpoint secret, any v1 may match, other schemes are ignored, default tolerance 5 minutes.
  // Stripe publishes the header format but no secret/body pair, so the vector below is computed independently here.
  const spec: SignatureSpec = { scheme: 'stripe', secret: 'subscription' };
  const secret = 'whsec_test_secret';
  const body = Buffer.from('{\n  "id": "evt_test_webhook",\n  "object": "event"\n}');
  const t = 1492774577;
  const v1 = createHmac('sha256', secret).update(`${t}.${body.toString()}`).digest('hex');
  const now = (t + 10) * 1000;

  it('accepts a header in the documented shape, with extra v0 and unknown elements ignored', () => {
    const header = `t=${t},v1=${v1},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39,x=1`;
    expect(verifySignature(spec, { rawBody: body, headers: { 'Stripe-Signature': header }, secret, now })).toEqual({ ok: true, timestamp: t });
    expect(signDelivery(spec, secret, body, t)).toEqual({ 'stripe-signature': `t=${t},v1=${v1}` });
  });

  it('accepts when any of several v1 signatures matches (secret rotation)', () => {
    const other = createHmac('sha256', 'whsec_old').update(`${t}.${body.toString()}`).digest('hex');
    for (const header of [`t=${t},v1=${other},v1=${v1}`, `t=${t},v1=${v1},v1=${other}`, `t=${t},v1=nothex,v1=${v1}`]) {
      expect(verifySignature(spec, { rawBody: body, headers: { 'stripe-signature': header }, secret, now }).ok).toBe(true);
    }
  });

  it('refuses only-v0, a stale timestamp, a tampered body, a wrong secret, a changed timestamp', () => {
    const h = (header: string) => ({ 'stripe-signature': header });
    expect(failure(verifySignature(spec, { rawBody: body, headers: h(`t=${t},v0=${v1}`), secret, now }))).toBe('malformed_header');
    expect(failure(verifySignature(spec, { rawBody: body, headers: h(`t=${t},v1=${v1}`), secret, now: (t + 301) * 1000 }))).toBe('stale_timestamp');
    expect(failure(verifySignature(spec, { rawBody: Buffer.from(body.toString().replace('evt_', 'evx_')), headers: h(`t=${t},v1=${v1}`), secret, now }))).toBe('signature_mismatch');
    expect(failure(verifySignature(spec, { rawBody: body, headers: h(`t=${t},v1=${v1}`), secret: 'whsec_other', now }))).toBe('signature_mismatch');
    expect(failure(verifySignature(spec, { rawBody: body, headers: h(`t=${t + 1},v1=${v1}`), secret, now }))).toBe('signature_mismatch');
  });

  it('refuses missing and malformed headers', () => {
    expect(failure(verifySignature(spec, { rawBody: body, headers: {}, secret, now }))).toBe('missing_header');
    expect(failure(verifySignature(spec, { rawBody: body, headers: { 'stripe-signature': `v1=${v1}` }, secret, now }))).toBe('malformed_header');
    expect(failure(verifySignature(spec, { rawBody: body, headers: { 'stripe-signature': `t=soon,v1=${v1}` }, secret, now }))).toBe('malformed_header');
    expect(failure(verifySignature(spec, { rawBody: body, headers: { 'stripe-signature': 'garbage' }, secret, now }))).toBe('malformed_header');
  });

  it('uses the declared tolerance instead of 300 s', () => {
    const headers = { 'stripe-signature': `t=${t},v1=${v1}` };
    expect(verifySignature({ ...spec, toleranceSeconds: 600 }, { rawBody: body, headers, secret, now: (t + 500) * 1000 }).ok).toBe(true);
  });
});

describe('Shopify X-Shopify-Hmac-Sha256', () => {
  // Shopify documents the scheme (base64 HMAC-SHA256 of the raw body, keyed by the app's client secret) but no
  // test vector: https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-5-verify-the-webhook
  const spec: SignatureSpec = { scheme: 'shopify', secret: 'config:shopify.clientSecret' };
  const secret = 'hush';
  const body = Buffer.from('{"id":820982911946154508,"email":"jon@example.com"}');
  const header = createHmac('sha256', secret).update(body).digest('base64');

  it('accepts a correct signature over the raw bytes', () => {
    expect(verifySignature(spec, { rawBody: body, headers: { 'X-Shopify-Hmac-Sha256': header }, secret, now: 0 })).toEqual({ ok: true });
    expect(signDelivery(spec, secret, body)).toEqual({ 'x-shopify-hmac-sha256': header });
  });

  it('refuses re-serialised JSON, a wrong secret, missing and malformed headers', () => {
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 1));
    expect(failure(verifySignature(spec, { rawBody: reserialised, headers: { 'x-shopify-hmac-sha256': header }, secret, now: 0 }))).toBe('signature_mismatch');
    expect(failure(verifySignature(spec, { rawBody: body, headers: { 'x-shopify-hmac-sha256': header }, secret: 'hush2', now: 0 }))).toBe('signature_mismatch');
    expect(failure(verifySignature(spec, { rawBody: body, headers: {}, secret, now: 0 }))).toBe('missing_header');
    expect(failure(verifySignature(spec, { rawBody: body, headers: { 'x-shopify-hmac-sha256': '%%%' }, secret, now: 0 }))).toBe('malformed_header');
    expect(failure(verifySignature(spec, { rawBody: body, headers: { 'x-shopify-hmac-sha256': Buffer.from(header, 'base64').toString('hex') }, secret, now: 0 }))).toBe('signature_mismatch');
  });

  it('takes the first value of a repeated header', () => {
    expect(verifySignature(spec, { rawBody: body, headers: { 'x-shopify-hmac-sha256': [header, 'AAAA'] }, secret, now: 0 }).ok).toBe(true);
  });
});

describe('generic hmac', () => {
  const secret = 's3cret';
  const body = Buffer.from('{"event":"ping"}');

  it('verifies a sha1 hex header with a prefix, like GitHub\'s legacy X-Hub-Signature', () => {
    const spec: SignatureSpec = { scheme: 'hmac', secret: 'field:webhookSecret', algorithm: 'sha1', header: 'X-Hub-Signature', encoding: 'hex', prefix: 'sha1=' };
    const header = `sha1=${createHmac('sha1', secret).update(body).digest('hex')}`;
    expect(verifySignature(spec, { rawBody: body, headers: { 'x-hub-signature': header }, secret, now: 0 })).toEqual({ ok: true });
    expect(failure(verifySignature(spec, { rawBody: body, headers: { 'x-hub-signature': header.slice(5) }, secret, now: 0 }))).toBe('malformed_header');
    expect(signDelivery(spec, secret, body)).toEqual({ 'x-hub-signature': header });
  });

  it('signs a template with a timestamp header and checks the window', () => {
    const spec: SignatureSpec = {
      scheme: 'hmac', secret: 'subscription', algorithm: 'sha512', header: 'X-Sig', encoding: 'base64',
      payload: '{timestamp}:{header:X-Request-Id}:{body}', timestampHeader: 'X-Ts', toleranceSeconds: 60,
    };
    const ts = 1_700_000_000;
    const sig = createHmac('sha512', secret).update(`${ts}:req-1:${body.toString()}`).digest('base64');
    const headers = { 'X-Sig': sig, 'X-Ts': String(ts), 'X-Request-Id': 'req-1' };
    expect(verifySignature(spec, { rawBody: body, headers, secret, now: ts * 1000 })).toEqual({ ok: true, timestamp: ts });
    expect(failure(verifySignature(spec, { rawBody: body, headers, secret, now: (ts + 61) * 1000 }))).toBe('stale_timestamp');
    expect(failure(verifySignature(spec, { rawBody: body, headers: { ...headers, 'X-Request-Id': 'req-2' }, secret, now: ts * 1000 }))).toBe('signature_mismatch');
    expect(failure(verifySignature(spec, { rawBody: body, headers: { 'X-Sig': sig, 'X-Ts': String(ts) }, secret, now: ts * 1000 }))).toBe('invalid_spec');
    expect(failure(verifySignature(spec, { rawBody: body, headers: { 'X-Sig': sig, 'X-Request-Id': 'req-1' }, secret, now: ts * 1000 }))).toBe('missing_header');
  });

  it('reports a template that needs a timestamp header it does not declare as our misconfiguration', () => {
    const spec: SignatureSpec = { scheme: 'hmac', secret: 'subscription', algorithm: 'sha256', header: 'X-Sig', encoding: 'hex', payload: '{timestamp}.{body}' };
    const r = verifySignature(spec, { rawBody: body, headers: { 'x-sig': 'ab' }, secret, now: 0 });
    expect(r).toMatchObject({ ok: false, code: 'INTERNAL', failure: 'invalid_spec' });
  });
});

describe('resolveSigningSecret', () => {
  it('reads the subscription secret, a connection field or platform config, and treats empty as missing', () => {
    const ctx = { subscriptionSecret: 'sub', fields: { webhookSecret: 'field' }, config: { 'shopify.clientSecret': 'cfg', empty: '' } };
    expect(resolveSigningSecret('subscription', ctx)).toBe('sub');
    expect(resolveSigningSecret('field:webhookSecret', ctx)).toBe('field');
    expect(resolveSigningSecret('config:shopify.clientSecret', ctx)).toBe('cfg');
    expect(resolveSigningSecret('config:empty', ctx)).toBeUndefined();
    expect(resolveSigningSecret('field:nope', ctx)).toBeUndefined();
    expect(resolveSigningSecret('subscription', {})).toBeUndefined();
  });
});
