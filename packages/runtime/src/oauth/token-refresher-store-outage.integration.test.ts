import type { Credentials, OAuth2AuthSpec } from '@businessos/connector-sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RuntimeLogger } from '../clock.ts';
import { createEgressClient } from '../egress/egress-client.ts';
import { createFakeClock } from '../testing/fake-clock.ts';
import { sendJson, startMockServer } from '../testing/mock-server.ts';
import { generateMasterKey } from '../vault/master-key.ts';
import { createMemoryVaultStore } from '../vault/memory-store.ts';
import type { VaultStore } from '../vault/types.ts';
import { createVault, type Vault } from '../vault/vault.ts';
import { createMemoryLock, type Lock } from './lock.ts';
import { useRedisPair } from '../testing/redis-pair.ts';
import { createRedisLock } from './redis-lock.ts';
import { createTokenRefresher, type RefreshTarget, type TokenRefresher, type TokenRefresherOptions } from './token-refresher.ts';

// The vault store fails writes (the database is briefly away, a serialization error, a timeout) just after the provider
// issued new tokens. The provider rotates refresh tokens, so losing the new ones would leave the connection dead.

const CLIENT_SECRET = 'app-secret-outage-9f8e7d';
const accessToken = (n: number) => `at-${n}-secret-access`;
const refreshToken = (n: number) => `rt-${n}-secret-refresh`;

/** A provider that rotates refresh tokens: each one works once, and an API that checks the bearer token. */
const provider = { refreshTokens: new Set<string>(), accessTokens: new Set<string>(), issued: 0, refused: [] as string[] };
let server: Awaited<ReturnType<typeof startMockServer>>;

beforeAll(async () => {
  server = await startMockServer((req, res) => {
    if (req.url.pathname === '/oauth/token') {
      const used = new URLSearchParams(req.body).get('refresh_token') ?? '';
      if (!provider.refreshTokens.delete(used)) {
        provider.refused.push(used);
        return sendJson(res, 400, { error: 'invalid_grant', error_description: 'refresh token already used' });
      }
      const n = ++provider.issued;
      provider.accessTokens.add(accessToken(n));
      provider.refreshTokens.add(refreshToken(n));
      return sendJson(res, 200, { access_token: accessToken(n), refresh_token: refreshToken(n), expires_in: 3600, token_type: 'bearer' });
    }
    const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    return provider.accessTokens.has(bearer) ? sendJson(res, 200, { ok: true }) : sendJson(res, 401, { error: 'invalid_token' });
  });
});
afterAll(() => server?.close());
beforeEach(() => {
  server.requests.length = 0;
  provider.refreshTokens.clear();
  provider.accessTokens.clear();
  provider.issued = 0;
  provider.refused.length = 0;
});

/** A vault store whose secret writes fail while `down`, for the next `failNext` writes, or never answer while `hang`. */
function outageStore() {
  const inner = createMemoryVaultStore();
  const state = { down: false, failNext: 0, hang: false, writes: 0, failed: 0, reads: 0 };
  const store: VaultStore = {
    ...inner,
    async getSecret(tenant, connectionId) {
      state.reads++;
      return inner.getSecret(tenant, connectionId);
    },
    async putSecret(record) {
      state.writes++;
      if (state.hang) return new Promise<void>(() => undefined);
      if (state.down || state.failNext > 0) {
        if (state.failNext > 0) state.failNext--;
        state.failed++;
        throw new Error('could not serialize access due to concurrent update');
      }
      return inner.putSecret(record);
    },
  };
  return { store, state };
}

function setup(options: { lock?: Lock; realClock?: boolean; lockTtlMs?: number; lockWaitMs?: number } = {}) {
  const clock = options.realClock ? undefined : createFakeClock();
  const now = () => clock?.now() ?? Date.now();
  const { store, state } = outageStore();
  const masterKey = generateMasterKey();
  const vault = createVault({ store, masterKey, clock });
  const egress = createEgressClient({ allowLoopback: true });
  const marked: string[] = [];
  const logs: string[] = [];
  const record = (level: string) => (message: string, data?: Record<string, unknown>) => void logs.push(`${level} ${message} ${JSON.stringify(data ?? {})}`);
  const logger: RuntimeLogger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
  const connections = { markNeedsReauth: async (_t: string, _c: string, reason: string) => void marked.push(reason) };
  const platformConfig = (_connector: string, key: string) => ({ client_id: 'acme-client', client_secret: CLIENT_SECRET } as Record<string, string>)[key];
  const auth: OAuth2AuthSpec = { type: 'oauth2', grant: 'authorization_code', tokenUrl: `${server.origin}/oauth/token`, clientId: 'config.client_id', clientSecret: 'config.client_secret', scopes: [], scopeSeparator: ' ', pkce: true };
  const target = (connectionId = 'c1'): RefreshTarget => ({ tenant: 't1', connectionId, manifest: { name: 'acme', hosts: ['127.0.0.1'], auth }, fields: {} });
  const lock = options.lock ?? createMemoryLock(clock);
  // Each refresher is one runtime process: its own memory, the same store and lock. Background write-back is slow
  // here unless a test asks otherwise, so the tests decide when a write-back happens.
  const make = (extra: Partial<TokenRefresherOptions> = {}) => createTokenRefresher({
    vault: createVault({ store, masterKey, clock }), egress, connections, lock, platformConfig, clock, logger, skewMs: 60_000,
    lockTtlMs: options.lockTtlMs, lockWaitMs: options.lockWaitMs, writeBackMs: 60_000, ...extra,
  });
  const stored = (connectionId = 'c1') => vault.getCredentials('t1', connectionId);
  /** Stores the connection's first tokens (expired unless `fresh`) and tells the provider about them. */
  async function connect(connectionId = 'c1', fresh = false): Promise<Credentials> {
    const credentials = { accessToken: `${accessToken(0)}-${connectionId}`, refreshToken: `${refreshToken(0)}-${connectionId}`, expiresAt: now() + (fresh ? 3_600_000 : -1) };
    provider.accessTokens.add(credentials.accessToken);
    provider.refreshTokens.add(credentials.refreshToken);
    await vault.putCredentials('t1', connectionId, credentials);
    return credentials;
  }
  /** One execution as the runtime runs it: read the stored credentials, make sure they are fresh, call the API, refresh once on a 401. */
  async function execute(refresher: TokenRefresher, connectionId = 'c1') {
    let credentials = (await stored(connectionId))!;
    credentials = await refresher.ensureFresh(target(connectionId), credentials);
    let status = await callApi(credentials.accessToken!);
    if (status === 401) {
      credentials = await refresher.ensureFresh(target(connectionId), credentials, { rejectedToken: credentials.accessToken });
      status = await callApi(credentials.accessToken!);
    }
    return { status, token: credentials.accessToken };
  }
  return { clock, vault, state, marked, logs, lock, make, stored, connect, execute };
}

async function callApi(token: string): Promise<number> {
  const response = await fetch(`${server.origin}/api/me`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  return response.status;
}

const tokenRequests = () => server.requests.filter((r) => r.url.pathname === '/oauth/token').map((r) => new URLSearchParams(r.body).get('refresh_token'));

describe('OAuth2 refresh when the vault store refuses the new tokens', () => {
  it('lets the execution succeed, reuses the new access token, and refreshes with the new refresh token, never the dead one', async () => {
    const s = setup();
    const initial = await s.connect();
    s.state.down = true;
    const refresher = s.make();

    expect(await s.execute(refresher)).toEqual({ status: 200, token: accessToken(1) });
    // Tried more than once while the lock was held; the store still has the old, now dead, refresh token.
    expect(s.state.failed).toBe(4);
    expect(await s.stored()).toEqual(initial);

    // The next execution reads the stale stored tokens; this process answers with the ones it kept.
    expect(await s.execute(refresher)).toEqual({ status: 200, token: accessToken(1) });
    expect(tokenRequests()).toEqual([initial.refreshToken]);

    // Once the kept access token expires, the refresh spends the refresh token the store never got.
    s.clock!.advance(3_600_000);
    expect(await s.execute(refresher)).toEqual({ status: 200, token: accessToken(2) });
    expect(tokenRequests()).toEqual([initial.refreshToken, refreshToken(1)]);
    expect(provider.refused).toEqual([]);
    expect(s.marked).toEqual([]);
  });

  it('writes the kept tokens back on the next use once the store works again, then lets the memory copy go', async () => {
    const s = setup();
    await s.connect();
    s.state.down = true;
    const refresher = s.make();
    await s.execute(refresher);
    s.state.down = false;

    s.clock!.advance(61_000); // past the write-back pause
    expect(await s.execute(refresher)).toEqual({ status: 200, token: accessToken(1) });
    await vi.waitFor(async () => expect(await s.stored()).toMatchObject({ accessToken: accessToken(1), refreshToken: refreshToken(1) }));
    expect(await refresher.flushUnstored()).toBe(0);
    // A process that never saw the kept copy now reads the new tokens from the store.
    expect(await s.execute(s.make())).toEqual({ status: 200, token: accessToken(1) });
    expect(provider.issued).toBe(1);
    expect(s.logs.some((l) => l.startsWith('info oauth tokens kept in memory are now stored'))).toBe(true);
  });

  it('writes the kept tokens back in the background without another execution', async () => {
    const s = setup();
    await s.connect();
    s.state.down = true;
    const refresher = s.make({ writeBackMs: 20 });
    await s.execute(refresher);
    s.state.down = false;
    await vi.waitFor(async () => expect(await s.stored()).toMatchObject({ refreshToken: refreshToken(1) }), { timeout: 5_000 });
    expect(await refresher.flushUnstored()).toBe(0);
    // The refresh lock it held on to while the stored refresh token was dead is free again.
    expect(await s.lock.tryAcquire('oauth-refresh:t1:c1', 1_000)).toBeDefined();
  });

  it('retries the write while holding the lock, so a store that fails twice loses nothing', async () => {
    const s = setup();
    await s.connect();
    s.state.failNext = 2;
    const refresher = s.make();
    expect(await s.execute(refresher)).toEqual({ status: 200, token: accessToken(1) });
    expect(s.state.failed).toBe(2);
    expect(await s.stored()).toMatchObject({ accessToken: accessToken(1), refreshToken: refreshToken(1) });
    expect(await refresher.flushUnstored()).toBe(0);
    expect(s.logs.filter((l) => l.startsWith('warn'))).toEqual([]);
  });

  it('after a 401, hands the kept token to the next execution without sending the rejected one again', async () => {
    const s = setup();
    const initial = await s.connect('c1', true);
    provider.accessTokens.delete(initial.accessToken!); // revoked at the provider before it expired
    s.state.down = true;
    const refresher = s.make();
    expect(await s.execute(refresher)).toEqual({ status: 200, token: accessToken(1) });
    expect(await s.execute(refresher)).toEqual({ status: 200, token: accessToken(1) });
    const sentRevoked = server.requests.filter((r) => r.headers.authorization === `Bearer ${initial.accessToken}`);
    expect(sentRevoked).toHaveLength(1);
    expect(tokenRequests()).toEqual([initial.refreshToken]);
  });

  it('makes another runtime wait on the lock instead of spending the dead refresh token, and gives it the tokens once stored', async () => {
    const s = setup({ lockWaitMs: 2_000 });
    await s.connect();
    s.state.down = true;
    const [w1, w2] = [s.make(), s.make()];
    expect(await s.execute(w1)).toEqual({ status: 200, token: accessToken(1) });

    // The second runtime only sees the stale stored tokens: it waits for the lock and gives up with a retryable error.
    await expect(s.execute(w2)).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(tokenRequests()).toHaveLength(1);
    expect(provider.refused).toEqual([]);
    expect(s.marked).toEqual([]);

    // The holder takes the lock again before it runs out, for as long as the store refuses the tokens.
    s.clock!.advance(20_000);
    expect(await w1.flushUnstored()).toBe(1);
    s.clock!.advance(15_000); // the first lease has run out by now
    expect(await s.lock.tryAcquire('oauth-refresh:t1:c1', 1_000)).toBeUndefined();

    s.state.down = false;
    const reads = s.state.reads;
    const waiting = s.execute(s.make({ lockWaitMs: 10_000 }));
    await vi.waitFor(() => expect(s.state.reads).toBeGreaterThanOrEqual(reads + 2));
    expect(await w1.flushUnstored()).toBe(0);
    expect(await waiting).toEqual({ status: 200, token: accessToken(1) });
    expect(provider.refused).toEqual([]);
    expect(tokenRequests()).toHaveLength(1);
  });

  it('keeps holding the lock by extending its lease while the store refuses the tokens, never letting it go in between', async () => {
    const calls: string[] = [];
    const clock = createFakeClock();
    const inner = createMemoryLock(clock);
    const lock: Lock = {
      async tryAcquire(key, ttlMs) {
        const lease = await inner.tryAcquire(key, ttlMs);
        if (!lease) return undefined;
        calls.push('acquire');
        return {
          release: () => (calls.push('release'), lease.release()),
          extend: (ms: number) => (calls.push('extend'), lease.extend!(ms)),
        };
      },
    };
    const s = setup({ lock });
    // The refresher runs on the setup's own fake clock; the lock's clock moves with it.
    const advance = (ms: number) => {
      s.clock!.advance(ms);
      clock.advance(ms);
    };
    await s.connect();
    s.state.down = true;
    const w1 = s.make();
    expect(await s.execute(w1)).toEqual({ status: 200, token: accessToken(1) });
    for (let round = 0; round < 3; round += 1) {
      advance(20_000);
      expect(await w1.flushUnstored()).toBe(1);
      // Nobody else can take it at any point: it was never released, only extended.
      expect(await inner.tryAcquire('oauth-refresh:t1:c1', 1_000)).toBeUndefined();
    }
    expect(calls.filter((c) => c === 'release')).toEqual([]);
    expect(calls.filter((c) => c === 'extend').length).toBeGreaterThanOrEqual(3);
    expect(calls.filter((c) => c === 'acquire')).toHaveLength(1);
    s.state.down = false;
    expect(await w1.flushUnstored()).toBe(0);
  });

  it('gives up on a write that never answers before the lock would expire, and the execution still succeeds', { timeout: 10_000 }, async () => {
    const s = setup({ realClock: true, lockTtlMs: 1_000 });
    await s.connect();
    s.state.hang = true;
    const refresher = s.make();
    expect(await s.execute(refresher)).toEqual({ status: 200, token: accessToken(1) });
    expect(s.logs.some((l) => l.includes('did not confirm the write'))).toBe(true);
    s.state.hang = false;
    expect(await refresher.flushUnstored()).toBe(0);
    expect(await s.stored()).toMatchObject({ refreshToken: refreshToken(1) });
  });

  it('drops the kept tokens instead of overwriting credentials stored after a reconnect', async () => {
    const s = setup();
    await s.connect();
    s.state.down = true;
    const refresher = s.make();
    await s.execute(refresher);
    s.state.down = false;
    const reconnected = { accessToken: 'at-reconnected-secret', refreshToken: 'rt-reconnected-secret', expiresAt: s.clock!.now() + 3_600_000 };
    provider.accessTokens.add(reconnected.accessToken);
    await s.vault.putCredentials('t1', 'c1', reconnected);

    expect(await refresher.flushUnstored()).toBe(0);
    expect(await s.stored()).toEqual(reconnected);
    expect(await s.execute(refresher)).toEqual({ status: 200, token: reconnected.accessToken });
    expect(s.logs.some((l) => l.startsWith('warn discarded refreshed oauth tokens kept in memory'))).toBe(true);
  });

  it('keeps at most maxUnstored connections and says which one it had to drop', async () => {
    const s = setup();
    await s.connect('c1');
    await s.connect('c2');
    s.state.down = true;
    const refresher = s.make({ maxUnstored: 1 });
    expect(await s.execute(refresher, 'c1')).toEqual({ status: 200, token: accessToken(1) });
    expect(await s.execute(refresher, 'c2')).toEqual({ status: 200, token: accessToken(2) });
    expect(s.logs.filter((l) => l.startsWith('error dropped refreshed oauth tokens'))).toEqual([expect.stringContaining('"connectionId":"c1"')]);
    s.state.down = false;
    expect(await refresher.flushUnstored()).toBe(0);
    expect(await s.stored('c2')).toMatchObject({ refreshToken: refreshToken(2) });
    expect((await s.stored('c1'))!.refreshToken).toBe(`${refreshToken(0)}-c1`);
  });

  it('never writes a token or the client secret to the log, even when the store error quotes the credentials', async () => {
    const s = setup();
    const initial = await s.connect();
    let down = true;
    // A store whose error message carries what it was asked to write, in plain and JSON form.
    const leaky: Vault = {
      ...s.vault,
      async putCredentials(tenant, connectionId, credentials) {
        if (down) throw new Error(`insert failed for ${JSON.stringify(credentials)} (${credentials.refreshToken})`);
        await s.vault.putCredentials(tenant, connectionId, credentials);
      },
    };
    const refresher = s.make({ vault: leaky });
    expect(await s.execute(refresher)).toEqual({ status: 200, token: accessToken(1) });
    expect(await refresher.flushUnstored()).toBe(1);
    expect(await refresher.flushUnstored()).toBe(1);
    down = false;
    expect(await refresher.flushUnstored()).toBe(0);

    const text = s.logs.join('\n');
    expect(s.logs.filter((l) => l.startsWith('warn'))).toEqual([
      expect.stringMatching(/vault store did not accept them.*"connectionId":"c1".*insert failed for.*\[REDACTED\].*"check":"the vault store/),
      expect.stringContaining('still not stored'),
      expect.stringContaining('still not stored'),
    ]);
    for (const secret of [initial.accessToken!, initial.refreshToken!, accessToken(1), refreshToken(1), CLIENT_SECRET]) expect(text).not.toContain(secret);
  });
});

const redisUrl = process.env.REDIS_URL;
describe.skipIf(!redisUrl)('OAuth2 refresh with a failing vault store across two runtimes on the Redis lock (real Redis)', () => {
  const pair = useRedisPair(redisUrl!);
  const { prefix } = pair;

  it('the other runtime waits for the holder to store the rotated tokens instead of spending the dead refresh token', { timeout: 20_000 }, async () => {
    const s = setup({ realClock: true, lockTtlMs: 10_000, lockWaitMs: 8_000 });
    await s.connect();
    s.state.down = true;
    const w1 = s.make({ lock: createRedisLock({ redis: pair.a, prefix }) });
    const w2 = s.make({ lock: createRedisLock({ redis: pair.b, prefix }) });
    expect(await s.execute(w1)).toEqual({ status: 200, token: accessToken(1) });

    const reads = s.state.reads;
    const waiting = s.execute(w2);
    // Its first read, then at least one more while it polls the lock.
    await vi.waitFor(() => expect(s.state.reads).toBeGreaterThanOrEqual(reads + 2));
    s.state.down = false;
    expect(await w1.flushUnstored()).toBe(0);
    expect(await waiting).toEqual({ status: 200, token: accessToken(1) });
    expect(tokenRequests()).toHaveLength(1);
    expect(provider.refused).toEqual([]);
    expect(s.marked).toEqual([]);
  });
});
