import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, readApiKey } from './api-key.ts';

describe('API keys', () => {
  it('generates distinct bos_ keys whose hash is stored, not the key', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a.secret).toMatch(/^bos_[A-Za-z0-9_-]{43}$/);
    expect(a.secret).not.toBe(b.secret);
    expect(a.hash).toBe(hashApiKey(a.secret));
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.prefix).toBe(a.secret.slice(0, 12));
  });

  it('reads a bearer token or an X-Api-Key header', () => {
    expect(readApiKey({ authorization: 'Bearer bos_abc' })).toBe('bos_abc');
    expect(readApiKey({ authorization: 'bearer  bos_abc ' })).toBe('bos_abc');
    expect(readApiKey({ 'x-api-key': 'bos_xyz' })).toBe('bos_xyz');
    expect(readApiKey({ authorization: 'Basic Zm9vOmJhcg==' })).toBeUndefined();
    expect(readApiKey({})).toBeUndefined();
  });
});
