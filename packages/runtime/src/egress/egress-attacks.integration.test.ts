// Attacks a hostile connector (or a hostile upstream) can try through the host HTTP client, against loopback
// servers. Each refused request must fail with a coded error that names what was refused, never hang or crash.
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendJson, startMockServer } from '../testing/mock-server.ts';
import { applyAuth } from './apply-auth.ts';
import { createEgressClient, type EgressStats } from './egress-client.ts';

let api: Awaited<ReturnType<typeof startMockServer>>;
let other: Awaited<ReturnType<typeof startMockServer>>;
let raw: Server;
let rawPort = 0;

const GZIP_BOMB = gzipSync(Buffer.alloc(8 * 1024 * 1024, 97));

beforeAll(async () => {
  other = await startMockServer((req, res) => sendJson(res, 200, { host: 'other', query: Object.fromEntries(req.url.searchParams), headers: req.headers }));
  api = await startMockServer((req, res) => {
    const p = req.url.pathname;
    const to = req.url.searchParams.get('to');
    if (p === '/redirect' && to) {
      res.writeHead(Number(req.url.searchParams.get('status') ?? 302), { location: to.replace('OTHER', String(other.port)).replace('API', String(api.port)) });
      res.end();
      return;
    }
    if (p === '/gzip-bomb') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': String(GZIP_BOMB.length) });
      res.end(GZIP_BOMB);
      return;
    }
    if (p === '/drip') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('x'), 20);
      res.on('close', () => clearInterval(timer));
      return;
    }
    if (p === '/loop') {
      res.writeHead(302, { location: '/loop' });
      res.end();
      return;
    }
    if (p === '/big-resource') {
      // Describes a 50 MB resource; a GET would send it, a HEAD or a 304 sends no body.
      const notModified = req.headers['if-none-match'] === '"v1"';
      res.writeHead(notModified ? 304 : 200, { 'content-length': String(50_000_000), etag: '"v1"' });
      res.end();
      return;
    }
    if (p === '/small-over-cap') {
      // The whole body arrives with the headers, so it is complete (unread) when the client refuses it.
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '8000' });
      res.end(Buffer.alloc(8000, 97));
      return;
    }
    if (p === '/close') return sendJson(res, 200, { ok: true }, { connection: 'close' });
    if (p === '/redirect-with-body') {
      // A redirect with a body of `size` bytes, sent chunked (no length): the client reads it before the next hop.
      res.writeHead(302, { location: '/landing', 'content-type': 'text/html' });
      res.end(Buffer.alloc(Number(req.url.searchParams.get('size')), 120));
      return;
    }
    sendJson(res, 200, { method: req.method, path: p, query: Object.fromEntries(req.url.searchParams), headers: req.headers, body: req.body });
  });
  // A server that lies: the path chooses the lie.
  raw = createTcpServer((socket) => {
    socket.once('data', (data) => {
      const path = /^[A-Z]+ (\S+)/.exec(data.toString('latin1'))?.[1] ?? '/';
      const big = Buffer.alloc(2 * 1024 * 1024, 98);
      if (path === '/short-length') {
        // Declares 10 bytes, then keeps sending.
        socket.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 10\r\n\r\n'), big]));
      } else {
        // No length at all: the body ends when the connection closes.
        socket.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n'), big]));
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
  rawPort = (raw.address() as AddressInfo).port;
});

afterAll(async () => {
  await api?.close();
  await other?.close();
  await new Promise((resolve) => raw?.close(resolve));
});

const table: Record<string, string[]> = {
  'api.test': ['127.0.0.1'],
  'other.test': ['127.0.0.1'],
  'mapped.test': ['::ffff:127.0.0.1'],
  'compat.test': ['::7f00:1'],
  'nat64.test': ['64:ff9b::a9fe:a9fe'],
  'sixtofour.test': ['2002:a9fe:a9fe::1'],
  'teredo.test': ['2001:0:4136:e378:8000:63bf:3fff:fdd2'],
  'cgnat.test': ['100.64.0.1'],
  'bench.test': ['198.18.0.1'],
  'class-e.test': ['240.0.0.1'],
  'broadcast.test': ['255.255.255.255'],
  'multicast.test': ['224.0.0.251'],
  'zero.test': ['0.0.0.0'],
  'unspecified6.test': ['::'],
  'ula.test': ['fc00::1'],
  'linklocal6.test': ['fe80::1'],
  'aws6.test': ['fd00:ec2::254'],
  'metadata.google.internal': ['169.254.169.254'],
  // Internal addresses first, loopback (the allowed one in test mode) last: only the allowed address may be used.
  'mixed.test': ['10.0.0.7', '169.254.169.254', 'fd00::1', '127.0.0.1'],
};
const resolver = async (hostname: string) => {
  const found = table[hostname];
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

const manifest = (baseUrl: string, hosts: string[]) => ({ name: 'acme', baseUrl, hosts });
const get = (url: string, extra: Record<string, unknown> = {}) => ({ method: 'GET' as const, url, ...extra });

describe('egress attacks: addresses', () => {
  it.each([
    ['[::ffff:127.0.0.1]', /IPv4-mapped/],
    ['[::ffff:7f00:1]', /IPv4-mapped/],
    ['[::127.0.0.1]', /not a global unicast/],
    ['[64:ff9b::a00:1]', /rfc6052/],
    ['[2002:a00:1::]', /6to4/],
    ['[::]', /unspecified/],
    ['[fd00:ec2::254]', /metadata/],
    ['[fc00::1]', /uniqueLocal/],
    ['0.0.0.0', /unspecified/],
    ['169.254.169.254', /metadata/],
    ['100.64.0.1', /carrierGradeNat/],
    ['198.18.0.1', /IPv4 \w+ range/],
    ['240.0.0.1', /reserved/],
    ['255.255.255.255', /broadcast/],
    ['224.0.0.1', /multicast/],
    ['10.0.0.1', /private/],
  ])('refuses the IP literal %s before connecting, even in test mode', async (literal, reason) => {
    const client = createEgressClient({ allowLoopback: true });
    const host = new URL(`http://${literal}/`).hostname;
    await expect(client.send({ manifest: manifest(`http://${literal}:${api.port}`, [host]), fields: {}, request: get('/x') })).rejects.toMatchObject({
      code: 'EGRESS_DENIED',
      message: expect.stringMatching(reason),
    });
    await client.close();
  });

  it.each(['https://2130706433/', 'https://0x7f.1/', 'https://0177.0.0.1/', 'https://127.1/', 'https://[::127.0.0.1]/', 'https://[0:0:0:0:0:ffff:7f00:1]/'])(
    'refuses the loopback spelling %s in production mode',
    async (href) => {
      const client = createEgressClient();
      const host = new URL(href).hostname;
      await expect(client.send({ manifest: manifest(href, [host]), fields: {}, request: get('/x') })).rejects.toMatchObject({
        code: 'EGRESS_DENIED',
        message: expect.stringContaining('Refusing to connect'),
      });
      await client.close();
    },
  );

  it.each(Object.keys(table).filter((h) => !['api.test', 'other.test', 'mixed.test'].includes(h)))('refuses %s, which resolves only to an internal address', async (host) => {
    const client = createEgressClient({ allowLoopback: true, resolver });
    await expect(client.send({ manifest: manifest(`http://${host}:${api.port}`, [host]), fields: {}, request: get('/x') })).rejects.toMatchObject({
      code: 'EGRESS_DENIED',
      message: expect.stringContaining(`${host} resolves only to addresses the runtime does not connect to`),
    });
    await client.close();
  });

  it('uses only the allowed address of an answer that mixes internal and allowed ones', async () => {
    const client = createEgressClient({ allowLoopback: true, resolver });
    const before = api.requests.length;
    const res = await client.send({ manifest: manifest(`http://mixed.test:${api.port}`, ['mixed.test']), fields: {}, request: get('/mixed') });
    expect(res.data).toMatchObject({ path: '/mixed' });
    expect(api.requests.length).toBe(before + 1);
    await client.close();
  });

  it('checks the address it connects to: a name that rebinds to a private address is refused on the next connection', async () => {
    const answers = [['127.0.0.1'], ['10.0.0.7']];
    let lookups = 0;
    const rebinding = async () => (answers[Math.min(lookups++, answers.length - 1)] ?? []).map((address) => ({ address, family: 4 }));
    const client = createEgressClient({ allowLoopback: true, resolver: rebinding });
    const m = manifest(`http://rebind.test:${api.port}`, ['rebind.test']);
    // The server closes the connection, so the next request must open (and resolve) a new one.
    expect((await client.send({ manifest: m, fields: {}, request: get('/close') })).data).toEqual({ ok: true });
    // One lookup for the connection: the address checked is the address connected to, nothing resolves it again.
    expect(lookups).toBe(1);
    await expect(client.send({ manifest: m, fields: {}, request: get('/close') })).rejects.toMatchObject({ code: 'EGRESS_DENIED', message: expect.stringContaining('10.0.0.7') });
    expect(lookups).toBe(2);
    await client.close();
  });
});

describe('egress attacks: redirects', () => {
  const m = () => manifest(`http://api.test:${api.port}`, ['api.test', 'other.test']);
  const redirect = (to: string, status = 302) => `/redirect?${new URLSearchParams({ to, status: String(status) })}`;

  it.each([
    ['file:///etc/passwd', /may only call http\(s\) URLs, not file:/],
    ['ftp://api.test/x', /not ftp:/],
    ['data:text/plain,hello', /not data:/],
    ['javascript:alert(1)', /not javascript:/],
    ['gopher://api.test:API/_x', /not gopher:/],
    ['//undeclared.test:OTHER/x', /may not call undeclared\.test/],
    ['http://evil.test:OTHER/x', /may not call evil\.test/],
    ['http://api.test@other.test:OTHER/x', /user info/],
    ['http://[::ffff:127.0.0.1]:API/x', /may not call \[::ffff:7f00:1\]/],
    ['http://169.254.169.254/latest/meta-data/', /may not call 169\.254\.169\.254/],
  ])('refuses a redirect to %s', async (to, reason) => {
    const client = createEgressClient({ allowLoopback: true, resolver });
    await expect(client.send({ manifest: m(), fields: {}, request: get(redirect(to)) })).rejects.toMatchObject({ code: 'EGRESS_DENIED', message: expect.stringMatching(reason) });
    await client.close();
  });

  it('refuses a redirect to an internal address even when the manifest declares it', async () => {
    const client = createEgressClient({ allowLoopback: true, resolver });
    const declared = manifest(`http://api.test:${api.port}`, ['api.test', '[::ffff:7f00:1]', 'metadata.google.internal']);
    for (const to of [`http://[::ffff:127.0.0.1]:${api.port}/x`, `http://metadata.google.internal:${api.port}/computeMetadata/v1/`]) {
      await expect(client.send({ manifest: declared, fields: {}, request: get(redirect(to)) })).rejects.toMatchObject({ code: 'EGRESS_DENIED' });
    }
    await client.close();
  });

  it.each([['landing?x=1', '/landing'], ['../up/landing?x=1', '/up/landing'], ['/abs?x=1', '/abs']])('follows the relative redirect %s on the same host', async (to, path) => {
    const client = createEgressClient({ allowLoopback: true, resolver });
    const res = await client.send({ manifest: m(), fields: {}, request: get(redirect(to)) });
    expect(res.data).toMatchObject({ path, query: { x: '1' } });
    await client.close();
  });

  it.each([301, 302, 303, 307, 308])('never sends credentials to another host on a %i redirect', async (status) => {
    const client = createEgressClient({ allowLoopback: true, resolver });
    const to = `http://other.test:OTHER/landing`;
    const headerKey = (t: Parameters<typeof applyAuth>[0]) => applyAuth(t, { type: 'api_key', in: 'header', name: 'X-Api-Key' }, { apiKey: 'header-secret' });
    const queryKey = (t: Parameters<typeof applyAuth>[0]) => applyAuth(t, { type: 'api_key', in: 'query', name: 'api_key' }, { apiKey: 'query-secret' });
    const basic = (t: Parameters<typeof applyAuth>[0]) => applyAuth(t, { type: 'basic' }, { username: 'u', password: 'basic-secret' });
    for (const authorize of [headerKey, queryKey, basic]) {
      const res = await client.send({ manifest: m(), fields: {}, request: { method: 'POST', url: redirect(to, status), body: { a: 1 }, headers: { Cookie: 'sid=connector', Authorization: 'connector-set' } }, authorize });
      const data = res.data as { host: string; query: Record<string, string>; headers: Record<string, string> };
      expect(data.host).toBe('other');
      expect(data.query).toEqual({});
      expect(data.headers['x-api-key']).toBeUndefined();
      expect(data.headers.authorization).toBeUndefined();
      expect(data.headers.cookie).toBeUndefined();
    }
    await client.close();
  });

  it('keeps credentials on a same-host redirect', async () => {
    const client = createEgressClient({ allowLoopback: true, resolver });
    const authorize = (t: Parameters<typeof applyAuth>[0]) => applyAuth(t, { type: 'api_key', in: 'query', name: 'api_key' }, { apiKey: 'query-secret' });
    const res = await client.send({ manifest: m(), fields: {}, request: get(redirect('/landing')), authorize });
    expect(res.data).toMatchObject({ path: '/landing', query: { api_key: 'query-secret' } });
    await client.close();
  });

  it('adds no credentials when a redirect chain comes back to the first host from another one', async () => {
    // The other host chose where the last hop goes (path, query, a 307 keeps method and body): it must not get to
    // send a request with the connection's credentials, nor have a query API key appended to a URL of its choosing.
    const client = createEgressClient({ allowLoopback: true, resolver });
    const back = redirect(`http://other.test:API${redirect('http://api.test:API/landing', 307)}`, 307);
    const queryKey = (t: Parameters<typeof applyAuth>[0]) => applyAuth(t, { type: 'api_key', in: 'query', name: 'api_key' }, { apiKey: 'query-secret' });
    const bearer = (t: Parameters<typeof applyAuth>[0]) => applyAuth(t, { type: 'bearer' }, { token: 'bearer-secret' });
    const stats: EgressStats = { httpCalls: 0, bytesIn: 0, bytesOut: 0 };
    for (const authorize of [queryKey, bearer]) {
      const res = await client.send({ manifest: m(), fields: {}, request: { method: 'POST', url: back, body: { a: 1 }, headers: { Cookie: 'sid=connector' } }, authorize, stats });
      const data = res.data as { path: string; query: Record<string, string>; headers: Record<string, string> };
      expect(data.path).toBe('/landing');
      expect(data.headers.host).toBe(`api.test:${api.port}`);
      expect(data.query).toEqual({});
      expect(data.headers.authorization).toBeUndefined();
      expect(data.headers.cookie).toBeUndefined();
    }
    expect(stats.httpCalls).toBe(6);
    await client.close();
  });

  it('stops a redirect loop with a clear error', async () => {
    const client = createEgressClient({ allowLoopback: true, resolver, maxRedirects: 3 });
    const stats: EgressStats = { httpCalls: 0, bytesIn: 0, bytesOut: 0 };
    await expect(client.send({ manifest: m(), fields: {}, request: get('/loop'), stats })).rejects.toMatchObject({ code: 'UPSTREAM_ERROR', message: expect.stringContaining('redirected more than 3 times') });
    expect(stats.httpCalls).toBe(4);
    await client.close();
  });
});

describe('egress attacks: sizes, time and malformed requests', () => {
  const loop = () => manifest(api.origin, ['127.0.0.1']);

  it('does not inflate a gzip bomb: the body stays the compressed bytes, within the cap', async () => {
    const client = createEgressClient({ allowLoopback: true, maxResponseBytes: 1024 * 1024 });
    const stats: EgressStats = { httpCalls: 0, bytesIn: 0, bytesOut: 0 };
    const res = await client.send({ manifest: loop(), fields: {}, request: get('/gzip-bomb', { headers: { 'Accept-Encoding': 'gzip' } }), stats });
    expect(stats.bytesIn).toBe(GZIP_BOMB.length);
    expect((res.data as string).length).toBeLessThan(1024 * 1024);
    await client.close();
  });

  it('refuses a declared length over the cap without an unhandled stream error (which would kill the process)', async () => {
    const uncaught: unknown[] = [];
    const listener = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', listener);
    try {
      const client = createEgressClient({ allowLoopback: true, maxResponseBytes: 1024 });
      for (let i = 0; i < 3; i++) {
        await expect(client.send({ manifest: loop(), fields: {}, request: get('/small-over-cap') })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('8000 bytes') });
      }
      // The stream reports its abort on a later turn of the event loop.
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
      await client.close();
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', listener);
    }
  });

  it('caps a body that has no length and ends when the connection closes', async () => {
    const client = createEgressClient({ allowLoopback: true, maxResponseBytes: 1024 * 1024 });
    await expect(client.send({ manifest: manifest(`http://127.0.0.1:${rawPort}`, ['127.0.0.1']), fields: {}, request: get('/no-length') })).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      message: expect.stringContaining('went past the 1048576-byte limit'),
    });
    await client.close();
  });

  it('reads no more than a lying content-length declares', async () => {
    const client = createEgressClient({ allowLoopback: true, maxResponseBytes: 1024 * 1024 });
    const stats: EgressStats = { httpCalls: 0, bytesIn: 0, bytesOut: 0 };
    const res = await client.send({ manifest: manifest(`http://127.0.0.1:${rawPort}`, ['127.0.0.1']), fields: {}, request: get('/short-length'), stats });
    expect(res.data).toBe('b'.repeat(10));
    expect(stats.bytesIn).toBe(10);
    await client.close();
  });

  it('times out a response that drips forever', async () => {
    const client = createEgressClient({ allowLoopback: true });
    await expect(client.send({ manifest: loop(), fields: {}, request: get('/drip', { timeoutMs: 200 }) })).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: expect.stringContaining('/drip did not answer within 200 ms'),
    });
    await client.close();
  });

  it('times out when DNS never answers', async () => {
    const client = createEgressClient({ allowLoopback: true, resolver: () => new Promise(() => undefined) });
    await expect(client.send({ manifest: manifest('http://slow-dns.test:1', ['slow-dns.test']), fields: {}, request: get('/', { timeoutMs: 200 }) })).rejects.toMatchObject({ code: 'TIMEOUT' });
    await client.close();
  });

  it('keeps a query API key out of error messages', async () => {
    const client = createEgressClient({ allowLoopback: true, maxResponseBytes: 1024 });
    const authorize = (t: Parameters<typeof applyAuth>[0]) => applyAuth(t, { type: 'api_key', in: 'query', name: 'api_key' }, { apiKey: 'query-secret' });
    for (const request of [get('/drip', { timeoutMs: 100 }), get('/gzip-bomb')]) {
      const error = await client.send({ manifest: loop(), fields: {}, request, authorize }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: expect.stringMatching(/TIMEOUT|PAYLOAD_TOO_LARGE/) });
      expect((error as Error).message).not.toContain('query-secret');
    }
    await client.close();
  });

  it('does not refuse a HEAD or a 304 answer for the size of a resource it does not send', async () => {
    const client = createEgressClient({ allowLoopback: true, maxResponseBytes: 1024 * 1024 });
    const head = await client.send({ manifest: loop(), fields: {}, request: { method: 'HEAD', url: '/big-resource' } });
    expect(head).toMatchObject({ status: 200, data: '', headers: { 'content-length': '50000000' } });
    const cached = await client.send({ manifest: loop(), fields: {}, request: get('/big-resource', { headers: { 'If-None-Match': '"v1"' } }) });
    expect(cached.status).toBe(304);
    await expect(client.send({ manifest: loop(), fields: {}, request: get('/big-resource') })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('50000000 bytes') });
    await client.close();
  });

  it('caps the request head too: a URL, query or headers cannot carry what the body cap refuses', async () => {
    const client = createEgressClient({ allowLoopback: true, maxRequestBytes: 100 });
    const before = api.requests.length;
    const big = 'x'.repeat(70 * 1024);
    for (const request of [get('/x', { headers: { 'X-Data': big } }), get('/x', { query: { q: big } }), get(`/x?q=${big}`), get('/x', { headers: Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`X-D${i}`, 'y'.repeat(200)])) })]) {
      await expect(client.send({ manifest: loop(), fields: {}, request })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('65536-byte limit') });
    }
    expect(api.requests.length).toBe(before);
    // A head under the limit still goes out, and the limit can be set.
    expect((await client.send({ manifest: loop(), fields: {}, request: get('/x', { headers: { 'X-Data': 'x'.repeat(8000) } }) })).status).toBe(200);
    const strict = createEgressClient({ allowLoopback: true, maxRequestHeadBytes: 1024 });
    await expect(strict.send({ manifest: loop(), fields: {}, request: get('/x', { query: { q: 'x'.repeat(2000) } }) })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await strict.close();
    await client.close();
  });

  it('refuses string and form bodies over the request cap before sending', async () => {
    const client = createEgressClient({ allowLoopback: true, maxRequestBytes: 100 });
    const before = api.requests.length;
    await expect(client.send({ manifest: loop(), fields: {}, request: { method: 'POST', url: '/x', body: 'é'.repeat(60) } })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: expect.stringContaining('120 bytes') });
    await expect(client.send({ manifest: loop(), fields: {}, request: { method: 'PUT', url: '/x', bodyType: 'form', body: { a: 'x'.repeat(200) } } })).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(api.requests.length).toBe(before);
    await client.close();
  });

  it.each(['TRACE', 'CONNECT', 'OPTIONS', 'get', '', 'GET / HTTP/1.1\r\nX-Injected: 1'])('refuses the HTTP method %j without sending anything', async (method) => {
    const client = createEgressClient({ allowLoopback: true });
    const before = api.requests.length;
    await expect(client.send({ manifest: loop(), fields: {}, request: { method: method as 'GET', url: '/x' }, authorize: (t) => applyAuth(t, { type: 'bearer' }, { token: 'tok' }) })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('is not supported; use one of GET, POST'),
    });
    expect(api.requests.length).toBe(before);
    await client.close();
  });

  it.each([
    [{ 'X-A': 'a\u0000b' }, /invalid x-a header/i],
    [{ 'X A': 'b' }, /invalid header key|invalid x a header/i],
    [{ 'X-Snow': '☃' }, /invalid x-snow header/i],
  ])('refuses the unsendable headers %j as invalid input, not as a network failure', async (headers, reason) => {
    const client = createEgressClient({ allowLoopback: true });
    await expect(client.send({ manifest: loop(), fields: {}, request: get('/x', { headers }) })).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(reason) });
    await client.close();
  });
});

describe('egress attacks: which hosts get credentials', () => {
  // Every name here reaches a loopback server; only the manifest decides which of them may see credentials.
  const names = ['api.test', 'other.test', 'evil.cdn.test', 'files.cdn.test', 'acme.shop.test'];
  const loopback = async (hostname: string) => {
    if (!names.includes(hostname.replace(/\.$/, ''))) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return [{ address: '127.0.0.1', family: 4 }];
  };
  const m = () => manifest(`http://api.test:${api.port}/v2`, ['api.test', 'other.test', '*.cdn.test', 'files.cdn.test', '{shop}.shop.test']);
  const bearer = (t: Parameters<typeof applyAuth>[0]) => applyAuth(t, { type: 'bearer' }, { token: 'bearer-secret' });
  const queryKey = (t: Parameters<typeof applyAuth>[0]) => applyAuth(t, { type: 'api_key', in: 'query', name: 'api_key' }, { apiKey: 'query-secret' });

  it.each(['evil.cdn.test', 'EVIL.cdn.test.'])('sends a request to %s, a host matched only by the *.cdn.test wildcard, without credentials', async (host) => {
    const client = createEgressClient({ allowLoopback: true, resolver: loopback });
    for (const authorize of [bearer, queryKey]) {
      const res = await client.send({ manifest: m(), fields: { shop: 'acme' }, request: get(`http://${host}:${other.port}/asset?x=1`), authorize });
      const data = res.data as { host: string; query: Record<string, string>; headers: Record<string, string> };
      expect(data.host).toBe('other');
      expect(data.query).toEqual({ x: '1' });
      expect(data.headers.authorization).toBeUndefined();
    }
    await client.close();
  });

  it.each([
    ['the baseUrl host (relative path)', '/x', 'api'],
    ['an exactly declared host', 'http://other.test:OTHER/x', 'other'],
    ['a host declared exactly besides a wildcard that also matches it', 'http://files.cdn.test:OTHER/x', 'other'],
    ['a templated host filled from the connection fields', 'http://acme.shop.test:OTHER/x', 'other'],
  ])('adds credentials for %s', async (_what, url, server) => {
    const client = createEgressClient({ allowLoopback: true, resolver: loopback });
    const res = await client.send({ manifest: m(), fields: { shop: 'acme' }, request: get(url.replace('OTHER', String(other.port))), authorize: bearer });
    const data = res.data as { host?: string; headers: Record<string, string> };
    expect(data.host ?? 'api').toBe(server);
    expect(data.headers.authorization).toBe('Bearer bearer-secret');
    const keyed = await client.send({ manifest: m(), fields: { shop: 'acme' }, request: get(url.replace('OTHER', String(other.port))), authorize: queryKey });
    expect((keyed.data as { query: Record<string, string> }).query).toEqual({ api_key: 'query-secret' });
    await client.close();
  });
});

describe('egress attacks: relative paths leaving the baseUrl path', () => {
  const m = (base = `http://api.test:${api.port}/v2`) => manifest(base, ['api.test']);
  const bearer = (t: Parameters<typeof applyAuth>[0]) => applyAuth(t, { type: 'bearer' }, { token: 'bearer-secret' });

  it.each(['../admin', '/../admin', '/items/../../admin', '%2e%2e/admin', '/items/%2E%2E/%2e%2E/admin', '..\\admin', '..', '..?x=1', '/../v2x/orders'])(
    'refuses the relative URL %j, whose dot-segments leave /v2, without sending it',
    async (url) => {
      const client = createEgressClient({ allowLoopback: true, resolver });
      const before = api.requests.length;
      await expect(client.send({ manifest: m(), fields: {}, request: get(url), authorize: bearer })).rejects.toMatchObject({
        code: 'INVALID_INPUT',
        path: '/url',
        message: expect.stringContaining('outside the base URL path /v2'),
      });
      expect(api.requests.length).toBe(before);
      await client.close();
    },
  );

  it.each([
    ['/items/../orders', '/v2/orders'],
    ['./orders', '/v2/orders'],
    ['/orders.json', '/v2/orders.json'],
    ['/v2/..', '/v2/'],
    ['.../x', '/v2/.../x'],
  ])('sends the relative URL %j, which stays under /v2, to %s', async (url, path) => {
    const client = createEgressClient({ allowLoopback: true, resolver });
    const res = await client.send({ manifest: m(), fields: {}, request: get(url), authorize: bearer });
    expect(res.data).toMatchObject({ path, headers: { authorization: 'Bearer bearer-secret' } });
    await client.close();
  });

  it('keeps absolute URLs on a declared host working, and dot-segments under a baseUrl without a path', async () => {
    const client = createEgressClient({ allowLoopback: true, resolver });
    const absolute = await client.send({ manifest: m(), fields: {}, request: get(`http://api.test:${api.port}/admin`) });
    expect(absolute.data).toMatchObject({ path: '/admin' });
    const bare = await client.send({ manifest: m(`http://api.test:${api.port}`), fields: {}, request: get('/a/../../b') });
    expect(bare.data).toMatchObject({ path: '/b' });
    await client.close();
  });
});

describe('egress attacks: request options from the guest', () => {
  const loop = () => manifest(api.origin, ['127.0.0.1']);

  it.each([[{}], ['100'], ['soon'], [Number.NaN], [Number.POSITIVE_INFINITY], [-1], [0], [[5]], [true]])('refuses timeoutMs %j with INVALID_INPUT naming the field and the range', async (timeoutMs) => {
    const client = createEgressClient({ allowLoopback: true });
    const before = api.requests.length;
    await expect(client.send({ manifest: loop(), fields: {}, request: get('/x', { timeoutMs }) })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      path: '/timeoutMs',
      message: expect.stringMatching(/timeoutMs must be a number of milliseconds above 0.*60000/),
    });
    expect(api.requests.length).toBe(before);
    await client.close();
  });

  it('accepts a timeoutMs above the cap (it is capped) and a null one (the default)', async () => {
    const client = createEgressClient({ allowLoopback: true });
    for (const timeoutMs of [120_000, null, 2.5e3]) {
      expect((await client.send({ manifest: loop(), fields: {}, request: get('/x', { timeoutMs }) })).status).toBe(200);
    }
    await client.close();
  });

  it.each([
    ['headers', 'X-A: 1', '/headers'],
    ['headers', ['X-A', '1'], '/headers'],
    ['query', 'a=1', '/query'],
    ['query', { a: { b: 1 } }, '/query/a'],
    ['query', { a: [1, { b: 1 }] }, '/query/a'],
    ['bodyType', 'xml', '/bodyType'],
  ])('refuses %s %j with INVALID_INPUT instead of sending a mangled request', async (field, value, path) => {
    const client = createEgressClient({ allowLoopback: true });
    const before = api.requests.length;
    await expect(client.send({ manifest: loop(), fields: {}, request: { method: 'POST', url: '/x', body: { a: 1 }, [field]: value } })).rejects.toMatchObject({ code: 'INVALID_INPUT', path });
    expect(api.requests.length).toBe(before);
    await client.close();
  });
});

describe('egress attacks: metering of redirect bodies', () => {
  const loop = () => manifest(api.origin, ['127.0.0.1']);

  it('counts the body of each redirect hop in bytesIn', async () => {
    const client = createEgressClient({ allowLoopback: true });
    const stats: EgressStats = { httpCalls: 0, bytesIn: 0, bytesOut: 0 };
    const res = await client.send({ manifest: loop(), fields: {}, request: get('/redirect-with-body?size=10000'), stats });
    expect(res.data).toMatchObject({ path: '/landing' });
    expect(stats.httpCalls).toBe(2);
    expect(stats.bytesIn).toBe(10_000 + Buffer.byteLength(JSON.stringify(res.data)));
    await client.close();
  });

  it('counts what it read of a redirect body too large to read whole', async () => {
    const client = createEgressClient({ allowLoopback: true });
    const stats: EgressStats = { httpCalls: 0, bytesIn: 0, bytesOut: 0 };
    const res = await client.send({ manifest: loop(), fields: {}, request: get(`/redirect-with-body?size=${4 * 1024 * 1024}`), stats });
    const final = Buffer.byteLength(JSON.stringify(res.data));
    expect(stats.bytesIn - final).toBeGreaterThanOrEqual(128 * 1024);
    expect(stats.bytesIn - final).toBeLessThan(4 * 1024 * 1024);
    await client.close();
  });
});
