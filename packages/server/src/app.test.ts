import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { createTestApp, type TestApp } from './test-app.ts';

describe('service basics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { BOS_BODY_LIMIT: '2048' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers liveness and readiness', async () => {
    expect((await t.app.inject({ url: '/health' })).json()).toEqual({ status: 'ok' });
    const ready = await t.app.inject({ url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', migrations: 'ok' } });
  });

  it('serves an OpenAPI document naming every route with its schemas', async () => {
    const res = await t.app.inject({ url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown }>> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/health', '/ready', '/tenants', '/api-keys', '/api-keys/{id}']));
    expect(doc.paths['/tenants']!.post!.responses).toHaveProperty('4XX');
    expect(doc.paths['/tenants']!.post!.security).toBeDefined();
    expect(doc.paths['/health']!.get!.security).toBeUndefined();
  });

  it('serves the docs page', async () => {
    const res = await t.app.inject({ url: '/docs' });
    expect([200, 302]).toContain(res.statusCode);
  });

  it('answers an unknown route with the problem envelope', async () => {
    const res = await t.app.inject({ url: '/no/such/route' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 404, code: 'NOT_FOUND', title: 'Not found', type: expect.stringContaining('not-found') });
  });

  it('rejects malformed JSON with a 400 problem and no stack trace', async () => {
    const res = await t.as(t.adminKey, { method: 'POST', url: '/tenants', headers: { 'content-type': 'application/json' }, payload: '{"name": ' });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = res.json() as Record<string, unknown>;
    expect(body).toMatchObject({ code: 'INVALID_INPUT', type: expect.stringContaining('malformed-json') });
    expect(res.body).not.toMatch(/at .*\.(ts|js):\d+/);
    expect(body).not.toHaveProperty('stack');
  });

  it('rejects an oversized body with 413', async () => {
    const res = await t.as(t.adminKey, { method: 'POST', url: '/tenants', payload: { name: 'x'.repeat(4096) } });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', status: 413 });
  });

  it('rejects an unsupported content type with 415', async () => {
    const res = await t.as(t.adminKey, { method: 'POST', url: '/tenants', headers: { 'content-type': 'application/xml' }, payload: '<a/>' });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('names the path of an unknown field, a missing field and a wrong type', async () => {
    const unknown = await t.as(t.adminKey, { method: 'POST', url: '/tenants', payload: { name: 'a', colour: 'red' } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json()).toMatchObject({ code: 'INVALID_INPUT', errors: [{ path: '/colour', in: 'body', message: expect.stringContaining('not a known field') }] });

    const missing = await t.as(t.adminKey, { method: 'POST', url: '/tenants', payload: {} });
    expect(missing.json()).toMatchObject({ errors: [{ path: '/name', in: 'body', message: 'is required' }] });

    const wrongType = await t.as(t.adminKey, { method: 'POST', url: '/tenants', payload: { name: 42 } });
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json()).toMatchObject({ errors: [{ path: '/name', in: 'body' }] });
  });

  it('stays up after bad input', async () => {
    expect((await t.app.inject({ url: '/health' })).statusCode).toBe(200);
  });
});

describe('start-up in the background', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is live at once, ready only after start-up, and holds store requests until then', async () => {
    let finish!: () => void;
    const startup = new Promise<void>((resolve) => (finish = resolve));
    const app = await buildApp({ config: t.config, db: t.store.db, startup });
    try {
      expect((await app.inject({ url: '/health' })).statusCode).toBe(200);
      expect((await app.inject({ url: '/openapi.json' })).statusCode).toBe(200);
      const notReady = await app.inject({ url: '/ready' });
      expect(notReady.statusCode).toBe(503);
      expect(notReady.json()).toMatchObject({ type: expect.stringContaining('not-ready') });
      const pending = app.inject({ url: '/marketplace/search?q=x' });
      let answered = false;
      void pending.then(() => (answered = true));
      await new Promise((resolve) => setImmediate(resolve));
      expect(answered).toBe(false);
      finish();
      expect((await pending).statusCode).toBe(200);
      expect((await app.inject({ url: '/ready' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('answers 503 when start-up failed, and stays live', async () => {
    const startup = Promise.reject(new Error('migration 002 failed'));
    const app = await buildApp({ config: t.config, db: t.store.db, startup });
    try {
      await startup.catch(() => {});
      const res = await app.inject({ url: '/marketplace/search' });
      expect(res.statusCode).toBe(503);
      expect(res.body).not.toContain('migration 002');
      expect((await app.inject({ url: '/health' })).statusCode).toBe(200);
      expect((await app.inject({ url: '/ready' })).statusCode).toBe(503);
    } finally {
      await app.close();
    }
  });
});
