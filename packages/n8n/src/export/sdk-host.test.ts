import { describe, expect, it } from 'vitest';
import { bundleSdkHost, SDK_HOST_EXPORTS, SDK_HOST_TYPES } from './sdk-host.ts';

describe('bundleSdkHost', () => {
  it('bundles the SDK\'s URL and form helpers, and nothing else, as the exported package\'s vendor/sdk-host.js', async () => {
    const code = await bundleSdkHost();
    expect(code).not.toMatch(/\bajv\b|\brequire\(/);
    const mod = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)) as Record<string, unknown>;
    expect(Object.keys(mod).sort()).toEqual([...SDK_HOST_EXPORTS]);
    for (const name of SDK_HOST_EXPORTS) expect(SDK_HOST_TYPES).toContain(`export declare function ${name}(`);
    const resolve = mod.resolveRequestUrl as (m: object, f: Record<string, string>, u: string) => URL;
    const assertAllowed = mod.assertUrlAllowed as (m: object, f: Record<string, string>, u: URL) => void;
    const shop = { name: 'shop', baseUrl: 'https://{shop}.myshopify.com/admin', hosts: ['{shop}.myshopify.com'] };
    expect(resolve(shop, { shop: 'Acme' }, '/orders.json').toString()).toBe('https://acme.myshopify.com/admin/orders.json');
    expect(() => resolve(shop, { shop: 'evil.com/' }, '/x')).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', path: '/fields/shop' }));
    expect(() => assertAllowed(shop, { shop: 'acme' }, new URL('https://evil.example/'))).toThrow(expect.objectContaining({ code: 'EGRESS_DENIED' }));
    expect((mod.encodeForm as (v: unknown) => string)({ metadata: { a: 1 } })).toBe('metadata%5Ba%5D=1');
  });
});
