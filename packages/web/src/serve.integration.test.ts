import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wantsPage } from '../serve.ts';
import { startServiceWithPage, type ServiceWithPage } from './e2e/service.ts';

const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('wantsPage', () => {
  const prefixes = new Set(['marketplace', 'usage']);
  it('serves the page for HTML requests outside the API and not naming a file', () => {
    expect(wantsPage('/listing/abc?x=1', HTML, prefixes)).toBe(true);
    expect(wantsPage('/', HTML, prefixes)).toBe(true);
    expect(wantsPage('/marketplace/nope', HTML, prefixes)).toBe(false);
    expect(wantsPage('/usage', HTML, prefixes)).toBe(false);
    expect(wantsPage('/listing/abc', 'application/json', prefixes)).toBe(false);
    expect(wantsPage('/assets/missing.js', HTML, prefixes)).toBe(false);
    expect(wantsPage('/marketplacex', HTML, prefixes)).toBe(true);
  });
});

describe('registerWebApp on the real service', () => {
  let svc: ServiceWithPage;
  beforeAll(async () => {
    const dist = mkdtempSync(path.join(tmpdir(), 'bos-web-dist-'));
    mkdirSync(path.join(dist, 'assets'));
    writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>page</title><div id="root"></div>');
    writeFileSync(path.join(dist, 'assets', 'app-1.js'), 'console.log(1)');
    svc = await startServiceWithPage({ distDir: dist, seed: false });
  });
  afterAll(async () => svc?.close());

  const get = (url: string, accept = HTML) => svc.app.inject({ method: 'GET', url, headers: { accept } });

  it('serves index.html at / and for client-side paths', async () => {
    for (const url of ['/', '/listing/123', '/installed?connected=1', '/activity']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toContain('text/html');
      expect(res.body, url).toContain('<div id="root">');
    }
  });

  it('serves built assets with long caching', async () => {
    const res = await get('/assets/app-1.js', '*/*');
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toContain('immutable');
  });

  it('never turns an API 404 or an API route into HTML', async () => {
    for (const url of ['/marketplace/nope', '/connectors/x/y', '/oauth/nothing', '/assets/missing.js', '/executions/1/nope']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type'], url).toContain('application/problem+json');
      expect(res.json().code, url).toBe('NOT_FOUND');
    }
    // A real API route answering an error stays an API error, never the page.
    const invalid = await get('/executions/1');
    expect(invalid.statusCode).toBeGreaterThanOrEqual(400);
    expect(invalid.headers['content-type']).toContain('application/problem+json');
    const usage = await get('/usage');
    expect(usage.statusCode).toBe(401);
    expect(usage.headers['content-type']).toContain('application/problem+json');
    expect((await get('/health')).headers['content-type']).toContain('application/json');
    expect((await get('/openapi.json')).json().openapi).toBe('3.1.0');
  });

  it('answers JSON clients on page paths with the API 404', async () => {
    const res = await get('/listing/123', 'application/json');
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
  });

  it('keeps POST to unknown paths an API 404', async () => {
    const res = await svc.app.inject({ method: 'POST', url: '/listing/1', headers: { accept: HTML } });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
  });
});
