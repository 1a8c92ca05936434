import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { defineConnector, defineTrigger } from '@businessos/connector-sdk';
import { createLocalEnv } from '@businessos/connector-sdk/host';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBullmqPublisher, withPublisher } from '../outbox/bullmq-publisher.ts';
import { createMemoryOutbox } from '../outbox/memory-outbox.ts';
import { redisUrlForTests } from '../testing/redis-env.ts';
import { createBullmqScheduler } from './bullmq-scheduler.ts';
import { createRedisLock } from './redis-lock.ts';
import { createPoller, type PollOutcome, type PollRunResult, type PollSubscription } from './poller.ts';
import { createRedisPollStateStore } from './state-store.ts';

const url = redisUrlForTests('triggers: BullMQ polling scheduler');

interface Item { id: string; created: number; title: string }

/** A loopback API listing items created at or after `created_gte`, oldest first, slow enough for polls to overlap. */
async function startItemsApi(latencyMs: number) {
  const items: Item[] = [];
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests += 1;
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (u.pathname !== '/v1/items') {
      res.writeHead(404).end();
      return;
    }
    const since = Number(u.searchParams.get('created_gte') ?? '0');
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: items.filter((i) => i.created >= since) }));
    }, latencyMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    items,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A real SDK connector whose poll asks for items since the newest one it saw (inclusive, like Stripe's created[gte]). */
const itemsConnector = defineConnector({
  name: 'items',
  version: '1.0.0',
  baseUrl: 'https://api.items.example',
  actions: [],
  triggers: [
    defineTrigger({
      name: 'newItem',
      description: 'An item was created',
      polling: {
        intervalSeconds: 60,
        dedupe: { by: 'id', path: '/id' },
        async poll(ctx, state) {
          const since = typeof state === 'object' && state && 'since' in state && typeof state.since === 'number' ? state.since : 0;
          const res = await ctx.http.get<{ data: Item[] }>('/v1/items', { query: { created_gte: since } });
          const items = res.data.data;
          return { items, state: { since: items.reduce((m, i) => Math.max(m, i.created), since) } };
        },
      },
    }),
  ],
});

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(!url)('triggers: BullMQ polling scheduler (real Redis; skipped without REDIS_URL)', () => {
  const base = `bos-test-triggers-${randomUUID()}`;
  let redis: Redis;
  let api: Awaited<ReturnType<typeof startItemsApi>>;

  beforeAll(async () => {
    redis = new Redis(url!, { maxRetriesPerRequest: null });
    api = await startItemsApi(120);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${base}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await api.close();
  });

  it('a polling trigger against a mock API emits each new item once across restarts, one poll at a time', async () => {
    const stateStore = createRedisPollStateStore({ redis, prefix: `${base}:state:` });
    // The outbox stands for the database: it survives the "restart"; events are also pushed to a BullMQ queue.
    const memory = createMemoryOutbox();
    const publisher = createBullmqPublisher({ connection: redis, queueName: 'events', prefix: base });
    const outbox = withPublisher(memory, publisher);
    const runPoll = async (sub: PollSubscription, cursor: unknown) =>
      (await itemsConnector.executeTrigger(sub.trigger.name, 'poll', cursor, createLocalEnv(itemsConnector, { baseUrlOverride: api.url }))) as PollRunResult;
    const trigger = itemsConnector.manifest.triggers[0]!;
    const sub: PollSubscription = { id: `sub-${randomUUID()}`, tenantId: 'tenant-1', trigger, intervalMs: 100 };

    let active = 0;
    let maxActive = 0;
    const outcomes: (PollOutcome | 'locked')[] = [];
    const start = () => {
      const poller = createPoller({
        stateStore,
        outbox,
        runPoll: async (s, c) => {
          active += 1;
          maxActive = Math.max(maxActive, active);
          try {
            return await runPoll(s, c);
          } finally {
            active -= 1;
          }
        },
      });
      return createBullmqScheduler({ connection: redis, queueName: 'polls', prefix: base, lockPrefix: `${base}:lock:`, poller, onPoll: (_s, o) => outcomes.push(o) });
    };
    const emitted = async () => (await memory.readAfter({ tenantId: 'tenant-1', limit: 100 })).map((e) => (e.payload as Item).id);

    api.items.push({ id: 'item_1', created: 100, title: 'existing' }, { id: 'item_2', created: 200, title: 'existing' });
    const first = start();
    await first.schedule(sub);
    await waitFor('the baseline poll', async () => (await stateStore.load(sub.id))?.baselined === true);
    expect(await emitted()).toEqual([]);

    api.items.push({ id: 'item_3', created: 300, title: 'new' });
    await waitFor('item_3', async () => (await emitted()).length === 1);
    await first.close();

    // While the service is down, two more items arrive (one in the same second as item_3).
    api.items.push({ id: 'item_4', created: 300, title: 'same second' }, { id: 'item_5', created: 400, title: 'later' });
    const second = start();
    const third = start();
    await second.schedule(sub);
    await waitFor('items 4 and 5', async () => (await emitted()).length >= 3);
    const requestsSoFar = api.requests();
    await waitFor('a few more polls', () => api.requests() >= requestsSoFar + 4);
    await second.unschedule(sub.id);
    await Promise.all([second.close(), third.close()]);

    expect(await emitted()).toEqual(['item_3', 'item_4', 'item_5']);
    expect(maxActive).toBe(1);
    expect(outcomes.filter((o) => o !== 'locked' && o.status === 'failed')).toEqual([]);

    const polls = new Queue('polls', { connection: redis, prefix: base });
    const events = new Queue('events', { connection: redis, prefix: base });
    try {
      expect(await polls.getJobSchedulersCount()).toBe(0);
      const jobs = await events.getJobs(['waiting', 'delayed', 'active', 'completed']);
      expect(jobs.map((j) => (j.data as { payload: Item }).payload.id).sort()).toEqual(['item_3', 'item_4', 'item_5']);
    } finally {
      await polls.close();
      await events.close();
      await publisher.close();
    }
  });

  it('keeps a slow poll the only one of its subscription across workers, however long it outlives the lock TTL', async () => {
    // A poll longer than the lock TTL (a slow provider, a large page to store) must not let another worker start a
    // second poll of the same subscription, which would then race it to save the state.
    const stateStore = createRedisPollStateStore({ redis, prefix: `${base}:slow-state:` });
    const trigger = itemsConnector.manifest.triggers[0]!;
    const sub: PollSubscription = { id: `slow-${randomUUID()}`, tenantId: 'tenant-1', trigger, intervalMs: 100 };
    let started = 0;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const poller = createPoller({
      stateStore,
      outbox: createMemoryOutbox(),
      runPoll: async () => {
        started += 1;
        if (started === 1) await held;
        return { items: [], state: null };
      },
    });
    const locked: string[] = [];
    const make = () => createBullmqScheduler({ connection: redis, queueName: 'slow-polls', prefix: base, lockPrefix: `${base}:slow-lock:`, lockTtlMs: 300, poller, onPoll: (s, o) => { if (o === 'locked') locked.push(s.id); } });
    const a = make();
    const b = make();
    try {
      await a.schedule(sub);
      await waitFor('the first poll to start', () => started === 1);
      // Polls every 100 ms find the lock taken; ten of them span more than three TTLs of the held poll.
      await waitFor('ten polls that found the lock taken, or a second poll', () => locked.length >= 10 || started > 1);
      expect(started).toBe(1);
      release();
      await waitFor('a poll after the slow one', () => started > 1);
    } finally {
      release();
      await a.unschedule(sub.id);
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('a crashed holder of a poll lock blocks its subscription only until the lock TTL, 60 s by default', async () => {
    // A worker that took a subscription's lock and died never renews or releases it: the subscription is skipped as
    // `locked` until the lock expires, so the TTL is how long a crash stops its polls.
    const trigger = itemsConnector.manifest.triggers[0]!;
    const lockPrefix = `${base}:crash-lock:`;
    const polled: string[] = [];
    let lockAtPoll: string | null = null;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => { release = resolve; });
    const poller = createPoller({
      stateStore: createRedisPollStateStore({ redis, prefix: `${base}:crash-state:` }),
      outbox: createMemoryOutbox(),
      runPoll: async (s) => {
        if (s.id.startsWith('crashed-')) lockAtPoll = await redis.get(`${lockPrefix}${s.id}`);
        polled.push(s.id);
        if (s.id.startsWith('default-')) await held;
        return { items: [], state: null };
      },
    });

    // The default TTL: what a running poll's lock is set to, hence what a crash during it leaves behind.
    const byDefault = createBullmqScheduler({ connection: redis, queueName: 'crash-default-polls', prefix: base, lockPrefix, poller });
    const running: PollSubscription = { id: `default-${randomUUID()}`, tenantId: 'tenant-1', trigger, intervalMs: 60_000 };
    try {
      await byDefault.schedule(running);
      await waitFor('the poll to start', () => polled.includes(running.id));
      const ttl = await redis.pttl(`${lockPrefix}${running.id}`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    } finally {
      release();
      await byDefault.unschedule(running.id);
      await byDefault.close();
    }

    // A crashed holder (lock taken with a short configured TTL, never renewed): another worker polls after it expires.
    const sub: PollSubscription = { id: `crashed-${randomUUID()}`, tenantId: 'tenant-1', trigger, intervalMs: 100 };
    const crashedToken = await createRedisLock({ redis, prefix: lockPrefix }).acquire(sub.id, 500);
    expect(crashedToken).toBeDefined();
    const survivor = createBullmqScheduler({ connection: redis, queueName: 'crash-polls', prefix: base, lockPrefix, lockTtlMs: 500, poller });
    try {
      await survivor.schedule(sub);
      await waitFor('a poll of the subscription whose holder crashed', () => polled.includes(sub.id));
      // The poll ran under the survivor's own lock, not while the crashed holder's token still held the subscription.
      expect(lockAtPoll).toBeTruthy();
      expect(lockAtPoll).not.toBe(crashedToken);
    } finally {
      await survivor.unschedule(sub.id);
      await survivor.close();
    }
  });

  it('the event publisher adds one job per (subscription, key) however often an event is published', async () => {
    const memory = createMemoryOutbox();
    const publisher = createBullmqPublisher({ connection: redis, queueName: 'events-dedupe', prefix: base });
    const events = new Queue('events-dedupe', { connection: redis, prefix: base });
    try {
      const appended = await withPublisher(memory, publisher).appendEvents({ tenantId: 't', subscriptionId: 's' }, [{ key: 'k1', payload: { a: 1 } }, { key: 'k2', payload: { a: 2 } }]);
      await publisher.publish(appended);
      expect(await events.getWaitingCount()).toBe(2);
      const failing = withPublisher(memory, { publish: async () => { throw new Error('redis down'); }, close: async () => undefined }, { onPublishError: (_e, evts) => expect(evts).toHaveLength(1) });
      expect(await failing.appendEvents({ tenantId: 't', subscriptionId: 's' }, [{ key: 'k3', payload: {} }])).toHaveLength(1);
    } finally {
      await events.close();
      await publisher.close();
    }
  });
});
