import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineAction, defineConnector, BearerTokenAuth } from '../index.ts';
import { createTestHarness } from './harness.ts';
import { listenLoopback, readBody, sendJson, type LoopbackServer } from './http-util.ts';
import { createMockApi, loadFixtureFiles } from './mock-api.ts';
import { createOAuthProvider } from './oauth-provider.ts';
import { REDACTED } from './redact.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bos-mock-api-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createMockApi: fixtures', () => {
  it('answers the first matching fixture, with templates, and records every request', async () => {
    await using api = await createMockApi({
      fixtures: [
        { name: 'create', request: { method: 'POST', path: '/customers' }, response: { status: 201, headers: { 'x-id': 'cus_{{body.email}}' }, body: { id: 'cus_1', email: '{{body.email}}' } } },
        { request: { method: 'GET', path: '/customers/:id' }, response: { body: { id: '{{params.id}}', page: '{{query.page}}' } } },
        { request: { method: 'GET', path: '/customers/:id' }, response: { body: { never: true } } },
      ],
    });
    const created = await fetch(`${api.url}/customers`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'a@b.co' }) });
    expect(created.status).toBe(201);
    expect(created.headers.get('x-id')).toBe('cus_a@b.co');
    expect(await created.json()).toEqual({ id: 'cus_1', email: 'a@b.co' });
    expect(await (await fetch(`${api.url}/customers/c9?page=2`)).json()).toEqual({ id: 'c9', page: '2' });
    expect(api.requests.map((r) => [r.method, r.url, r.fixture, r.status])).toEqual([
      ['POST', '/customers', 'create', 201],
      ['GET', '/customers/c9?page=2', '#1', 200],
    ]);
    expect(api.requests[1]?.params).toEqual({ id: 'c9' });
  });

  it('honours times (a 429 once, then success), prependFixture, function responders and reset', async () => {
    await using api = await createMockApi({
      fixtures: [
        { request: { path: '/items' }, response: { status: 429, headers: { 'retry-after': '1' }, body: { error: 'slow down' } }, times: 1 },
        { request: { path: '/items' }, response: { body: [1] } },
      ],
    });
    expect((await fetch(`${api.url}/items`)).status).toBe(429);
    expect((await fetch(`${api.url}/items`)).status).toBe(200);
    let n = 0;
    api.prependFixture({ request: { path: '/items' }, response: () => ({ body: { call: ++n } }) });
    expect(await (await fetch(`${api.url}/items`)).json()).toEqual({ call: 1 });
    api.reset();
    expect(api.requests).toHaveLength(0);
  });

  it('parses form bodies with bracket keys for matching', async () => {
    await using api = await createMockApi({
      fixtures: [{ request: { method: 'POST', path: '/v1/charges', body: { amount: 500, metadata: { order: '7' }, items: [{ price: 'p1' }] } }, response: { body: { id: 'ch_1' } } }],
    });
    const res = await fetch(`${api.url}/v1/charges`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'amount=500&metadata[order]=7&items[0][price]=p1',
    });
    expect(res.status).toBe(200);
  });

  it('answers an unmatched request with 501 and the closest candidates, without echoing secrets', async () => {
    await using api = await createMockApi({
      fixtures: [
        { name: 'list orders', request: { method: 'GET', path: '/orders' }, response: { body: [] } },
        { name: 'create customer', request: { method: 'POST', path: '/customers' }, response: { body: {} } },
        { name: 'get order', request: { method: 'GET', path: '/orders/:id', query: { expand: 'lines' } }, response: { body: {} } },
      ],
    });
    const res = await fetch(`${api.url}/orders/5?expand=items`, { headers: { authorization: 'Bearer sk_live_abcdefgh12345678' } });
    expect(res.status).toBe(501);
    expect(res.headers.get('x-mock-api')).toBe('no-fixture');
    const body = (await res.json()) as { error: { code: string; message: string }; candidates: { fixture: string; mismatches: string[] }[]; request: { headers: Record<string, string> } };
    expect(body.error.code).toBe('NO_FIXTURE');
    expect(body.error.message).toContain('GET /orders/5?expand=items');
    expect(body.candidates[0]).toEqual({ fixture: 'get order', request: { method: 'GET', path: '/orders/:id', query: { expand: 'lines' } }, mismatches: ['query /expand: expected "lines", got "items"'] });
    expect(body.candidates).toHaveLength(3);
    expect(body.request.headers.authorization).toBeUndefined();
    expect(JSON.stringify(body)).not.toContain('sk_live_');
  });

  it('loads fixture folders and names the file of a broken one', async () => {
    const good = join(dir, 'good');
    const bad = join(dir, 'bad');
    await Promise.all([mkdir(good), mkdir(bad)]);
    await writeFile(join(good, 'b.json'), JSON.stringify([{ request: { path: '/b' }, response: { body: 'b' } }]));
    await writeFile(join(good, 'a.json'), JSON.stringify({ fixtures: [{ request: { path: '/a' }, response: { body: 'a' } }] }));
    await writeFile(join(good, 'notes.txt'), 'ignored');
    expect((await loadFixtureFiles(good)).map((f) => f.request.path)).toEqual(['/a', '/b']);
    await writeFile(join(bad, 'broken.json'), '[{ "request": ');
    await expect(loadFixtureFiles(bad)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('broken.json: invalid JSON') as unknown });
    await expect(loadFixtureFiles(join(dir, 'missing'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('createMockApi: auth', () => {
  const ok = [{ request: { path: '/me' }, response: { body: { ok: true } } }, { request: { path: '/health' }, response: { body: 'up' }, public: true }];

  it('checks bearer tokens, basic credentials and API keys', async () => {
    await using bearer = await createMockApi({ fixtures: ok, auth: { type: 'bearer', token: 't1' } });
    expect((await fetch(`${bearer.url}/me`)).status).toBe(401);
    expect((await fetch(`${bearer.url}/me`, { headers: { authorization: 'Bearer t2' } })).status).toBe(401);
    expect((await fetch(`${bearer.url}/me`, { headers: { authorization: 'Bearer t1' } })).status).toBe(200);
    expect((await fetch(`${bearer.url}/health`)).status).toBe(200);

    await using basic = await createMockApi({ fixtures: ok, auth: { type: 'basic', username: 'u', password: 'p' } });
    const wrong = await fetch(`${basic.url}/me`, { headers: { authorization: `Basic ${btoa('u:x')}` } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('Basic');
    expect((await fetch(`${basic.url}/me`, { headers: { authorization: `Basic ${btoa('u:p')}` } })).status).toBe(200);

    await using key = await createMockApi({ fixtures: ok, auth: { type: 'api_key', in: 'query', name: 'key', value: 'k' } });
    expect((await fetch(`${key.url}/me?key=nope`)).status).toBe(401);
    expect((await fetch(`${key.url}/me?key=k`)).status).toBe(200);
  });

  it('accepts only live tokens of the OAuth provider, and checks required scopes', async () => {
    await using provider = await createOAuthProvider({ clients: [{ clientId: 'c', clientSecret: 's', redirectUris: ['http://127.0.0.1/cb'] }] });
    await using api = await createMockApi({ fixtures: ok, auth: { type: 'oauth2-provider', provider, requiredScopes: ['read'] } });
    const call = (t: string) => fetch(`${api.url}/me`, { headers: { authorization: `Bearer ${t}` } });
    const good = provider.issueTokens({ clientId: 'c', scope: 'read' });
    const narrow = provider.issueTokens({ clientId: 'c', scope: 'write' });
    expect((await call(good.access_token)).status).toBe(200);
    const forbidden = await call(narrow.access_token);
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('www-authenticate')).toContain('insufficient_scope');
    expect((await call(good.refresh_token as string)).status).toBe(401);
    expect((await call('mat_forged')).status).toBe(401);
    const soon = provider.issueTokens({ clientId: 'c', scope: 'read' });
    provider.expire(soon.access_token);
    const expired = await call(soon.access_token);
    expect(expired.status).toBe(401);
    expect(expired.headers.get('www-authenticate')).toContain('invalid_token');
    expect(await expired.json()).toEqual({ error: { code: 'unauthorized', message: 'The access token has expired' } });
    provider.revoke(good.access_token);
    const revoked = await call(good.access_token);
    expect(revoked.status).toBe(401);
    expect(await revoked.json()).toEqual({ error: { code: 'unauthorized', message: 'The access token was revoked' } });
  });
});

describe('createMockApi: recording', () => {
  let real: LoopbackServer;
  beforeAll(async () => {
    // The "real" API, on loopback: it checks the key and answers with secrets that must not reach the fixture file.
    real = await listenLoopback(async (req, res) => {
      const body = await readBody(req);
      if (req.headers.authorization !== 'Bearer live-secret-token') return sendJson(res, 401, { error: 'bad token' });
      sendJson(
        res,
        req.method === 'POST' ? 201 : 200,
        { id: 'obj_1', echo: body ? (JSON.parse(body) as unknown) : null, client_secret: 'cs_abcdef', webhook: { secret: 'whsec_abcdefgh12345678' }, note: 'token live-secret-token inside' },
        { 'set-cookie': 'session=abc', 'x-request-id': 'r1', 'x-ratelimit-remaining': '99' },
      );
    });
  });
  afterAll(async () => {
    await real.close();
  });

  it('proxies unmatched requests to the target, writes redacted fixtures and replays them', async () => {
    const file = join(dir, 'recorded', 'fixtures.json');
    await using api = await createMockApi({ record: { target: real.url, file, secrets: ['live-secret-token'] } });
    const res = await fetch(`${api.url}/v1/things?limit=2&api_key=qk-123456`, {
      method: 'POST',
      headers: { authorization: 'Bearer live-secret-token', 'content-type': 'application/json', cookie: 'sid=1' },
      body: JSON.stringify({ name: 'x', password: 'hunter22' }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(((await res.json()) as { id: string }).id).toBe('obj_1');
    await api.flush();

    const text = await readFile(file, 'utf8');
    for (const secret of ['live-secret-token', 'hunter22', 'qk-123456', 'cs_abcdef', 'whsec_', 'session=abc', 'sid=1']) expect(text).not.toContain(secret);
    const [fixture] = JSON.parse(text) as [{ request: Record<string, unknown>; response: { status: number; headers: Record<string, string>; body: Record<string, unknown> } }];
    expect(fixture.request).toEqual({ method: 'POST', path: '/v1/things', query: { limit: '2' }, body: { name: 'x', password: '*' } });
    expect(fixture.response.status).toBe(201);
    expect(fixture.response.headers).toEqual({ 'content-type': 'application/json; charset=utf-8', 'x-ratelimit-remaining': '99' });
    expect(fixture.response.body).toMatchObject({ id: 'obj_1', client_secret: REDACTED, webhook: { secret: REDACTED }, note: `token ${REDACTED} inside` });

    // The same call is now answered from the recording, not the target (which would refuse this token).
    const again = await fetch(`${api.url}/v1/things?limit=2`, { method: 'POST', headers: { authorization: 'Bearer other', 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', password: 'other' }) });
    expect(again.status).toBe(201);
    expect(api.requests.map((r) => r.recorded)).toEqual([true, false]);

    // A fresh mock API replays the file offline.
    await using replay = await createMockApi({ fixturesDir: join(dir, 'recorded') });
    const replayed = await fetch(`${replay.url}/v1/things?limit=2`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x', password: 'p' }) });
    expect(replayed.status).toBe(201);
  });

  it('records through the harness, stripping the credentials the host added', async () => {
    const file = join(dir, 'harness-recording.json');
    const connector = defineConnector({
      name: 'things',
      version: '1.0.0',
      baseUrl: 'https://api.things.test',
      auth: new BearerTokenAuth(),
      actions: [defineAction({ name: 'getThing', description: 'Get', params: { id: { type: 'string', required: true } }, async execute(p, ctx) { return (await ctx.http.get<Record<string, unknown>>(`/things/${p.id}`)).data; } })],
    });
    {
      await using h = await createTestHarness({ connector, credentials: { token: 'live-secret-token' }, record: { target: real.url, file }, apiAuth: 'none' });
      await expect(h.run('getThing', { id: '1' })).resolves.toMatchObject({ id: 'obj_1', client_secret: 'cs_abcdef' });
      expect(h.api.requests[0]?.headers.authorization).toBe('Bearer live-secret-token');
    }
    const text = await readFile(file, 'utf8');
    expect(text).not.toContain('live-secret-token');
    expect(text).not.toContain('cs_abcdef');
    expect(JSON.parse(text)).toMatchObject([{ request: { method: 'GET', path: '/things/1' }, response: { status: 200 } }]);
  });

  it('reports an unreachable target as 502', async () => {
    const closed = await listenLoopback(async () => undefined);
    await closed.close();
    await using api = await createMockApi({ record: { target: closed.url, file: join(dir, 'never.json') } });
    const res = await fetch(`${api.url}/x`);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('RECORD_TARGET_UNREACHABLE');
  });
});
