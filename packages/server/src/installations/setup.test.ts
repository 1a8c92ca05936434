import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formFields, signState, splitConnectionInput, stateKey, verifyState } from './setup.ts';

describe('connection setup', () => {
  const shopifyLike = { type: 'api_key' as const, in: 'header' as const, name: 'X-Token', label: 'Admin token', fields: { shop: { type: 'string' as const, label: 'Shop', pattern: '^[a-z0-9-]+$' }, webhookSecret: { type: 'string' as const, label: 'Webhook secret', secret: true, required: false } } };

  it('builds the form from the auth and its declared fields', () => {
    expect(formFields(shopifyLike).map((f) => [f.name, f.in, f.secret, f.required])).toEqual([
      ['apiKey', 'credentials', true, true],
      ['shop', 'fields', false, true],
      ['webhookSecret', 'fields', true, false],
    ]);
    expect(formFields({ type: 'basic' }).map((f) => f.name)).toEqual(['username', 'password']);
    expect(formFields({ type: 'none' })).toEqual([]);
  });

  it('puts secrets in credentials and keeps only plain fields outside the vault', () => {
    const out = splitConnectionInput(shopifyLike, { credentials: { apiKey: 'shpat_1' }, fields: { shop: 'acme', webhookSecret: 's3cret' } });
    expect(out.errors).toEqual([]);
    expect(out.fields).toEqual({ shop: 'acme' });
    expect(out.credentials).toEqual({ apiKey: 'shpat_1', fields: { shop: 'acme', webhookSecret: 's3cret' } });
  });

  it('names missing, unknown and malformed inputs by path', () => {
    const out = splitConnectionInput(shopifyLike, { credentials: { token: 'x' }, fields: { shop: 'Not Valid!' } });
    expect(out.errors.map((e) => e.path)).toEqual(['/credentials/token', '/credentials/apiKey', '/fields/shop']);
  });

  it('signs states and rejects altered ones', () => {
    const key = stateKey(randomBytes(32));
    const state = signState('abc', key);
    expect(verifyState(state, key)).toBe('abc');
    expect(verifyState(state.replace('abc', 'abd'), key)).toBeUndefined();
    expect(verifyState(`${state}x`, key)).toBeUndefined();
    expect(verifyState('nodot', key)).toBeUndefined();
    expect(verifyState(state, stateKey(randomBytes(32)))).toBeUndefined();
  });
});
