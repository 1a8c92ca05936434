// The fetch the service uses for a connector's OAuth2 endpoints, against servers on loopback: the address policy
// after DNS resolution, no redirect followed, the response cap and the timeout.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPinnedFetch } from './pinned-fetch.ts';

let server: Server;
let port: number;
const seen: { method: string; url: string; body: string; headers: IncomingMessage['headers'] }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body, headers: req.headers });
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/moved') {
        res.writeHead(307, { location: `http://127.0.0.1:${port}/token` });
        res.end();
      } else if (url.pathname === '/huge') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('x'.repeat(4096));
      } else if (url.pathname === '/huge-chunked') {
        res.writeHead(200, { 'content-type': 'application/json' });
        for (let i = 0; i < 8; i++) res.write('y'.repeat(1024));
        res.end();
      } else if (url.pathname === '/silent') {
        // Never answers: the caller's timeout has to end it.
      } else {
        res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] });
        res.end(JSON.stringify({ access_token: 'tok', token_type: 'Bearer' }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
});

const form = () => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_secret: 's3cret', code: 'c' }) });

describe('createPinnedFetch', () => {
  it('posts the form and returns the answer (loopback allowed in test mode)', async () => {
    const pinned = createPinnedFetch({ allowLoopback: true });
    seen.length = 0;
    const res = await pinned.fetch(`http://127.0.0.1:${port}/token?x=1`, form());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ access_token: 'tok', token_type: 'Bearer' });
    expect(res.headers.get('set-cookie')).toBe('a=1, b=2');
    expect(seen).toMatchObject([{ method: 'POST', url: '/token?x=1', body: 'client_secret=s3cret&code=c', headers: { 'content-type': 'application/x-www-form-urlencoded' } }]);
    await pinned.close();
  });

  it.each([
    ['an IP literal', () => `https://127.0.0.1:${port}/token`, undefined],
    ['a name that resolves to loopback', () => `https://tokens.internal.test:${port}/token`, '127.0.0.1'],
    ['a name that resolves to a private address', () => 'https://tokens.internal.test/token', '10.1.2.3'],
    ['a name that resolves to the metadata address', () => 'https://tokens.internal.test/token', '169.254.169.254'],
    ['a name that resolves to a link-local IPv6 address', () => 'https://tokens.internal.test/token', 'fe80::1'],
  ])('refuses %s without sending anything', async (_what, url, address) => {
    const resolver = async () => (address ? [{ address, family: address.includes(':') ? 6 : 4 }] : []);
    const pinned = createPinnedFetch({ resolver });
    seen.length = 0;
    await expect(pinned.fetch(url(), form())).rejects.toMatchObject({ code: 'EGRESS_DENIED' });
    expect(seen).toEqual([]);
    await pinned.close();
  });

  it('refuses plain http outside test mode, and to a non-loopback address in test mode', async () => {
    const strict = createPinnedFetch();
    await expect(strict.fetch(`http://127.0.0.1:${port}/token`, form())).rejects.toMatchObject({ code: 'EGRESS_DENIED', message: expect.stringContaining('only https') });
    await strict.close();
    const loose = createPinnedFetch({ allowLoopback: true, resolver: async () => [{ address: '10.1.2.3', family: 4 }] });
    await expect(loose.fetch('http://tokens.internal.test/token', form())).rejects.toMatchObject({ code: 'EGRESS_DENIED', message: expect.stringContaining('10.1.2.3') });
    await loose.close();
    expect(seen.filter((r) => r.body.includes('s3cret') && r.url === '/token')).toEqual([]);
  });

  it('returns a redirect as it is, whatever init.redirect says, and sends nothing to its Location', async () => {
    const pinned = createPinnedFetch({ allowLoopback: true });
    seen.length = 0;
    const res = await pinned.fetch(`http://127.0.0.1:${port}/moved`, { ...form(), redirect: 'follow' });
    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toBe(`http://127.0.0.1:${port}/token`);
    expect(seen.map((r) => r.url)).toEqual(['/moved']);
    await pinned.close();
  });

  it.each(['/huge', '/huge-chunked'])('caps the answer (%s)', async (path) => {
    const pinned = createPinnedFetch({ allowLoopback: true, maxResponseBytes: 1024 });
    await expect(pinned.fetch(`http://127.0.0.1:${port}${path}?secret=q`, form())).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      message: expect.not.stringContaining('secret=q'),
    });
    await pinned.close();
  });

  it('ends a request the endpoint does not answer with TIMEOUT', async () => {
    const pinned = createPinnedFetch({ allowLoopback: true, timeoutMs: 200 });
    await expect(pinned.fetch(`http://127.0.0.1:${port}/silent`, form())).rejects.toMatchObject({ code: 'TIMEOUT' });
    await pinned.close();
  });
});
