import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fieldKind, fromN8nValue, oauth2Options, pointer, readActionParams, connectorRequestUrl, toItems, verifySignature, type ManifestLike } from './n8n-runtime.ts';

const manifest: ManifestLike = { name: 'shop', baseUrl: 'https://{shop}.myshopify.com/admin', hosts: ['{shop}.myshopify.com', '*.cdn.example'], auth: { type: 'none' }, actions: [], triggers: [] };

describe('fieldKind / fromN8nValue', () => {
  it('classifies schemas the way the export shows them', () => {
    expect(fieldKind({ type: 'string' })).toEqual({ kind: 'string' });
    expect(fieldKind({ type: ['integer', 'null'] })).toEqual({ kind: 'number' });
    expect(fieldKind({ enum: ['a', 'b', null] })).toEqual({ kind: 'options', values: ['a', 'b'] });
    expect(fieldKind({ type: 'array', items: { enum: ['x'] } })).toEqual({ kind: 'multiOptions', values: ['x'] });
    expect(fieldKind({ type: 'object', properties: { a: { type: 'string' } } }, 1)).toEqual({ kind: 'json' });
    expect(fieldKind({ anyOf: [{ type: 'string' }, { type: 'number' }] })).toEqual({ kind: 'json' });
  });

  it('converts n8n values back and locates bad JSON', () => {
    const schema = { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' }, qty: { type: 'integer' } } } };
    expect(fromN8nValue(schema, { item: [{ sku: 'A', qty: 2 }, { sku: '', qty: 1 }] }, '/lines')).toEqual([{ sku: 'A', qty: 2 }, { qty: 1 }]);
    expect(fromN8nValue({ type: 'string' }, '', '/x')).toBeUndefined();
    expect(() => fromN8nValue({ type: 'object' }, '{oops', '/meta')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', path: '/meta' }));
    expect(() => fromN8nValue({ type: 'number' }, 'seven', '/n')).toThrow(/must be a number/);
  });

  it('reads required params on their own and optional ones from Additional Fields', () => {
    const values: Record<string, unknown> = { email: 'a@b.c', param_resource: 'r', additionalFields: { note: 'hi', unknown: 1 } };
    const params = readActionParams((name, fallback) => values[name] ?? fallback, {
      type: 'object',
      properties: { email: { type: 'string' }, resource: { type: 'string' }, note: { type: 'string' }, age: { type: 'integer' } },
      required: ['email', 'resource'],
    });
    expect(params).toEqual({ email: 'a@b.c', resource: 'r', note: 'hi' });
  });
});

describe('requests', () => {
  it('resolves URLs against the base URL and refuses undeclared hosts and plain http', () => {
    expect(() => connectorRequestUrl(manifest, { shop: 'acme' }, undefined, 'http://acme.myshopify.com/admin/orders.json')).toThrow(expect.objectContaining({ code: 'EGRESS_DENIED' }));
    expect(connectorRequestUrl(manifest, { shop: 'Acme' }, undefined, '/orders.json')).toBe('https://acme.myshopify.com/admin/orders.json');
    expect(connectorRequestUrl(manifest, { shop: 'acme' }, 'http://127.0.0.1:9/x', 'orders')).toBe('http://127.0.0.1:9/x/orders');
    expect(connectorRequestUrl(manifest, { shop: 'acme' }, undefined, 'https://img.cdn.example/a.png')).toBe('https://img.cdn.example/a.png');
    expect(() => connectorRequestUrl(manifest, { shop: 'acme' }, undefined, 'https://evil.example/')).toThrow(/may not call evil.example/);
    expect(() => connectorRequestUrl(manifest, { shop: 'evil.com/' }, undefined, '/x')).toThrow(/single host label/);
    expect(() => connectorRequestUrl(manifest, {}, undefined, '/x')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', path: '/fields/shop' }));
  });

  it('fills placeholders in the credential\'s Base URL and allows its host, port included, and only that one', () => {
    expect(connectorRequestUrl(manifest, { shop: 'acme' }, 'http://127.0.0.1:8080/shops/{shop}/admin', '/orders.json')).toBe('http://127.0.0.1:8080/shops/acme/admin/orders.json');
    expect(connectorRequestUrl(manifest, { shop: 'acme' }, 'http://127.0.0.1:8080/a', 'http://127.0.0.1:8080/a/orders.json?page_info=2')).toBe('http://127.0.0.1:8080/a/orders.json?page_info=2');
    expect(() => connectorRequestUrl(manifest, { shop: 'acme' }, 'http://127.0.0.1:8080/a', 'http://127.0.0.1:9090/a')).toThrow(expect.objectContaining({ code: 'EGRESS_DENIED' }));
    expect(() => connectorRequestUrl(manifest, { shop: 'acme' }, 'not a url', '/x')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', message: expect.stringMatching(/Base URL/) }));
    expect(() => connectorRequestUrl(manifest, { shop: 'acme' }, 'https://api.example/{shop}', '/x?y=1')).not.toThrow();
    expect(() => connectorRequestUrl(manifest, { shop: 'acme' }, 'https://user:pw@api.example/', '/x')).toThrow(/user info/);
  });

  it('has n8n sign OAuth2 requests with a Bearer header whatever the token type, or the connector\'s token header', () => {
    expect(oauth2Options(undefined)).toEqual({ tokenType: 'Bearer' });
    expect(oauth2Options({ name: 'Authorization', prefix: 'Bearer ' })).toEqual({ tokenType: 'Bearer' });
    expect(oauth2Options({ name: 'X-Shopify-Access-Token', prefix: '' })).toEqual({ tokenType: 'Bearer', keyToIncludeInAccessTokenHeader: 'X-Shopify-Access-Token', keepBearer: false });
  });

  it('turns results into paired items', () => {
    expect(toItems([{ a: 1 }, 2], 3)).toEqual([{ json: { a: 1 }, pairedItem: { item: 3 } }, { json: { value: 2 }, pairedItem: { item: 3 } }]);
    expect(toItems(undefined, 0)).toEqual([{ json: { value: null }, pairedItem: { item: 0 } }]);
    expect(pointer({ a: [{ 'b/c': 5 }] }, '/a/0/b~1c')).toBe(5);
  });
});

describe('verifySignature', () => {
  const body = '{"id":"evt_1"}';
  const now = 1_700_000_000_000;
  const hex = (secret: string, payload: string) => createHmac('sha256', secret).update(payload).digest('hex');

  it('checks Stripe, Slack, Shopify and GitHub signatures and rejects replays', () => {
    const t = String(now / 1000);
    expect(verifySignature({ scheme: 'stripe', secret: 'subscription' }, 's', { 'stripe-signature': `t=${t},v1=${hex('s', `${t}.${body}`)}` }, body, now)).toBeUndefined();
    expect(verifySignature({ scheme: 'stripe', secret: 'subscription' }, 's', { 'stripe-signature': `t=${Number(t) - 3600},v1=${hex('s', `${Number(t) - 3600}.${body}`)}` }, body, now)).toMatch(/tolerance/);
    expect(verifySignature({ scheme: 'slack', secret: 'config:x' }, 's', { 'x-slack-signature': `v0=${hex('s', `v0:${t}:${body}`)}`, 'x-slack-request-timestamp': t }, body, now)).toBeUndefined();
    expect(verifySignature({ scheme: 'shopify', secret: 'config:x' }, 's', { 'x-shopify-hmac-sha256': createHmac('sha256', 's').update(body).digest('base64') }, body, now)).toBeUndefined();
    expect(verifySignature({ scheme: 'github', secret: 'field:x' }, 's', { 'x-hub-signature-256': `sha256=${hex('s', body)}` }, body, now)).toBeUndefined();
    expect(verifySignature({ scheme: 'github', secret: 'field:x' }, 's', { 'x-hub-signature-256': `sha256=${hex('other', body)}` }, body, now)).toMatch(/does not match/);
    expect(verifySignature({ scheme: 'shopify', secret: 'config:x' }, 's', {}, body, now)).toMatch(/missing/);
  });

  it('checks configured HMAC with a timestamp template', () => {
    const spec = { scheme: 'hmac', secret: 'field:k', algorithm: 'sha256', header: 'X-Sig', encoding: 'hex', prefix: 'v1=', payload: '{timestamp}:{body}', timestampHeader: 'X-Ts' };
    const ts = String(now / 1000);
    expect(verifySignature(spec, 'k', { 'x-sig': `v1=${hex('k', `${ts}:${body}`)}`, 'x-ts': ts }, body, now)).toBeUndefined();
    expect(verifySignature(spec, 'k', { 'x-sig': `v1=${hex('k', body)}`, 'x-ts': ts }, body, now)).toMatch(/does not match/);
  });
});
