import { describe, expect, it } from 'vitest';
import { REDACTED, isSecretKey, isSecretValue, redactHeaders, redactQuery, redactSecrets } from './redact.ts';

describe('secret detection', () => {
  it('recognises secret key names in any case style, but not pagination cursors or token metadata', () => {
    for (const k of ['password', 'client_secret', 'apiKey', 'api_key', 'X-Api-Key', 'accessToken', 'refresh_token', 'session', 'signature', 'privateKey']) {
      expect(isSecretKey(k), k).toBe(true);
    }
    for (const k of ['email', 'next_page_token', 'pageToken', 'token_type', 'expires_in', 'author', 'tokens_total', 'description']) {
      expect(isSecretKey(k), k).toBe(false);
    }
  });

  it('recognises credential-shaped values', () => {
    for (const v of ['sk_live_abcdefgh12345678', 'xoxb-1234-5678-abcdefgh', 'ghp_abcdefghijklmnop1234', 'shpat_0123456789abcdef0123', 'Bearer abcdefghijk', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl']) {
      expect(isSecretValue(v), v).toBe(true);
    }
    for (const v of ['cus_123', 'hello world', 'ord_abcdefghijkl']) expect(isSecretValue(v), v).toBe(false);
  });
});

describe('redaction', () => {
  it('replaces secrets deep in bodies and literal values anywhere', () => {
    const body = { user: { email: 'a@b.co', password: 'hunter2' }, keys: ['sk_test_abcdefgh12345678'], note: 'my key is K-123456 ok', count: 3, ok: true };
    expect(redactSecrets(body, ['K-123456'])).toEqual({ user: { email: 'a@b.co', password: REDACTED }, keys: [REDACTED], note: `my key is ${REDACTED} ok`, count: 3, ok: true });
  });

  it('drops credential headers and query parameters', () => {
    expect(redactHeaders({ Authorization: 'Bearer x', Cookie: 'a=b', 'X-Api-Key': 'k', 'Content-Type': 'application/json', 'X-Request-Token': 't' })).toEqual({
      'content-type': 'application/json',
      'x-request-token': REDACTED,
    });
    expect(redactQuery({ api_key: 'k', access_token: 't', page: '2', cursor: 'sk_live_abcdefgh12345678' })).toEqual({ page: '2', cursor: REDACTED });
  });
});
