import { describe, expect, it } from 'vitest';
import { assertUrlAllowed, resolveRequestUrl } from './url.ts';

const shopify = { name: 'shopify', baseUrl: 'https://{shop}.myshopify.com/admin/api/2024-01', hosts: ['{shop}.myshopify.com', '*.slack.com', 'api.example.com:8443'] };

describe('resolveRequestUrl', () => {
  it('joins paths to the base URL with placeholders filled', () => {
    const url = resolveRequestUrl(shopify, { shop: 'acme' }, '/orders.json', { limit: 5, status: ['open', 'closed'], skip: undefined });
    expect(url.href).toBe('https://acme.myshopify.com/admin/api/2024-01/orders.json?limit=5&status=open&status=closed');
  });

  it.each(['evil.com/x', 'a.b', 'x@evil.com', 'evil.com:80', 'a/b', ''])('refuses the host field value %j', (shop) => {
    expect(() => resolveRequestUrl(shopify, { shop }, '/orders.json')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('encodes placeholders in the path and refuses dot segments', () => {
    const m = { name: 'x', baseUrl: 'https://api.example.com/accounts/{account}', hosts: ['api.example.com'] };
    expect(resolveRequestUrl(m, { account: 'a/b?c' }, 'items').pathname).toBe('/accounts/a%2Fb%3Fc/items');
    expect(() => resolveRequestUrl(m, { account: '..' }, 'items')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });

  it('refuses user info and relative URLs without a base', () => {
    expect(() => resolveRequestUrl(shopify, {}, 'https://u:p@api.example.com/')).toThrow(expect.objectContaining({ code: 'EGRESS_DENIED' }));
    expect(() => resolveRequestUrl({ name: 'x' }, {}, '/a')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});

describe('assertUrlAllowed', () => {
  const ok = (href: string, fields: Record<string, string> = { shop: 'acme' }, o = {}) => () => assertUrlAllowed(shopify, fields, new URL(href), o);
  it('accepts declared hosts, templates and one-label wildcards', () => {
    expect(ok('https://acme.myshopify.com/x')).not.toThrow();
    expect(ok('https://files.slack.com/x')).not.toThrow();
    expect(ok('https://api.example.com:8443/x')).not.toThrow();
  });
  it.each([
    'https://other.myshopify.com/x',
    'https://slack.com/x',
    'https://a.b.slack.com/x',
    'https://evilslack.com/x',
    'https://acme.myshopify.com:444/x',
    'https://api.example.com/x',
    'http://acme.myshopify.com/x',
    'ftp://acme.myshopify.com/x',
  ])('refuses %s', (href) => {
    expect(ok(href)).toThrow(expect.objectContaining({ code: 'EGRESS_DENIED' }));
  });
  it('allows http and other ports only in test mode', () => {
    expect(ok('http://acme.myshopify.com:8080/x', { shop: 'acme' }, { allowHttp: true, anyPort: true })).not.toThrow();
  });
});
