// Stopping during a Redis outage: `npm start` (server.stop()) and `npm run worker` (SIGTERM) must both end while
// Redis stays unreachable, instead of waiting for it to come back. Redis sits behind a proxy the test takes away.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { createTestPostgres, servicesRequired, type TestDb } from '../db/test-db.ts';
import { startServer } from '../main.ts';
import { startRedisProxy } from './test-support.ts';

const databaseUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if ((!databaseUrl || !redisUrl) && servicesRequired(process.env)) throw new Error('BOS_REQUIRE_SERVICES=1 but DATABASE_URL or REDIS_URL is not set: the Redis outage test needs PostgreSQL and Redis');
const suite = databaseUrl && redisUrl ? describe : describe.skip;

const WORKER_BIN = fileURLToPath(new URL('../../bin/worker.js', import.meta.url));
/**
 * How long a stop may take here. Generous on purpose: the point is that it ends at all (before the fix it waited for
 * Redis for ever), not how fast; the parts give up on Redis after a few seconds.
 */
const STOP_BOUND_MS = 15_000;

/** Whether `promise` settles within `ms` (its outcome is left to the caller). */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    promise.then(() => true, () => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return settled;
}

/** Connection attempts made to `port` during `ms` (a stopped process's Redis clients must make none). */
async function attemptsOn(port: number, ms: number): Promise<number> {
  let attempts = 0;
  const watcher = createServer((socket) => {
    attempts += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => watcher.listen(port, '127.0.0.1', resolve));
  await new Promise((resolve) => setTimeout(resolve, ms));
  await new Promise<void>((resolve) => watcher.close(() => resolve()));
  return attempts;
}

suite(`stopping while Redis is unreachable${databaseUrl && redisUrl ? '' : ': skipped, DATABASE_URL or REDIS_URL is not set'}`, () => {
  const prefix = `bos-test-${randomBytes(5).toString('hex')}`;
  const masterKey = randomBytes(32).toString('hex');
  let store: TestDb;
  let redis: Redis;
  beforeAll(async () => {
    store = await createTestPostgres(databaseUrl!);
    redis = new Redis(redisUrl!);
  }, 60_000);
  afterAll(async () => {
    const stale = await redis?.keys(`${prefix}*`);
    if (stale?.length) await redis.del(...stale);
    await redis?.quit();
    await store?.dispose();
  });

  it('server.stop() ends with the in-process worker, queue, polling, event publisher and cache cut off from Redis', async () => {
    const proxy = await startRedisProxy(new URL(redisUrl!));
    // BOS_API_WORKER defaults to 1: this process runs the execution worker and the trigger work on the proxy too.
    const config = loadConfig({ DATABASE_URL: store.url!, REDIS_URL: proxy.url, BOS_REDIS_PREFIX: prefix, BOS_MASTER_KEY: masterKey, PORT: '0', HOST: '127.0.0.1', BOS_LOG_LEVEL: 'silent' });
    const server = await startServer(config, () => undefined);
    let stopping: Promise<void> | undefined;
    try {
      await server.startup;
      expect((await fetch(`${server.address}/ready`)).status).toBe(200);
      expect(proxy.open(), 'connections through the proxy').toBeGreaterThan(0);
      await proxy.kill();
      stopping = server.stop();
      expect(await settlesWithin(stopping, STOP_BOUND_MS), `server.stop() settled within ${STOP_BOUND_MS / 1000} s of Redis going away`).toBe(true);
      await stopping;
    } finally {
      // Whatever happened above, leave nothing running for the next test (a hung stop is abandoned, not awaited).
      if (!stopping) await server.stop();
    }
    await expect(fetch(`${server.address}/health`)).rejects.toThrow();
    // Stopped means no client of the service still tries to reach Redis.
    expect(await attemptsOn(Number(new URL(proxy.url).port), 3000), 'connection attempts after stop()').toBe(0);
  }, 60_000);

  it('server.stop() ends when Redis was unreachable from the start, with start-up still waiting for it', async () => {
    const proxy = await startRedisProxy(new URL(redisUrl!));
    await proxy.kill();
    const config = loadConfig({ DATABASE_URL: store.url!, REDIS_URL: proxy.url, BOS_REDIS_PREFIX: prefix, BOS_MASTER_KEY: masterKey, PORT: '0', HOST: '127.0.0.1', BOS_LOG_LEVEL: 'silent' });
    const server = await startServer(config, () => undefined);
    // Start-up cannot finish (its last steps need Redis): the service is live but never ready. The pause lets it get
    // past its store work to those steps, where it waits for Redis.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    expect((await fetch(`${server.address}/ready`)).status).toBe(503);
    const stopping = server.stop();
    expect(await settlesWithin(stopping, STOP_BOUND_MS), `server.stop() settled within ${STOP_BOUND_MS / 1000} s`).toBe(true);
    await stopping;
    expect(await attemptsOn(Number(new URL(proxy.url).port), 3000), 'connection attempts after stop()').toBe(0);
  }, 60_000);

  it('npm run worker exits on SIGTERM while Redis is unreachable', async () => {
    const proxy = await startRedisProxy(new URL(redisUrl!));
    const env = { PATH: process.env.PATH ?? '', DATABASE_URL: store.url!, REDIS_URL: proxy.url, BOS_REDIS_PREFIX: prefix, BOS_MASTER_KEY: masterKey };
    const child = spawn(process.execPath, [WORKER_BIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // Started means consuming the queue and running the trigger work (polling worker, event publisher).
      for (let i = 0; i < 600 && !output.join('').includes('trigger work started') && child.exitCode === null; i++) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(output.join(''), 'worker output').toContain('trigger work started');
      await proxy.kill();
      child.kill('SIGTERM');
      expect(await settlesWithin(exited, STOP_BOUND_MS), `the worker exited within ${STOP_BOUND_MS / 1000} s of SIGTERM:\n${output.join('')}`).toBe(true);
      expect(await exited, output.join('')).toBe(0);
      expect(output.join('')).toContain('execution worker stopped');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    }
  }, 90_000);
});
