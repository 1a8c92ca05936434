import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { testEngines } from './db/engines.ts';
import type { TestDb } from './db/test-db.ts';
import { startServer } from './main.ts';

// The whole start-up path over real PostgreSQL and a real socket: migrate, bootstrap once, seed, serve, drain, stop.
const postgres = testEngines(process.env).find((e) => e.name === 'postgres')!;
const suite = postgres.create ? describe : describe.skip;

suite(`startServer on PostgreSQL${postgres.skipReason ? ` (skipped: ${postgres.skipReason})` : ''}`, () => {
  let store: TestDb;
  beforeAll(async () => {
    store = await postgres.create!();
    await store.db.close();
  });
  afterAll(async () => {
    await store?.dispose().catch(() => {});
  });

  const config = () => ({ ...loadConfig({ DATABASE_URL: store.url!, PORT: '0', HOST: '127.0.0.1', BOS_MASTER_KEY: randomBytes(32).toString('hex') }), logLevel: 'silent' as const });

  it('starts, prints the admin key once, serves the seeded catalogue, and stops cleanly', async () => {
    const lines: string[] = [];
    const server = await startServer(config(), (line) => lines.push(line));
    await server.startup;
    const ready = await fetch(`${server.address}/ready`);
    expect(ready.status).toBe(200);
    const search = (await (await fetch(`${server.address}/marketplace/search?q=stripe`)).json()) as { results: { name: string }[] };
    expect(search.results.map((r) => r.name)).toContain('stripe');
    const key = /bos_[A-Za-z0-9_-]{43}/.exec(lines.join('\n'))?.[0];
    expect(key).toBeDefined();
    const keys = await fetch(`${server.address}/api-keys`, { headers: { authorization: `Bearer ${key}` } });
    expect(keys.status).toBe(200);
    await server.stop();
    await expect(fetch(`${server.address}/health`)).rejects.toThrow();

    const again: string[] = [];
    const second = await startServer(config(), (line) => again.push(line));
    await second.startup;
    expect(again.join('\n')).not.toMatch(/bos_/);
    expect((await fetch(`${second.address}/ready`)).status).toBe(200);
    await second.stop();
  });

  it('lets in-flight requests finish when stopping', async () => {
    const server = await startServer(config(), () => {});
    await server.startup;
    // Stop the moment the request has arrived: it must still be answered in full.
    let stopping: Promise<void> | undefined;
    server.app.server.once('request', () => {
      stopping = server.stop();
    });
    const res = await fetch(`${server.address}/marketplace/search?q=slack`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { results: { name: string }[] }).results.map((r) => r.name)).toContain('slack');
    expect(stopping).toBeDefined();
    await stopping;
    await expect(fetch(`${server.address}/health`)).rejects.toThrow();
  });
});
