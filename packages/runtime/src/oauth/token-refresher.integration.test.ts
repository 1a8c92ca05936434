import type { OAuth2AuthSpec } from '@businessos/connector-sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEgressClient } from '../egress/egress-client.ts';
import { createFakeClock } from '../testing/fake-clock.ts';
import { sendJson, startMockServer } from '../testing/mock-server.ts';
import { createMemoryVaultStore } from '../vault/memory-store.ts';
import { generateMasterKey } from '../vault/master-key.ts';
import { createVault } from '../vault/vault.ts';
import { createMemoryLock } from './lock.ts';
import { createTokenRefresher, type RefreshTarget } from './token-refresher.ts';

// Loopback HTTP: a mock OAuth2 token endpoint on 127.0.0.1.
let server: Awaited<ReturnType<typeof startMockServer>>;
let mode: 'ok' | 'invalid_grant' | 'down' = 'ok';
let issued = 0;

beforeAll(async () => {
  server = await startMockServer(async (req, res) => {
    if (mode === 'invalid_grant') return sendJson(res, 400, { error: 'invalid_grant', error_description: 'Token revoked' });
    if (mode === 'down') return sendJson(res, 503, { error: 'unavailable' });
    issued++;
    await new Promise((r) => setTimeout(r, 20)); // keep refreshes overlapping
    sendJson(res, 200, { access_token: `at-${issued}`, refresh_token: `rt-${issued}`, expires_in: 3600, token_type: 'bearer' });
  });
});
afterAll(() => server?.close());
beforeEach(() => {
  mode = 'ok';
  issued = 0;
  server.requests.length = 0;
});

function setup(extra: Partial<OAuth2AuthSpec> = {}) {
  const clock = createFakeClock();
  const store = createMemoryVaultStore();
  const masterKey = generateMasterKey();
  const vault = createVault({ store, masterKey, clock });
  const egress = createEgressClient({ allowLoopback: true });
  const marked: { tenant: string; connectionId: string; reason: string }[] = [];
  const connections = { markNeedsReauth: async (tenant: string, connectionId: string, reason: string) => { marked.push({ tenant, connectionId, reason }); } };
  const platformConfig = (connector: string, key: string) => ({ client_id: `${connector}-client`, client_secret: 'app-secret-123' } as Record<string, string>)[key];
  const auth: OAuth2AuthSpec = { type: 'oauth2', grant: 'authorization_code', tokenUrl: `${server.origin}/oauth/token`, clientId: 'config.client_id', clientSecret: 'config.client_secret', scopes: ['read'], scopeSeparator: ' ', pkce: true, ...extra };
  const target: RefreshTarget = { tenant: 't1', connectionId: 'c1', manifest: { name: 'acme', hosts: ['127.0.0.1'], auth }, fields: {} };
  const lock = createMemoryLock(clock);
  const make = () => createTokenRefresher({ vault: createVault({ store, masterKey, clock }), egress, connections, lock, platformConfig, clock, skewMs: 60_000 });
  return { clock, vault, egress, marked, target, make, refresher: make() };
}

describe('OAuth2 token refresh (loopback token endpoint)', () => {
  it('keeps a token that is not about to expire', async () => {
    const { refresher, target, clock } = setup();
    const current = { accessToken: 'at-0', refreshToken: 'rt-0', expiresAt: clock.now() + 10 * 60_000 };
    expect(await refresher.ensureFresh(target, current)).toBe(current);
    expect(server.requests).toHaveLength(0);
  });

  it('refreshes within the skew, sends client credentials from platform config, and stores the new tokens encrypted', async () => {
    const { refresher, target, clock, vault } = setup();
    await vault.putCredentials('t1', 'c1', { accessToken: 'at-0', refreshToken: 'rt-0', expiresAt: clock.now() + 30_000 });
    const fresh = await refresher.ensureFresh(target, (await vault.getCredentials('t1', 'c1'))!);
    expect(fresh).toMatchObject({ accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: clock.now() + 3_600_000 });
    expect(await vault.getCredentials('t1', 'c1')).toEqual(fresh);
    const form = new URLSearchParams(server.requests[0]!.body);
    expect(Object.fromEntries(form)).toEqual({ grant_type: 'refresh_token', refresh_token: 'rt-0', client_id: 'acme-client', client_secret: 'app-secret-123' });
  });

  it('is single-flight within a process and across refreshers sharing a lock', async () => {
    const { refresher, make, target, clock, vault } = setup();
    const stale = { accessToken: 'at-0', refreshToken: 'rt-0', expiresAt: clock.now() - 1 };
    await vault.putCredentials('t1', 'c1', stale);
    const other = make(); // a second worker process: its own in-flight map, same lock and store
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => refresher.ensureFresh(target, stale)),
      ...Array.from({ length: 5 }, () => other.ensureFresh(target, stale)),
    ]);
    expect(server.requests).toHaveLength(1);
    expect(new Set(results.map((r) => r.accessToken))).toEqual(new Set(['at-1']));
  });

  it('forces a refresh after a 401 unless another worker already replaced the token', async () => {
    const { refresher, target, clock, vault } = setup();
    const current = { accessToken: 'at-0', refreshToken: 'rt-0', expiresAt: clock.now() + 3_600_000 };
    await vault.putCredentials('t1', 'c1', current);
    const fresh = await refresher.ensureFresh(target, current, { rejectedToken: 'at-0' });
    expect(fresh.accessToken).toBe('at-1');
    // A worker still holding at-0 gets the token already stored, without a second refresh.
    const again = await refresher.ensureFresh(target, current, { rejectedToken: 'at-0' });
    expect(again.accessToken).toBe('at-1');
    expect(server.requests).toHaveLength(1);
  });

  it('marks the connection for re-authorisation on invalid_grant', async () => {
    const { refresher, target, clock, vault, marked } = setup();
    const stale = { accessToken: 'at-0', refreshToken: 'rt-0', expiresAt: clock.now() - 1 };
    await vault.putCredentials('t1', 'c1', stale);
    mode = 'invalid_grant';
    await expect(refresher.ensureFresh(target, stale)).rejects.toMatchObject({ code: 'AUTH_EXPIRED', message: expect.stringContaining('Token revoked') });
    expect(marked).toEqual([{ tenant: 't1', connectionId: 'c1', reason: expect.stringContaining('invalid_grant') }]);
  });

  it('does not mark the connection when the provider is down', async () => {
    const { refresher, target, clock, vault, marked } = setup();
    const stale = { accessToken: 'at-0', refreshToken: 'rt-0', expiresAt: clock.now() - 1 };
    await vault.putCredentials('t1', 'c1', stale);
    mode = 'down';
    await expect(refresher.ensureFresh(target, stale)).rejects.toMatchObject({ code: 'UPSTREAM_ERROR', upstreamStatus: 503 });
    expect(marked).toEqual([]);
    expect((await vault.getCredentials('t1', 'c1'))!.accessToken).toBe('at-0');
  });

  it('uses client_credentials with HTTP basic client auth', async () => {
    const { refresher, target, clock } = setup({ grant: 'client_credentials', clientAuth: 'basic', clientId: 'literal-id', clientSecret: 'literal-secret' });
    const fresh = await refresher.ensureFresh(target, { expiresAt: clock.now() - 1 });
    expect(fresh.accessToken).toBe('at-1');
    const req = server.requests[0]!;
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from('literal-id:literal-secret').toString('base64')}`);
    expect(Object.fromEntries(new URLSearchParams(req.body))).toEqual({ grant_type: 'client_credentials', scope: 'read' });
  });

  it('fails clearly when platform config lacks the client id', async () => {
    const { refresher, target, clock } = setup({ clientId: 'config.missing_id' });
    await expect(refresher.ensureFresh(target, { accessToken: 'a', refreshToken: 'r', expiresAt: clock.now() - 1 })).rejects.toMatchObject({
      code: 'INTERNAL',
      message: expect.stringContaining('missing_id'),
    });
  });
});
