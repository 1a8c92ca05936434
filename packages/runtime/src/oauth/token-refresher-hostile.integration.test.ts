import type { ServerResponse } from 'node:http';
import type { Credentials, OAuth2AuthSpec } from '@businessos/connector-sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RuntimeLogger } from '../clock.ts';
import { createEgressClient } from '../egress/egress-client.ts';
import { createFakeClock } from '../testing/fake-clock.ts';
import { sendJson, startMockServer, type MockRequest } from '../testing/mock-server.ts';
import { generateMasterKey } from '../vault/master-key.ts';
import { createMemoryVaultStore } from '../vault/memory-store.ts';
import { createVault } from '../vault/vault.ts';
import { createMemoryLock, type Lock } from './lock.ts';
import { useRedisPair } from '../testing/redis-pair.ts';
import { createRedisLock } from './redis-lock.ts';
import { createTokenRefresher, type RefreshTarget } from './token-refresher.ts';

const CLIENT_SECRET = 'app-secret-s3cr3t-value';
const REFRESH_TOKEN = 'rt-0-very-secret-refresh';

// Each test sets how the token endpoint answers; the default issues numbered tokens.
let answer: (req: MockRequest, res: ServerResponse, n: number) => void | Promise<void>;
let server: Awaited<ReturnType<typeof startMockServer>>;
let calls = 0;
const issue = (res: ServerResponse, n: number, extra: Record<string, unknown> = {}) =>
  sendJson(res, 200, { access_token: `at-${n}`, refresh_token: `rt-${n}`, expires_in: 3600, ...extra });

beforeAll(async () => {
  server = await startMockServer(async (req, res) => {
    calls++;
    await answer(req, res, calls);
  });
});
afterAll(() => server?.close());
beforeEach(() => {
  calls = 0;
  server.requests.length = 0;
  answer = async (_req, res, n) => {
    await new Promise((r) => setTimeout(r, 20));
    issue(res, n);
  };
});

function setup(options: { lock?: Lock; lockTtlMs?: number; lockWaitMs?: number; realClock?: boolean } = {}) {
  const clock = options.realClock ? undefined : createFakeClock();
  const now = () => clock?.now() ?? Date.now();
  const store = createMemoryVaultStore();
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
  const target: RefreshTarget = { tenant: 't1', connectionId: 'c1', manifest: { name: 'acme', hosts: ['127.0.0.1'], auth }, fields: {} };
  const lock = options.lock ?? createMemoryLock(clock);
  const make = () => createTokenRefresher({
    vault: createVault({ store, masterKey, clock }), egress, connections, lock, platformConfig, clock, logger, skewMs: 60_000,
    lockTtlMs: options.lockTtlMs, lockWaitMs: options.lockWaitMs,
  });
  const stale: Credentials = { accessToken: 'at-0', refreshToken: REFRESH_TOKEN, expiresAt: now() - 1 };
  return { clock, now, vault, egress, marked, logs, target, make, stale, lock };
}

/** Everything a secret could escape through: the error, the needs_reauth reason, the log. */
function leaked(error: unknown, ...more: string[][]): string {
  const e = error as { message?: string; details?: unknown };
  return [e.message ?? String(error), JSON.stringify(e.details ?? null), ...more.flat()].join('\n');
}

describe('OAuth2 refresh against a hostile or broken token endpoint', () => {
  it('sends exactly one refresh for 50 concurrent executions on two workers sharing the lock', async () => {
    const { make, target, stale, vault } = setup();
    await vault.putCredentials('t1', 'c1', stale);
    const [w1, w2] = [make(), make()];
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? w1 : w2).ensureFresh(target, stale)));
    expect(server.requests).toHaveLength(1);
    expect(new Set(results.map((r) => r.accessToken))).toEqual(new Set(['at-1']));
    // Executions that still hold the expired token later get the stored one, without another refresh.
    expect((await make().ensureFresh(target, stale)).accessToken).toBe('at-1');
    expect(server.requests).toHaveLength(1);
  });

  it('fails a 500 as retryable without writing anything, and the next attempt refreshes', async () => {
    const { make, target, stale, vault, marked } = setup();
    await vault.putCredentials('t1', 'c1', stale);
    answer = (_req, res, n) => (n === 1 ? sendJson(res, 500, { error: 'server_error' }) : issue(res, n));
    const refresher = make();
    await expect(Promise.all(Array.from({ length: 10 }, () => refresher.ensureFresh(target, stale)))).rejects.toMatchObject({ code: 'UPSTREAM_ERROR' });
    expect(server.requests).toHaveLength(1);
    expect(await vault.getCredentials('t1', 'c1')).toEqual(stale);
    expect((await refresher.ensureFresh(target, stale)).accessToken).toBe('at-2');
    expect(marked).toEqual([]);
  });

  it('marks needs_reauth once on invalid_grant and never puts an echoed secret into the error, reason or log', async () => {
    const { make, target, stale, vault, marked, logs } = setup();
    await vault.putCredentials('t1', 'c1', stale);
    answer = (_req, res) => sendJson(res, 400, { error: 'invalid_grant', error_description: `refresh_token ${REFRESH_TOKEN} revoked for client_secret=${CLIENT_SECRET} ${'x'.repeat(100_000)}` });
    const refresher = make();
    const errors = await Promise.all(Array.from({ length: 20 }, () => refresher.ensureFresh(target, stale).then(() => undefined, (e: unknown) => e)));
    expect(server.requests).toHaveLength(1);
    expect(marked).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'AUTH_EXPIRED', message: expect.stringContaining('invalid_grant') });
    const text = leaked(errors[0], marked, logs);
    expect(text).not.toContain(CLIENT_SECRET);
    expect(text).not.toContain(REFRESH_TOKEN);
    expect((errors[0] as Error).message.length).toBeLessThan(2_000);
    expect(marked[0]!.length).toBeLessThan(2_000);
    expect(await vault.getCredentials('t1', 'c1')).toEqual(stale);
  });

  it('does not echo the client secret from an error code of another 4xx answer', async () => {
    const { make, target, stale, vault, marked } = setup();
    await vault.putCredentials('t1', 'c1', stale);
    answer = (_req, res) => sendJson(res, 401, { error: `bad client ${CLIENT_SECRET}` });
    const error = await make().ensureFresh(target, stale).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'AUTH_FAILED' });
    expect(leaked(error)).not.toContain(CLIENT_SECRET);
    expect(marked).toEqual([]);
  });

  it.each([
    ['no access_token', { refresh_token: 'rt-new', expires_in: 3600 }],
    ['an empty access_token', { access_token: '', refresh_token: 'rt-new', expires_in: 3600 }],
    ['a non-string access_token', { access_token: { value: 'x' }, refresh_token: 'rt-new' }],
    ['a 1 MiB access_token', { access_token: 'a'.repeat(1024 * 1024), refresh_token: 'rt-new' }],
  ])('refuses a 200 answer with %s and keeps the stored credentials whole', async (_what, body) => {
    const { make, target, stale, vault, marked } = setup();
    await vault.putCredentials('t1', 'c1', stale);
    answer = (_req, res) => sendJson(res, 200, body);
    const error = await make().ensureFresh(target, stale).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: expect.stringMatching(/^(AUTH_FAILED|UPSTREAM_ERROR)$/) });
    expect(await vault.getCredentials('t1', 'c1')).toEqual(stale);
    expect(marked).toEqual([]);
  });

  it('keeps the old refresh token when the answer omits it, and treats a non-numeric expires_in as unknown', async () => {
    const { make, target, stale, vault } = setup();
    await vault.putCredentials('t1', 'c1', stale);
    answer = (_req, res) => sendJson(res, 200, { access_token: 'at-new', expires_in: 'soon' });
    const fresh = await make().ensureFresh(target, stale);
    expect(fresh).toEqual({ accessToken: 'at-new', refreshToken: REFRESH_TOKEN });
    expect(await vault.getCredentials('t1', 'c1')).toEqual(fresh);
  });

  it('refuses an oversized answer without writing anything', async () => {
    const { make, target, stale, vault } = setup();
    await vault.putCredentials('t1', 'c1', stale);
    answer = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`{"access_token":"${'a'.repeat(11 * 1024 * 1024)}"}`);
    };
    await expect(make().ensureFresh(target, stale)).rejects.toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    expect(await vault.getCredentials('t1', 'c1')).toEqual(stale);
  });

  it('gives up on a token endpoint that never answers before the refresh lock expires', { timeout: 10_000 }, async () => {
    const { make, target, stale, vault } = setup({ realClock: true, lockTtlMs: 2_000, lockWaitMs: 5_000 });
    await vault.putCredentials('t1', 'c1', stale);
    let open = 0;
    let mostOpen = 0;
    // Never answers; the request ends only when the client gives up and closes the socket.
    answer = (_req, res) => {
      mostOpen = Math.max(mostOpen, ++open);
      res.on('close', () => open--);
    };
    const [w1, w2] = [make(), make()];
    const results = await Promise.allSettled([w1.ensureFresh(target, stale), w2.ensureFresh(target, stale)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'TIMEOUT' });
    // The holder gave up before its lease ran out, so the two workers never sent the same refresh token at once.
    expect(mostOpen).toBe(1);
    expect(await vault.getCredentials('t1', 'c1')).toEqual(stale);
  });

  it('refreshes at most once more after a 401 on a just-refreshed token, and not again for a token already replaced', async () => {
    const { make, target, stale, vault } = setup();
    await vault.putCredentials('t1', 'c1', stale);
    const refresher = make();
    const first = await refresher.ensureFresh(target, stale);
    expect(first.accessToken).toBe('at-1');
    // Provider clock skew: at-1 answered 401 right away.
    const second = await refresher.ensureFresh(target, first, { rejectedToken: 'at-1' });
    expect(second.accessToken).toBe('at-2');
    // Another request of the same wave, already holding at-2, reports the 401 it got for at-1.
    expect((await make().ensureFresh(target, second, { rejectedToken: 'at-1' })).accessToken).toBe('at-2');
    expect((await make().ensureFresh(target, first, { rejectedToken: 'at-1' })).accessToken).toBe('at-2');
    expect(server.requests).toHaveLength(2);
  });

  it('takes over from a lock holder that died mid-refresh once its lease expires', async () => {
    const { make, target, stale, vault, lock, clock } = setup({ lockTtlMs: 5_000, lockWaitMs: 20_000 });
    await vault.putCredentials('t1', 'c1', stale);
    const dead = await lock.tryAcquire('oauth-refresh:t1:c1', 5_000);
    expect(dead).toBeDefined();
    const fresh = await make().ensureFresh(target, stale);
    expect(fresh.accessToken).toBe('at-1');
    expect(server.requests).toHaveLength(1);
    // The dead holder coming back cannot release the lock someone else holds now.
    const current = await lock.tryAcquire('oauth-refresh:t1:c1', 5_000);
    expect(current).toBeDefined();
    clock!.advance(1);
    expect(await dead!.release()).toBe(false);
    expect(await lock.tryAcquire('oauth-refresh:t1:c1', 5_000)).toBeUndefined();
    expect(await current!.release()).toBe(true);
  });

  it.each([
    [307, 'another declared host', true],
    [308, 'another declared host', true],
    [307, 'the same host', false],
    [302, 'another declared host', true],
  ])('does not follow a %i redirect of the token endpoint to %s, so the secrets in the form body go nowhere else', async (status, _where, elsewhere) => {
    const { make, target, stale, vault, marked } = setup();
    await vault.putCredentials('t1', 'c1', stale);
    // A second server that would issue tokens for whatever it is sent: following the redirect would succeed.
    const other = await startMockServer((_req, res) => issue(res, 99));
    try {
      answer = (req, res) => {
        if (req.url.pathname === '/moved') return issue(res, 98);
        res.writeHead(status, { location: elsewhere ? `${other.origin}/oauth/token?from=redirect` : '/moved' });
        res.end();
      };
      const error = await make().ensureFresh(target, stale).catch((e: unknown) => e);
      expect(error).toMatchObject({
        code: 'AUTH_FAILED',
        upstreamStatus: status,
        message: expect.stringMatching(/token endpoint .*redirected.*not followed.*tokenUrl/),
      });
      expect(leaked(error)).not.toContain(CLIENT_SECRET);
      expect(other.requests).toHaveLength(0);
      expect(server.requests.map((r) => r.url.pathname)).toEqual(['/oauth/token']);
      expect(await vault.getCredentials('t1', 'c1')).toEqual(stale);
      // The OAuth app's configuration is at fault, not the tenant's grant: the connection is not marked.
      expect(marked).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

const redisUrl = process.env.REDIS_URL;
describe.skipIf(!redisUrl)('OAuth2 refresh across two runtimes on the Redis lock (real Redis)', () => {
  const pair = useRedisPair(redisUrl!);
  const { prefix } = pair;

  it('sends exactly one refresh for 50 concurrent executions split over two runtimes', async () => {
    const one = setup({ lock: createRedisLock({ redis: pair.a, prefix }), realClock: true, lockWaitMs: 10_000 });
    await one.vault.putCredentials('t1', 'c1', one.stale);
    const w1 = one.make();
    // The second runtime: its own refresher, vault instance and Redis client over the same store.
    const w2 = createTokenRefresher({
      vault: one.vault, egress: one.egress, connections: { markNeedsReauth: async () => undefined }, lock: createRedisLock({ redis: pair.b, prefix }),
      platformConfig: () => CLIENT_SECRET, lockWaitMs: 10_000,
    });
    answer = async (_req, res, n) => {
      await new Promise((r) => setTimeout(r, 100));
      issue(res, n);
    };
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? w1 : w2).ensureFresh(one.target, one.stale)));
    expect(server.requests).toHaveLength(1);
    expect(new Set(results.map((r) => r.accessToken))).toEqual(new Set(['at-1']));
  });
});
