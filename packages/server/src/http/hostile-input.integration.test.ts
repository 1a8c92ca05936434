// The HTTP API as a careless or hostile client meets it, over real loopback HTTP: every refusal is an
// application/problem+json envelope with a catalogue code and a detail that says what to fix, never a 500 or a stack
// trace, and the service keeps answering afterwards. On PGlite (the store is not what is under test).
import { randomBytes, randomUUID } from 'node:crypto';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_CATALOGUE } from '../marketplace/fixtures.ts';
import { createTestApp, type TestApp } from '../test-app.ts';

interface Answer {
  status: number;
  contentType: string;
  text: string;
  body: Record<string, unknown>;
}

let t: TestApp;
let base: string;

async function send(method: string, path: string, init: { key?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...(init.key ? { authorization: `Bearer ${init.key}` } : {}), ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON: the assertions below say so.
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, body };
}

const json = (key: string | undefined, method: string, path: string, body: string) => send(method, path, { ...(key ? { key } : {}), headers: { 'content-type': 'application/json' }, body });

/** A problem envelope with this status and code, no stack trace, and a detail matching `detail`. */
function expectProblem(res: Answer, status: number, code: string, detail?: RegExp): void {
  expect(res.status, res.text).toBe(status);
  expect(res.contentType).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, code, type: expect.stringMatching(/^https:\/\//), title: expect.any(String), detail: expect.any(String) });
  if (detail) expect(res.body.detail).toMatch(detail);
  expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/);
  expect(res.body).not.toHaveProperty('stack');
}

/** Writes raw bytes on a fresh connection and returns what came back before the server closed it. */
function rawExchange(request: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(request));
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
  });
}

function parseRaw(raw: string): { status: number; headers: string; body: Record<string, unknown> } {
  const [head = '', rest = ''] = raw.split('\r\n\r\n', 2);
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), headers: head.toLowerCase(), body: JSON.parse(rest) as Record<string, unknown> };
}

describe('hostile HTTP input', () => {
  let a: { tenantId: string; key: string; keyId: string };
  let b: { tenantId: string; key: string; keyId: string };

  beforeAll(async () => {
    t = await createTestApp({ seed: FIXTURE_CATALOGUE, env: { BOS_MASTER_KEY: randomBytes(32).toString('hex') } });
    base = await t.app.listen({ port: 0, host: '127.0.0.1' });
    a = await t.createTenant('hostile-a');
    b = await t.createTenant('hostile-b');
  });
  afterAll(async () => {
    await t?.close();
  });
  afterEach(async () => {
    // Whatever was sent, the service still answers a normal request.
    expect((await send('GET', '/health')).status).toBe(200);
    expect((await send('GET', '/connections', { key: a.key })).status).toBe(200);
  });

  describe('bodies', () => {
    it('names the syntax error of malformed or truncated JSON', async () => {
      expectProblem(await json(a.key, 'POST', '/api-keys', '{"name": '), 400, 'INVALID_INPUT', /not valid JSON \(.+\); send a JSON document/);
      const truncated = await json(a.key, 'POST', '/api-keys', '{"name":"x","roles":["publisher"]');
      expectProblem(truncated, 400, 'INVALID_INPUT', /not valid JSON/);
      expect(truncated.body.type).toMatch(/malformed-json$/);
    });

    it('accepts a byte-order mark before JSON', async () => {
      const res = await json(a.key, 'POST', '/api-keys', '\uFEFF{"name":"bom","roles":["publisher"]}');
      expect(res.status, res.text).toBe(201);
    });

    it('refuses __proto__ and constructor.prototype keys as such, not as invalid JSON, and pollutes nothing', async () => {
      for (const body of ['{"name":"p","roles":["publisher"],"__proto__":{"polluted":true}}', '{"name":"p","roles":["publisher"],"constructor":{"prototype":{"polluted":true}}}']) {
        const res = await json(a.key, 'POST', '/api-keys', body);
        expectProblem(res, 400, 'INVALID_INPUT', /__proto__.*rename or remove/);
        expect(res.body.type).toMatch(/forbidden-json-key$/);
      }
      const nested = await json(a.key, 'POST', '/marketplace/install/stripe', '{"fields":{"__proto__":{"polluted":true}}}');
      expectProblem(nested, 400, 'INVALID_INPUT', /__proto__/);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
    });

    it('tells a client that sent JSON as text, or nothing, to send application/json; other media types are 415', async () => {
      const asText = await send('POST', '/api-keys', { key: a.key, headers: { 'content-type': 'text/plain' }, body: '{"name":"x","roles":["publisher"]}' });
      expectProblem(asText, 400, 'INVALID_INPUT', /Content-Type: application\/json/);
      expectProblem(await send('POST', '/api-keys', { key: a.key }), 400, 'INVALID_INPUT', /send a JSON object with Content-Type: application\/json/);
      expectProblem(await json(a.key, 'POST', '/api-keys', ''), 400, 'INVALID_INPUT', /empty/);
      for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
        expectProblem(await send('POST', '/api-keys', { key: a.key, headers: { 'content-type': type }, body: 'name=x' }), 415, 'INVALID_INPUT', /application\/json/);
      }
    });

    it('refuses a body over the limit with 413', async () => {
      const res = await json(a.key, 'POST', '/api-keys', JSON.stringify({ name: 'x'.repeat(t.config.limits.bodyBytes + 1), roles: ['publisher'] }));
      expectProblem(res, 413, 'PAYLOAD_TOO_LARGE', /larger than this service accepts/);
    });

    it('survives 100,000 levels of nesting', async () => {
      expectProblem(await json(a.key, 'POST', '/api-keys', `${'['.repeat(100_000)}${']'.repeat(100_000)}`), 400, 'INVALID_INPUT', /must be object/);
      // A NUL at the bottom: found, and its path named, without recursion.
      const deepObject = `{"action":"x","connection":"${randomUUID()}","params":${'{"a":'.repeat(100_000)}"\\u0000"${'}'.repeat(100_001)}`;
      const res = await json(a.key, 'POST', '/connectors/stripe/execute', deepObject);
      expectProblem(res, 400, 'INVALID_INPUT', /^Invalid body: \/params(\/a)+ must not contain a NUL character/);
    });

    it('refuses NUL characters in body, query and path with their path, instead of failing in the database', async () => {
      const tenant = await json(t.adminKey, 'POST', '/tenants', '{"name":"a\\u0000b"}');
      expectProblem(tenant, 400, 'INVALID_INPUT', /\/name must not contain a NUL character/);
      expect(tenant.body.errors).toEqual([{ path: '/name', in: 'body', message: expect.stringContaining('NUL') }]);
      expectProblem(await json(a.key, 'POST', '/api-keys', '{"name":"k\\u0000","roles":["publisher"]}'), 400, 'INVALID_INPUT', /\/name/);
      expectProblem(await json(a.key, 'PUT', '/marketplace/connectors/stripe/rating', '{"stars":4,"title":"\\u0000"}'), 400, 'INVALID_INPUT', /\/title/);
      const credentials = await json(a.key, 'POST', '/connections', `{"installationId":"${randomUUID()}","name":"c","credentials":{"apiKey":"sk\\u0000"}}`);
      expect(credentials.body.errors).toEqual([{ path: '/credentials/apiKey', in: 'body', message: expect.stringContaining('NUL') }]);
      const query = await send('GET', '/marketplace/search?category=%00');
      expectProblem(query, 400, 'INVALID_INPUT', /querystring: \/category must not contain a NUL/);
      const params = await json(a.key, 'POST', '/connectors/st%00ripe/execute', `{"action":"x","connection":"${randomUUID()}"}`);
      expectProblem(params, 400, 'INVALID_INPUT', /params: \/name must not contain a NUL/);
    });

    it('stores lone surrogates without failing', async () => {
      const res = await json(a.key, 'PUT', '/marketplace/connectors/stripe/rating', '{"stars":3,"title":"a\\ud800b"}');
      expect(res.status, res.text).toBe(200);
    });

    it('refuses numbers out of range, including 1e400, -0 and huge integers, with their path', async () => {
      for (const stars of ['1e400', '-0', '123456789012345678901234567890', '2.5', '"5"']) {
        const res = await json(a.key, 'PUT', '/marketplace/connectors/stripe/rating', `{"stars":${stars}}`);
        expectProblem(res, 400, 'INVALID_INPUT', /\/stars/);
      }
    });
  });

  describe('params and query', () => {
    it('refuses ids that are not uuids, SQL-looking strings and traversal before any lookup', async () => {
      for (const id of ['not-a-uuid', "1'%20OR%201=1--", '..%2f..%2fetc%2fpasswd', 'a%2Fb']) {
        expectProblem(await send('DELETE', `/api-keys/${id}`, { key: a.key }), 400, 'INVALID_INPUT', /\/id must match format "uuid"/);
      }
      expectProblem(await send('GET', "/marketplace/connectors/1'%3B--"), 400, 'INVALID_INPUT', /\/id must match pattern/);
    });

    it('answers a bad percent-escape and an overlong path segment with the envelope', async () => {
      const escape = await send('GET', '/marketplace/connectors/%ZZ');
      expectProblem(escape, 400, 'INVALID_INPUT', /percent-encoding.*%25/);
      expect(escape.body.requestId).toEqual(expect.any(String));
      expectProblem(await send('DELETE', `/api-keys/${'x'.repeat(5000)}`, { key: a.key }), 414, 'INVALID_INPUT', /path segment .* longer than 100 characters/);
    });

    it('refuses page values that are not positive integers, repeated scalars and unknown parameters', async () => {
      for (const query of ['page=0', 'page=-1', 'page=1e9', 'page=NaN', 'page=1.5', 'page=', 'page=1&page=2']) {
        const res = await send('GET', `/marketplace/search?${query}`);
        expectProblem(res, 400, 'INVALID_INPUT', /querystring: \/page /);
      }
      expectProblem(await send('GET', '/marketplace/search?q=a&q=b'), 400, 'INVALID_INPUT', /\/q must be string/);
      expectProblem(await send('GET', '/marketplace/search?sort=bogus'), 400, 'INVALID_INPUT', /\/sort must be one of "relevance"/);
      expectProblem(await send('GET', '/marketplace/search?colour=red'), 400, 'INVALID_INPUT', /\/colour is not a known field/);
      expectProblem(await send('GET', `/marketplace/search?q=${'a'.repeat(10_000)}`), 400, 'INVALID_INPUT', /\/q must NOT have more than 200 characters/);
    });

    it('searches with empty, punctuation-only, operator and emoji queries', async () => {
      for (const q of ['', '%26%7C!%3A*()%3C%3E', "'", '%5C', 'a%3A*', '(((', '%F0%9F%98%80', 'STRIPE', encodeURIComponent('a '.repeat(99))]) {
        const res = await send('GET', `/marketplace/search?q=${q}`);
        expect(res.status, `${q}: ${res.text}`).toBe(200);
      }
    });

    it('refuses offsets and cursors past what PostgreSQL can hold, instead of a 500', async () => {
      const after = await send('GET', '/events?after=9999999999999999999', { key: a.key });
      expectProblem(after, 400, 'INVALID_INPUT', /`after` is past the largest event position/);
      expect(after.body.errors).toEqual([{ path: '/after', in: 'querystring', message: expect.any(String) }]);
      expectProblem(await send('GET', '/marketplace/connectors/stripe/reviews?page=100000000000000000000'), 400, 'INVALID_INPUT', /\/page must be <=/);
      // Past 2^53 a page number would silently round; it is refused instead.
      expectProblem(await send('GET', '/marketplace/connectors/stripe/reviews?page=9007199254740993'), 400, 'INVALID_INPUT', /\/page must be <=/);
      expect((await send('GET', '/marketplace/connectors/stripe/reviews?page=99999')).status).toBe(200);
      for (const offset of ['1e20', '9223372036854775808']) {
        expectProblem(await send('GET', `/marketplace/submissions?offset=${offset}`, { key: t.adminKey }), 400, 'INVALID_INPUT', /\/offset must be <=/);
      }
    });
  });

  describe('auth', () => {
    it('answers a missing or malformed key with 401 saying how to send one', async () => {
      expectProblem(await send('GET', '/connections'), 401, 'AUTH_FAILED', /Authorization: Bearer <key>/);
      for (const authorization of ['Bearer', 'Bearer ', 'Basic Zm9vOmJhcg==', 'Bearer a b', 'Token abc']) {
        expectProblem(await send('GET', '/connections', { headers: { authorization } }), 401, 'AUTH_FAILED');
      }
      expectProblem(await send('GET', '/connections', { key: `${a.key}x` }), 401, 'AUTH_FAILED', /not valid/);
      expectProblem(await send('GET', '/connections', { key: 'k'.repeat(8000) }), 401, 'AUTH_FAILED', /not valid/);
      expect((await send('GET', '/connections', { headers: { authorization: `Bearer   ${a.key}  ` } })).status).toBe(200);
    });

    it('answers a revoked key with AUTH_EXPIRED, also on routes where a key is optional', async () => {
      const key = await t.createKey(a.key, ['tenant_admin']);
      const keys = (await send('GET', '/api-keys', { key: a.key })).body.items as { id: string; prefix: string }[];
      const id = keys.find((k) => key.startsWith(k.prefix))!.id;
      expect((await send('DELETE', `/api-keys/${id}`, { key: a.key })).status).toBe(200);
      expectProblem(await send('GET', '/connections', { key }), 401, 'AUTH_EXPIRED', /revoked/);
      expectProblem(await send('GET', '/marketplace/search', { key }), 401, 'AUTH_EXPIRED', /revoked/);
    });

    it('answers a missing role with 403, and another tenant\'s resource exactly like one that does not exist', async () => {
      const publisher = await t.createKey(a.key, ['publisher']);
      expectProblem(await send('GET', '/api-keys', { key: publisher }), 403, 'FORBIDDEN', /needs a key with role tenant_admin/);
      expectProblem(await json(a.key, 'POST', '/tenants', '{"name":"x"}'), 403, 'FORBIDDEN', /role reviewer/);
      const missing = randomUUID();
      const foreign = await send('DELETE', `/api-keys/${b.keyId}`, { key: a.key });
      const absent = await send('DELETE', `/api-keys/${missing}`, { key: a.key });
      expectProblem(foreign, 404, 'NOT_FOUND');
      expect(String(foreign.body.detail).replace(b.keyId, 'ID')).toBe(String(absent.body.detail).replace(missing, 'ID'));
      // b's key still works: nothing was revoked across tenants.
      expect((await send('GET', '/connections', { key: b.key })).status).toBe(200);
    });
  });

  describe('methods and paths', () => {
    it('answers unknown methods and paths with a 404 envelope; HEAD, trailing slashes and repeated params work', async () => {
      expectProblem(await send('PATCH', '/api-keys', { key: a.key }), 404, 'NOT_FOUND', /No route PATCH \/api-keys/);
      expectProblem(await send('PROPFIND', '/health'), 404, 'NOT_FOUND');
      expectProblem(await send('OPTIONS', '/health'), 404, 'NOT_FOUND');
      expectProblem(await send('GET', '//health'), 404, 'NOT_FOUND');
      expect((await send('HEAD', '/health')).status).toBe(200);
      expect((await send('GET', '/health/')).status).toBe(200);
      expect((await send('GET', '/health?a=1&a=2')).status).toBe(200);
    });
  });

  describe('transport', () => {
    it('answers malformed HTTP with the envelope and closes the connection', async () => {
      for (const request of [
        'BREW /health HTTP/1.1\r\nHost: x\r\n\r\n',
        'POST /api-keys HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        'POST /api-keys HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
      ]) {
        const res = parseRaw(await rawExchange(request));
        expect(res.status).toBe(400);
        expect(res.headers).toContain('content-type: application/problem+json');
        expect(res.body).toMatchObject({ status: 400, code: 'INVALID_INPUT', detail: expect.stringMatching(/not valid HTTP\/1\.1/) });
      }
    });

    it('answers headers over the limit with a 431 envelope', async () => {
      const res = await send('GET', '/connections', { headers: { 'x-api-key': 'y'.repeat(64 * 1024) } });
      expectProblem(res, 431, 'INVALID_INPUT', /headers are larger than this service accepts/);
    });
  });
});
