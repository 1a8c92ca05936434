import { describe, expect, it } from 'vitest';
import { applyAuth } from './apply-auth.ts';

describe('applyAuth', () => {
  const target = () => ({ url: new URL('https://api.example.com/x'), headers: { authorization: 'connector-made' } as Record<string, string> });
  it('puts an API key in a header with its prefix, replacing the connector\'s header', () => {
    const t = target();
    applyAuth(t, { type: 'api_key', in: 'header', name: 'Authorization', prefix: 'Token ' }, { apiKey: 'k1' });
    expect(t.headers).toEqual({ Authorization: 'Token k1' });
  });
  it('puts an API key in the query', () => {
    const t = target();
    applyAuth(t, { type: 'api_key', in: 'query', name: 'api_key' }, { apiKey: 'k 1' });
    expect(t.url.searchParams.get('api_key')).toBe('k 1');
  });
  it('applies basic, bearer and OAuth2 tokens', () => {
    const b = target();
    applyAuth(b, { type: 'basic' }, { username: 'u', password: 'p' });
    expect(b.headers.Authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    const t = target();
    applyAuth(t, { type: 'bearer' }, { token: 'tok' });
    expect(t.headers.Authorization).toBe('Bearer tok');
    const o = target();
    const set = applyAuth(o, { type: 'oauth2', grant: 'authorization_code', tokenUrl: 'https://x/t', clientId: 'c', scopes: [], scopeSeparator: ' ', pkce: true, tokenHeader: { name: 'X-Shopify-Access-Token', prefix: '' } }, { accessToken: 'at' });
    expect(o.headers['X-Shopify-Access-Token']).toBe('at');
    expect(set).toEqual(['X-Shopify-Access-Token']);
  });
  it('puts an API key in the query without touching headers, and refuses unknown auth types', () => {
    const t = target();
    expect(applyAuth(t, { type: 'api_key', in: 'query', name: 'key' }, { apiKey: 'k&1' })).toEqual([]);
    expect(t.url.href).toBe('https://api.example.com/x?key=k%261');
    expect(t.headers).toEqual({ authorization: 'connector-made' });
    expect(() => applyAuth(target(), { type: 'mtls' } as never, {})).toThrow(expect.objectContaining({ code: 'NOT_IMPLEMENTED' }));
  });
  it('fails with AUTH_FAILED when the credential is missing', () => {
    expect(() => applyAuth(target(), { type: 'bearer' }, {})).toThrow(expect.objectContaining({ code: 'AUTH_FAILED' }));
  });
});
