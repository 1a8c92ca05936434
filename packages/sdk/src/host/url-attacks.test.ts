// URL tricks a hostile connector (or a hostile connection field) can try: every one must either stay on a
// declared host or fail with a coded error naming what was refused.
import { describe, expect, it } from 'vitest';
import { assertUrlAllowed, fillHostTemplate, resolveRequestUrl } from './url.ts';

const stripe = { name: 'stripe', baseUrl: 'https://api.stripe.com/v1', hosts: ['api.stripe.com', '*.slack.com'] };
const shopify = { name: 'shopify', baseUrl: 'https://{shop}.myshopify.com/admin', hosts: ['{shop}.myshopify.com'] };

/** Resolves and checks like the runtime does; answers the URL that would be sent. */
function send(url: string, fields: Record<string, string> = {}, manifest: { name: string; baseUrl: string; hosts: string[] } = stripe): URL {
  const resolved = resolveRequestUrl(manifest, fields, url);
  assertUrlAllowed(manifest, fields, resolved);
  return resolved;
}

describe('URL tricks from connector code', () => {
  it.each([
    ['https://api.stripe.com@evil.com/', /carries user info/],
    ['https://api.stripe.com%2f@evil.com/', /carries user info/],
    ['https://evil.com\\@api.stripe.com/', /may not call evil\.com/],
    ['https://evil.com\\api.stripe.com/', /may not call evil\.com/],
    ['https://evil.com#@api.stripe.com', /may not call evil\.com/],
    ['https://evil.com?@api.stripe.com', /may not call evil\.com/],
    ['https:evil.com', /may not call evil\.com/],
    ['https:\\\\evil.com', /may not call evil\.com/],
    ['https://api.stripe.com:8443/x', /may not call api\.stripe\.com:8443/],
    ['https://xn--pi-7ld.stripe.com/', /may not call xn--pi-7ld\.stripe\.com/],
    ['https://аpi.stripe.com/', /may not call xn--/],
    ['https://a.b.slack.com/', /may not call a\.b\.slack\.com/],
    ['https://x.slack.com../', /may not call x\.slack\.com\.\./],
    ['http://api.stripe.com/', /may only call https URLs/],
    ['file:///etc/passwd', /may only call https URLs, not file:/],
    ['data:text/plain,hi', /not data:/],
    ['javascript:alert(1)', /not javascript:/],
    ['ws://api.stripe.com/', /not ws:/],
    ['https://169.254.169.254/latest/meta-data/', /may not call 169\.254\.169\.254/],
    ['https://[::ffff:a9fe:a9fe]/', /may not call \[::ffff:a9fe:a9fe\]/],
  ])('refuses %s', (url, reason) => {
    expect(() => send(url)).toThrow(expect.objectContaining({ code: 'EGRESS_DENIED', message: expect.stringMatching(reason) }));
  });

  it.each([
    ['//evil.com/x', 'https://api.stripe.com/v1/evil.com/x'],
    ['///evil.com', 'https://api.stripe.com/v1/evil.com'],
    ['\\\\evil.com\\x', 'https://api.stripe.com/v1///evil.com/x'],
    ['@evil.com', 'https://api.stripe.com/v1/@evil.com'],
    [':@evil.com/', 'https://api.stripe.com/v1/:@evil.com/'],
    [' https://evil.com', 'https://api.stripe.com/v1/%20https://evil.com'],
    ['ht\ttps://evil.com', 'https://api.stripe.com/v1/https://evil.com'],
    ['/..%2f..%2fx', 'https://api.stripe.com/v1/..%2f..%2fx'],
    ['HTTPS://API.STRIPE.COM/x', 'https://api.stripe.com/x'],
    ['https://api%2estripe%2ecom/x', 'https://api.stripe.com/x'],
    ['https://api.stripe.com:443/x', 'https://api.stripe.com/x'],
    ['https://api．stripe．com/x', 'https://api.stripe.com/x'],
  ])('keeps %j on the declared host', (url, href) => {
    expect(send(url).href).toBe(href);
  });

  it('lets dot segments leave the base path but never the host (the base path is not a boundary)', () => {
    expect(send('/../../../x').href).toBe('https://api.stripe.com/x');
    expect(send('%2e%2e/%2e%2e/x').host).toBe('api.stripe.com');
  });

  it('accepts the trailing-dot spelling of a declared host, which names the same host', () => {
    expect(send('https://api.stripe.com./x').hostname).toBe('api.stripe.com.');
    expect(send('https://files.slack.com./x').hostname).toBe('files.slack.com.');
  });

  it('cannot move a templated absolute URL to another host', () => {
    expect(send('https://{shop}.myshopify.com\\.evil.com/', { shop: 'acme' }, shopify).host).toBe('acme.myshopify.com');
    expect(() => send('https://evil.com\\{shop}.myshopify.com/', { shop: 'acme' }, shopify)).toThrow(expect.objectContaining({ code: 'EGRESS_DENIED' }));
    expect(() => send('https://{shop}.myshopify.com@evil.com/', { shop: 'acme' }, shopify)).toThrow(expect.objectContaining({ code: 'EGRESS_DENIED', message: expect.stringContaining('user info') }));
  });
});

describe('template injection through connection fields', () => {
  it.each(['evil.com#', 'evil.com/', 'a.evil.com?', 'x@evil.com', 'a.b', 'acme:443', 'acme\\evil', 'acme%2eevil', ' acme', 'ac\tme', '-acme', 'a'.repeat(64), '.', '..', 'ſhop', 'acme\u212a', 'acm\u0435', 'ａcme'])(
    'refuses the {shop} value %j',
    (shop) => {
      expect(() => send('/orders', { shop }, shopify)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', path: '/fields/shop' }));
    },
  );

  it('refuses an empty or missing field and names it', () => {
    expect(() => send('/orders', { shop: '' }, shopify)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', message: expect.stringContaining('needs the connection field "shop"') }));
    expect(() => send('/orders', {}, shopify)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', path: '/fields/shop' }));
  });

  it('lowercases a valid label and keeps the request on the declared template host', () => {
    expect(send('/orders', { shop: 'ACME-1' }, shopify).href).toBe('https://acme-1.myshopify.com/admin/orders');
    expect(() => send('https://other.myshopify.com/orders', { shop: 'acme' }, shopify)).toThrow(expect.objectContaining({ code: 'EGRESS_DENIED' }));
  });

  it('takes a whole-host field only as a plain host name', () => {
    for (const host of ['localhost', 'evil.com.', 'evil.com:80', 'a.b/c', 'x@evil.com', 'evil.com#', '']) {
      expect(() => fillHostTemplate('{host}', { host })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    }
    // An IP or an internal name passes here: the runtime refuses it after DNS resolution, at connect time.
    expect(fillHostTemplate('{host}', { host: 'Metadata.Google.Internal' })).toBe('metadata.google.internal');
  });
});
