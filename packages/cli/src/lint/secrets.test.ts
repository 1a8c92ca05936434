import { describe, expect, it } from 'vitest';
import { findKnownSecret, looksLikeRandomSecret, shannonEntropy } from './secrets.ts';

describe('secret detection', () => {
  it('recognises known credential formats', () => {
    expect(findKnownSecret('sk_live_51HxQa2eZvKYlo2CabcdefGHIJ')).toBe('Stripe live secret key');
    expect(findKnownSecret('rk_live_51HxQa2eZvKYlo2CabcdefGHIJ')).toBe('Stripe live secret key');
    expect(findKnownSecret('xoxb-123456789012-abcdefghijkl')).toBe('Slack token');
    expect(findKnownSecret(`ghp_${'a1B2'.repeat(9)}`)).toBe('GitHub token');
    expect(findKnownSecret(`github_pat_${'a1B2c'.repeat(10)}`)).toBe('GitHub fine-grained token');
    expect(findKnownSecret('AKIAIOSFODNN7EXAMPLE')).toBe('AWS access key id');
    expect(findKnownSecret(`shpat_${'0123456789abcdef'.repeat(2)}`)).toBe('Shopify access token');
    expect(findKnownSecret(`shpss_${'0123456789abcdef'.repeat(2)}`)).toBe('Shopify access token');
    expect(findKnownSecret('-----BEGIN RSA PRIVATE KEY-----\nMIIE...')).toBe('private key');
    expect(findKnownSecret('-----BEGIN PRIVATE KEY-----')).toBe('private key');
  });

  it('leaves ordinary strings alone', () => {
    for (const s of ['sk_live_', 'hello world', 'https://api.example.com/v1', 'X-Api-Key', 'xoxb-', 'AKIA']) expect(findKnownSecret(s), s).toBeUndefined();
  });

  it('measures entropy', () => {
    expect(shannonEntropy('')).toBe(0);
    expect(shannonEntropy('aaaa')).toBe(0);
    expect(shannonEntropy('abcd')).toBe(2);
  });

  it('treats long random values as secrets, references and low-entropy text as not', () => {
    expect(looksLikeRandomSecret('a8F3kQ9zL2mX7vB1nR5tY0wE')).toBe(true);
    expect(looksLikeRandomSecret('config.client_secret_value')).toBe(false);
    expect(looksLikeRandomSecret('https://example.com/oauth/token')).toBe(false);
    expect(looksLikeRandomSecret('aaaaaaaaaaaaaaaaaaaaaaaa')).toBe(false);
    expect(looksLikeRandomSecret('short1A')).toBe(false);
  });
});
