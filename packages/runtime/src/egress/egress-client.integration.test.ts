import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockServer, sendJson } from '../testing/mock-server.ts';
import { applyAuth } from './apply-auth.ts';
import { createEgressClient, type EgressStats } from './egress-client.ts';

// Loopback HTTP only: the whole suite runs against servers on 127.0.0.1.
let api: Awaited<ReturnType<typeof startMockServer>>;
let other: Awaited<ReturnType<typeof startMockServer>>;

beforeAll(async () => {
  other = await startMockServer((req, res) => sendJson(res, 200, { host: 'other', authorization: req.headers.authorization ?? null }));
  api = await startMockServer(async (req, res) => {
    const p = req.url.pathname;
    if (p === '/v1/echo') return sendJson(res, 200, { method: req.method, query: Object.fromEntries(req.url.searchParams), headers: req.headers, body: req.body });
    if (p === '/v1/text') { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('plain words'); return; }
    if (p === '/v1/same-host-redirect') { res.writeHead(302, { location: '/v1/echo' }); res.end(); return; }
    if (p === '/v1/post-redirect') { res.writeHead(303, { location: '/v1/echo' }); res.end(); return; }
    if (p === '/v1/cross-host-redirect') { res.writeHead(307, { location: `http://other.test:${other.port}/landing` }); res.end(); return; }
    if (p === '/v1/undeclared-redirect') { res.writeHead(302, { location: `http://undeclared.test:${other.port}/` }); res.end(); return; }
    if (p === '/v1/metadata-redirect') { res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }); res.end(); return; }
    if (p === '/v1/loop') { res.writeHead(302, { location: '/v1/loop' }); res.end(); return; }
    if (p === '/v1/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 97);
      for (let i = 0; i < 64; i++) if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
      res.end();
      return;
    }
    if (p === '/v1/big-declared') { res.writeHead(200, { 'content-length': String(50_000_000) }); res.end(); return; }
    if (p === '/v1/hang') return; // never answers
    sendJson(res, 404, { error: 'no route' });
  });
});
afterAll(async () => {
  await api?.close();
  await other?.close();
});

const resolver = async (hostname: string) => {
  const table: Record<string, string[]> = {
    'api.test': ['127.0.0.1'],
    'other.test': ['127.0.0.1'],
    'undeclared.test': ['127.0.0.1'],
    'rebind.test': ['10.0.0.7', '127.0.0.1'],
    'metadata.test': ['169.254.169.254'],
    'private.test': ['192.168.0.10', 'fd00::1'],
  };
  const found = table[hostname];
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

const manifest = (baseUrl: string, hosts: string[]) => ({ name: 'acme', baseUrl, hosts });

describe('egress client (loopback)', () => {
  const bearer = (token: string) => (t: Parameters<typeof applyAuth>[0]) => applyAuth(t, { type: 'bearer' }, { token });

  it('sends a JSON request with credentials added on the host side and parses the JSON answer', async () => {
    const client = createEgressClient({ allowLoopback: true, resolver });
    const stats: EgressStats = { httpCalls: 0, bytesIn: 0, bytesOut: 0 };
    const res = await client.send({
      manifest: manifest(`http://{sub}.test:${api.port}/v1`, ['{sub}.test']),
      fields: { sub: 'api' },
      request: { method: 'POST', url: '/echo', query: { q: 'a b' }, body: { hello: 'world' }, headers: { 'X-Trace': '1', Host: 'evil.com' } },
      authorize: bearer('secret-token'),
      stats,
    });
    expect(res.status).toBe(200);
    const data = res.data as { method: string; query: Record<string, string>; headers: Record<string, string>; body: string };
    expect(data).toMatchObject({ method: 'POST', query: { q: 'a b' }, body: '{"hello":"world"}' });
    expect(data.headers).toMatchObject({ authorization: 'Bearer secret-token', 'x-trace': '1', 'content-type': 'application/json', host: `api.test:${api.port}` });
    expect(stats).toMatchObject({ httpCalls: 1, bytesOut: 17 });
    expect(stats.bytesIn).toBeGreaterThan(0);
    await client.close();
  });

  it('encodes form bodies and returns text answers as strings', async () => {
    const client = createEgressClient({ allowLoopback: true });
    const m = manifest(`${api.origin}/v1`, ['127.0.0.1']);
    const res = await client.send({ manifest: m, fields: {}, request: { method: 'POST', url: '/echo', bodyType: 'form', body: { card: { number: '42' }, tags: ['a'] } } });
    expect((res.data as { body: string }).body).toBe('card%5Bnumber%5D=42&tags%5B0%5D=a');
    const text = await client.send({ manifest: m, fields: {}, request: { method: 'GET', url: '/text' } });
    expect(text.data).toBe('plain words');
    await client.close();
  });

  it('denies loopback by default, both as an IP literal and after DNS resolution', async () => {
    const client = createEgressClient({ resolver });
    // https is required without test mode, so first the scheme check refuses.
    await expect(client.send({ manifest: manifest(`${api.origin}/v1`, ['127.0.0.1']), fields: {}, request: { method: 'GET', url: '/echo' } })).rejects.toMatchObject({ code: 'EGRESS_DENIED' });
    await expect(client.send({ manifest: manifest('https://127.0.0.1/v1', ['127.0.0.1']), fields: {}, request: { method: 'GET', url: '/echo' } })).rejects.toMatchObject({
      code: 'EGRESS_DENIED',
      message: expect.stringContaining('loopback'),
    });
    await expect(client.send({ manifest: manifest('https://api.test/v1', ['api.test']), fields: {}, request: { method: 'GET', url: '/echo' } })).rejects.toMatchObject({
      code: 'EGRESS_DENIED',
      message: expect.stringContaining('api.test resolves only'),
    });
    await client.close();
  });

  it('refuses metadata and private addresses after resolution even in test mode, and connects only to a checked address', async () => {
    const client = createEgressClient({ allowLoopback: true, resolver });
    for (const host of ['metadata.test', 'private.test']) {
      await expect(client.send({ manifest: manifest(`http://${host}:${api.port}`, [host]), fields: {}, request: { method: 'GET', url: '/v1/echo' } })).rejects.toMatchObject({ code: 'EGRESS_DENIED' });
    }
    // A name answering a private and a loopback address: only the allowed one is used.
    const res = await client.send({ manifest: manifest(`http://rebind.test:${api.port}`, ['rebind.test']), fields: {}, request: { method: 'GET', url: '/v1/echo' } });
    expect(res.status).toBe(200);
    await client.close();
  });

  it('follows same-host redirects with credentials and drops them when the host changes', async () => {
    const client = createEgressClient({ allowLoopback: true, resolver });
    const m = manifest(`http://api.test:${api.port}/v1`, ['api.test', 'other.test']);
    const stats: EgressStats = { httpCalls: 0, bytesIn: 0, bytesOut: 0 };
    const same = await client.send({ manifest: m, fields: {}, request: { method: 'GET', url: '/same-host-redirect' }, authorize: bearer('tok'), stats });
    expect((same.data as { headers: Record<string, string> }).headers.authorization).toBe('Bearer tok');
    expect(stats.httpCalls).toBe(2);
    const cross = await client.send({ manifest: m, fields: {}, request: { method: 'GET', url: '/cross-host-redirect', headers: { Authorization: 'connector-set' } }, authorize: bearer('tok') });
    expect(cross.data).toEqual({ host: 'other', authorization: null });
    const post = await client.send({ manifest: m, fields: {}, request: { method: 'POST', url: '/post-redirect', body: { a: 1 } } });
    expect(post.data).toMatchObject({ method: 'GET', body: '' });
    await client.close();
  });

  it('re-checks every redirect hop and caps the number of hops', async () => {
    const client = createEgressClient({ allowLoopback: true, resolver });
    const m = manifest(`http://api.test:${api.port}/v1`, ['api.test', '169.254.169.254']);
    await expect(client.send({ manifest: m, fields: {}, request: { method: 'GET', url: '/undeclared-redirect' } })).rejects.toMatchObject({ code: 'EGRESS_DENIED', message: expect.stringContaining('undeclared.test') });
    await expect(client.send({ manifest: m, fields: {}, request: { method: 'GET', url: '/metadata-redirect' } })).rejects.toMatchObject({ code: 'EGRESS_DENIED', message: expect.stringContaining('metadata') });
    const stats: EgressStats = { httpCalls: 0, bytesIn: 0, bytesOut: 0 };
    await expect(client.send({ manifest: m, fields: {}, request: { method: 'GET', url: '/loop' }, stats })).rejects.toMatchObject({ code: 'UPSTREAM_ERROR', message: expect.stringContaining('more than 5') });
    expect(stats.httpCalls).toBe(6);
    await client.close();
  });

  it('caps request and response sizes', async () => {
    const client = createEgressClient({ allowLoopback: true, maxResponseBytes: 1024 * 1024, maxRequestBytes: 1000 });
    const m = manifest(`${api.origin}/v1`, ['127.0.0.1']);
    await expect(client.send({ manifest: m, fields: {}, request: { method: 'GET', url: '/big' } })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('went past') });
    await expect(client.send({ manifest: m, fields: {}, request: { method: 'GET', url: '/big-declared' } })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await expect(client.send({ manifest: m, fields: {}, request: { method: 'POST', url: '/echo', body: { x: 'y'.repeat(2000) } } })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    // The client still works afterwards.
    expect((await client.send({ manifest: m, fields: {}, request: { method: 'GET', url: '/text' } })).data).toBe('plain words');
    await client.close();
  });

  it('times out, and reports refused connections as network errors', async () => {
    const client = createEgressClient({ allowLoopback: true });
    await expect(client.send({ manifest: manifest(`${api.origin}/v1`, ['127.0.0.1']), fields: {}, request: { method: 'GET', url: '/hang', timeoutMs: 150 } })).rejects.toMatchObject({ code: 'TIMEOUT' });
    const closed = await startMockServer(() => undefined);
    const port = closed.port;
    await closed.close();
    await expect(client.send({ manifest: manifest(`http://127.0.0.1:${port}`, ['127.0.0.1']), fields: {}, request: { method: 'GET', url: '/' } })).rejects.toMatchObject({ code: 'NETWORK_ERROR' });
    await client.close();
  });
});
