import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeOrDrop, quitOrDrop } from './close-or-drop.ts';
import { redisUrlForTests } from './testing/redis-env.ts';

const url = redisUrlForTests('triggers: bounded close of Redis connections');

/** A Redis client pointed at a loopback port nothing listens on: Redis is down for it, and it keeps retrying. */
async function unreachableRedis(): Promise<Redis> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const redis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: null });
  redis.on('error', () => undefined);
  return redis;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('closeOrDrop while Redis is unreachable', () => {
  it('drops once the clean close has waited for Redis for the timeout, and absorbs its late failure', async () => {
    const redis = await unreachableRedis();
    let dropped = false;
    const closed = await closeOrDrop(
      // A clean close that would wait for Redis, then fails after the drop: no one is left to hear it.
      () => sleep(1000).then(() => Promise.reject(new Error('closed under it'))),
      () => {
        dropped = true;
        redis.disconnect();
      },
      { timeoutMs: 100, redis },
    );
    expect(closed).toBe(false);
    expect(dropped).toBe(true);
    // Long enough for the clean attempt to fail: an unhandled rejection would fail this run.
    await sleep(1200);
  });

  it('quitOrDrop ends a connection whose quit waits behind commands that cannot be sent', async () => {
    const redis = await unreachableRedis();
    // Queued until Redis answers, which it never does here; the quit would wait behind it for ever.
    redis.get('never-sent').catch(() => undefined);
    await quitOrDrop(redis, 100);
    // Dropped means it stops trying: its retries came at most a few hundred milliseconds apart before.
    let attempts = 0;
    redis.on('reconnecting', () => (attempts += 1));
    await sleep(1000);
    expect(attempts, 'reconnection attempts after quitOrDrop()').toBe(0);
  });
});

describe.skipIf(!url)('closeOrDrop while Redis is up (real Redis; skipped without REDIS_URL)', () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(url!, { maxRetriesPerRequest: null });
    await redis.ping();
  });
  afterAll(async () => {
    await redis?.quit();
  });

  it('lets a clean close take longer than the timeout: only time with Redis unreachable counts', async () => {
    let dropped = false;
    const closed = await closeOrDrop(() => sleep(500), () => (dropped = true), { timeoutMs: 50, redis });
    expect(closed).toBe(true);
    expect(dropped).toBe(false);
  });

  it('drops a connection that still looks open but whose Redis stopped answering (a host gone without a reset)', { timeout: 15_000 }, async () => {
    // A proxy in front of the real Redis that, once frozen, swallows everything and keeps every socket open.
    const target = new URL(url!);
    const sockets: Socket[] = [];
    let frozen = false;
    const proxy = createServer((client) => {
      const upstream = connect(Number(target.port || 6379), target.hostname);
      sockets.push(client, upstream);
      client.on('data', (chunk: Buffer) => void (frozen || upstream.write(chunk)));
      upstream.on('data', (chunk: Buffer) => void (frozen || client.write(chunk)));
      for (const socket of [client, upstream]) socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const silent = new Redis((proxy.address() as AddressInfo).port, '127.0.0.1', { maxRetriesPerRequest: null });
    silent.on('error', () => undefined);
    try {
      await silent.ping();
      frozen = true;
      silent.get('never-answered').catch(() => undefined);
      // The quit waits behind the unanswered command on a socket that never closes; the PING probe notices.
      await quitOrDrop(silent, 300);
      // Dropped: the client ends (it is not waiting on Redis any more, and does not reconnect).
      await new Promise<void>((resolve) => (silent.status === 'end' ? resolve() : silent.once('end', () => resolve())));
      expect(silent.status).toBe('end');
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('passes on the failure of a clean close that ended in time', async () => {
    await expect(closeOrDrop(() => Promise.reject(new Error('worker close failed')), () => undefined, { timeoutMs: 50, redis })).rejects.toThrow('worker close failed');
  });
});
