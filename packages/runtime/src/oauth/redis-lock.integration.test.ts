import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createEgressClient } from '../egress/egress-client.ts';
import { sendJson, startMockServer } from '../testing/mock-server.ts';
import { generateMasterKey } from '../vault/master-key.ts';
import { createMemoryVaultStore } from '../vault/memory-store.ts';
import { createVault } from '../vault/vault.ts';
import { acquireLock } from './lock.ts';
import { useRedisPair } from '../testing/redis-pair.ts';
import { createRedisLock } from './redis-lock.ts';
import { createTokenRefresher } from './token-refresher.ts';

const url = process.env.REDIS_URL;
const required = process.env.BOS_REQUIRE_SERVICES === '1';

if (!url && required) {
  describe('redis lock', () => {
    it('needs REDIS_URL (BOS_REQUIRE_SERVICES=1 is set)', () => {
      expect.fail('REDIS_URL is not set but BOS_REQUIRE_SERVICES=1 requires the real Redis');
    });
  });
}

describe.skipIf(!url)('redis lock (real Redis; skipped without REDIS_URL)', () => {
  const pair = useRedisPair(url!);
  const { prefix } = pair;

  it('extends a lease only while it is still its holder\'s, never over a new holder', async () => {
    const lockA = createRedisLock({ redis: pair.a, prefix });
    const lockB = createRedisLock({ redis: pair.b, prefix });
    const lease = (await lockA.tryAcquire('extend', 300))!;
    expect(await lease.extend!(60_000)).toBe(true);
    expect(await pair.a.pttl(`${prefix}extend`)).toBeGreaterThan(30_000);
    expect(await lockB.tryAcquire('extend', 1000)).toBeUndefined();
    // Once it has expired and another client holds the key, the old lease can neither extend nor release it.
    await pair.a.pexpire(`${prefix}extend`, 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const other = (await lockB.tryAcquire('extend', 60_000))!;
    expect(other).toBeDefined();
    expect(await lease.extend!(60_000)).toBe(false);
    expect(await lease.release()).toBe(false);
    expect(await other.release()).toBe(true);
  });

  it('lets one holder in across clients and releases only with its own token', async () => {
    const lockA = createRedisLock({ redis: pair.a, prefix });
    const lockB = createRedisLock({ redis: pair.b, prefix });
    const lease = await lockA.tryAcquire('conn-1', 10_000);
    expect(lease).toBeDefined();
    expect(await lockB.tryAcquire('conn-1', 10_000)).toBeUndefined();
    expect(await pair.a.pttl(`${prefix}conn-1`)).toBeGreaterThan(0);
    expect(await lease!.release()).toBe(true);
    const second = await lockB.tryAcquire('conn-1', 10_000);
    expect(second).toBeDefined();
    // A released lease cannot release someone else's lock.
    expect(await lease!.release()).toBe(false);
    expect(await pair.a.exists(`${prefix}conn-1`)).toBe(1);
    expect(await second!.release()).toBe(true);
  });

  it('expires a lease whose holder died, and the old holder cannot release the new one', async () => {
    const lock = createRedisLock({ redis: pair.a, prefix });
    const stale = await lock.tryAcquire('conn-2', 50);
    expect(stale).toBeDefined();
    let fresh;
    for (let i = 0; i < 50 && !fresh; i++) {
      fresh = await lock.tryAcquire('conn-2', 10_000);
      if (!fresh) await new Promise((r) => setTimeout(r, 20));
    }
    expect(fresh).toBeDefined();
    expect(await stale!.release()).toBe(false);
    expect(await fresh!.release()).toBe(true);
  });

  it('acquireLock waits for the holder and hands over', async () => {
    const lock = createRedisLock({ redis: pair.a, prefix });
    const first = await lock.tryAcquire('conn-3', 10_000);
    const waiting = acquireLock(lock, 'conn-3', { ttlMs: 10_000, waitMs: 5_000, pollMs: 10 });
    setTimeout(() => void first!.release(), 50);
    const got = await waiting;
    expect('lease' in got).toBe(true);
    if ('lease' in got) expect(await got.lease.release()).toBe(true);
  });

  it('makes OAuth refresh single-flight across two workers with their own Redis clients', async () => {
    let issued = 0;
    const server = await startMockServer(async (_req, res) => {
      issued++;
      await new Promise((r) => setTimeout(r, 50));
      sendJson(res, 200, { access_token: `at-${issued}`, refresh_token: `rt-${issued}`, expires_in: 3600 });
    });
    try {
      const store = createMemoryVaultStore();
      const masterKey = generateMasterKey();
      const egress = createEgressClient({ allowLoopback: true });
      const connections = { markNeedsReauth: async () => undefined };
      const worker = (redis: Redis) => createTokenRefresher({ vault: createVault({ store, masterKey }), egress, connections, lock: createRedisLock({ redis, prefix }), lockWaitMs: 5_000 });
      const stale = { accessToken: 'at-0', refreshToken: 'rt-0', expiresAt: Date.now() - 1 };
      await createVault({ store, masterKey }).putCredentials('t1', 'c1', stale);
      const target = {
        tenant: 't1', connectionId: 'c1', fields: {},
        manifest: { name: 'acme', hosts: ['127.0.0.1'], auth: { type: 'oauth2' as const, grant: 'authorization_code' as const, tokenUrl: `${server.origin}/token`, clientId: 'id', scopes: [], scopeSeparator: ' ', pkce: true } },
      };
      const [w1, w2] = [worker(pair.a), worker(pair.b)];
      const results = await Promise.all([...Array.from({ length: 4 }, () => w1.ensureFresh(target, stale)), ...Array.from({ length: 4 }, () => w2.ensureFresh(target, stale))]);
      expect(issued).toBe(1);
      expect(new Set(results.map((r) => r.accessToken))).toEqual(new Set(['at-1']));
      await egress.close();
    } finally {
      await server.close();
    }
  });
});
