import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeyAuth, OAuth2Auth, defineAction, defineConnector } from '../index.ts';
import { startDevServer } from './dev-server.ts';

const getItem = defineAction({
  name: 'getItem',
  description: 'Get an item',
  params: { id: { type: 'string', required: true } },
  async execute(params, ctx) {
    return (await ctx.http.get<Record<string, unknown>>(`/items/${params.id}`)).data;
  },
});

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bos-dev-'));
  await writeFile(join(dir, 'items.json'), JSON.stringify([{ request: { method: 'GET', path: '/items/:id' }, response: { body: { id: '{{params.id}}' } } }]));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('startDevServer', () => {
  it('serves the mock API and a console that runs actions and shows requests without secrets', async () => {
    const lines: string[] = [];
    const connector = defineConnector({ name: 'items', version: '1.2.3', baseUrl: 'https://api.items.test', auth: new ApiKeyAuth({ name: 'X-Key' }), actions: [getItem] });
    await using server = await startDevServer({ connector, port: 0, fixturesDir: dir, watch: false, credentials: { apiKey: 'dev-key-123' }, print: (l) => lines.push(l) });
    expect(lines.join('\n')).toContain(server.urls.api);
    expect(lines.join('\n')).toContain(server.urls.console);
    expect(Object.keys(server)).not.toContain('harness');

    const summary = (await (await fetch(server.urls.console)).json()) as { connector: unknown; fixtures: number; actions: { name: string }[] };
    expect(summary).toMatchObject({ connector: { name: 'items', version: '1.2.3', auth: 'api_key' }, fixtures: 1, actions: [{ name: 'getItem' }] });

    const ran = await fetch(`${server.urls.console}/actions/getItem`, { method: 'POST', body: JSON.stringify({ id: 'i7' }) });
    expect(await ran.json()).toEqual({ ok: true, output: { id: 'i7' } });
    const bad = await fetch(`${server.urls.console}/actions/getItem`, { method: 'POST', body: JSON.stringify({}) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', path: '/id' } });

    const requests = (await (await fetch(`${server.urls.console}/requests`)).json()) as { url: string; headers: Record<string, string> }[];
    expect(requests).toHaveLength(1);
    expect(requests[0]?.url).toBe('/items/i7');
    expect(JSON.stringify(requests)).not.toContain('dev-key-123');
    expect(server.harness.api.requests[0]?.headers['x-key']).toBe('dev-key-123');

    expect((await fetch(`${server.urls.console}/nope`)).status).toBe(404);
  });

  it('reloads fixtures from the folder', async () => {
    const own = await mkdtemp(join(tmpdir(), 'bos-dev-reload-'));
    try {
      const connector = defineConnector({ name: 'items', version: '1.0.0', baseUrl: 'https://api.items.test', actions: [getItem] });
      await using server = await startDevServer({ connector, port: 0, fixturesDir: own, watch: false, print: () => undefined });
      await expect(server.run('getItem', { id: '1' })).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED' });
      await writeFile(join(own, 'items.json'), JSON.stringify([{ request: { path: '/items/:id' }, response: { body: { id: 'new-{{params.id}}' } } }]));
      const reloaded = (await (await fetch(`${server.urls.console}/fixtures/reload`, { method: 'POST' })).json()) as { fixtures: number };
      expect(reloaded.fixtures).toBe(1);
      await expect(server.run('getItem', { id: '1' })).resolves.toEqual({ id: 'new-1' });
    } finally {
      await rm(own, { recursive: true, force: true });
    }
  });

  it('lets a browser connect an OAuth2 connector through the console', async () => {
    const connector = defineConnector({
      name: 'oauthy',
      version: '1.0.0',
      baseUrl: 'https://api.oauthy.test',
      auth: new OAuth2Auth({ clientId: 'config.client_id', clientSecret: 'config.client_secret', authorizationUrl: 'https://oauthy.test/authorize', tokenUrl: 'https://oauthy.test/token', scopes: ['items:read'] }),
      actions: [getItem],
    });
    await using server = await startDevServer({ connector, port: 0, fixturesDir: dir, watch: false, print: () => undefined });
    expect(server.urls.authorize).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oauth\/authorize$/);

    // Follow the redirects by hand, as a browser would: console → provider (auto-consent) → console callback.
    const start = await fetch(`${server.urls.console}/connect`, { redirect: 'manual' });
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get('location') as string);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    const consent = await fetch(authorize, { redirect: 'manual' });
    const callback = consent.headers.get('location') as string;
    expect(callback.startsWith(`${server.urls.console}/oauth/callback?`)).toBe(true);
    const done = await fetch(callback);
    expect(await done.json()).toMatchObject({ ok: true, connected: true, scope: 'items:read' });
    const token = server.harness.credentials?.accessToken as string;
    expect(server.harness.oauth?.verify(token)).toMatchObject({ active: true });

    // A replayed callback is refused: the state was used.
    expect((await fetch(callback)).status).toBe(401);
    await expect(server.run('getItem', { id: 'x' })).resolves.toEqual({ id: 'x' });
    expect(server.harness.api.requests[0]?.headers.authorization).toBe(`Bearer ${token}`);
  });
});
