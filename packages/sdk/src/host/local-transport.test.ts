// Which hosts the local transport (CLI run, simulator, test harness) sends credentials to: the runtime's rule, the
// baseUrl's host and exactly declared hosts, never a host matched only by a `*.` wildcard. No I/O: fetch is a stub.
import { describe, expect, it } from 'vitest';
import type { Credentials } from '../auth.ts';
import { ApiKeyAuth, BearerTokenAuth, defineAction, defineConnector } from '../index.ts';
import { createLocalTransport } from './local-transport.ts';

interface Sent {
  url: URL;
  headers: Record<string, string>;
}

function recordingFetch(sent: Sent[]): typeof fetch {
  return async (input, init) => {
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((value, name) => {
      headers[name] = value;
    });
    sent.push({ url: new URL(input instanceof Request ? input.url : String(input)), headers });
    return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });
  };
}

const hosts = ['api.test', 'other.test', '*.cdn.test', 'files.cdn.test', '{shop}.shop.test'];
const noop = defineAction({ name: 'noop', description: 'does nothing', async execute() { return {}; } });
const bearer = defineConnector({ name: 'bearer-hosts', version: '1.0.0', baseUrl: 'https://api.test/v2', hosts, auth: new BearerTokenAuth(), actions: [noop] });
const queryKey = defineConnector({ name: 'query-hosts', version: '1.0.0', baseUrl: 'https://api.test/v2', hosts, auth: new ApiKeyAuth({ in: 'query', name: 'api_key' }), actions: [noop] });
const cases: [typeof bearer, Credentials][] = [
  [bearer, { token: 'bearer-secret', fields: { shop: 'acme' } }],
  [queryKey, { apiKey: 'query-secret', fields: { shop: 'acme' } }],
];

async function send(url: string, baseUrlOverride?: string): Promise<Sent[]> {
  const sent: Sent[] = [];
  for (const [connector, credentials] of cases) {
    const transport = createLocalTransport({ manifest: connector.manifest, credentials, fetch: recordingFetch(sent), ...(baseUrlOverride ? { baseUrlOverride } : {}) });
    await transport({ method: 'GET', url });
  }
  return sent;
}

const carried = (s: Sent) => s.headers.authorization !== undefined || s.url.searchParams.has('api_key');

describe('createLocalTransport: which hosts get credentials', () => {
  it.each(['https://evil.cdn.test/asset?x=1', 'https://EVIL.cdn.test./asset?x=1'])('sends %s, matched only by the *.cdn.test wildcard, without credentials', async (url) => {
    const sent = await send(url);
    expect(sent).toHaveLength(2);
    for (const s of sent) {
      expect(s.url.hostname.toLowerCase().replace(/\.$/, '')).toBe('evil.cdn.test');
      expect(Object.fromEntries(s.url.searchParams)).toEqual({ x: '1' });
      expect(carried(s)).toBe(false);
    }
  });

  it.each([
    ['the baseUrl host (relative path)', '/items'],
    ['the baseUrl host (absolute URL)', 'https://api.test/v2/items?page=2'],
    ['an exactly declared host', 'https://other.test/x'],
    ['a host declared exactly besides a wildcard that also matches it', 'https://files.cdn.test/x'],
    ['a templated host filled from the connection fields', 'https://acme.shop.test/x'],
  ])('adds credentials for %s', async (_what, url) => {
    const [viaHeader, viaQuery] = await send(url);
    expect(viaHeader!.headers.authorization).toBe('Bearer bearer-secret');
    expect(viaQuery!.url.searchParams.get('api_key')).toBe('query-secret');
  });

  it('decides on the URL the connector asked for when the simulator overrides the base URL', async () => {
    const simulator = 'http://127.0.0.1:4010';
    const wildcard = await send('https://evil.cdn.test/asset', simulator);
    expect(wildcard.map((s) => s.url.origin)).toEqual([simulator, simulator]);
    expect(wildcard.some(carried)).toBe(false);
    const relative = await send('/items', simulator);
    expect(relative.map((s) => s.url.href)).toEqual([`${simulator}/items`, `${simulator}/items?api_key=query-secret`]);
    expect(relative[0]!.headers.authorization).toBe('Bearer bearer-secret');
  });
});
