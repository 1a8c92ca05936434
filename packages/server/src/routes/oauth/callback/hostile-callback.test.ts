// GET /oauth/callback attacked the way a hostile caller would: states reused, raced, tampered, expired, moved between
// tenants or flows, codes injected across flows, parameters oversized. Every failure must be problem+json and must not
// exchange the code: a code the service did not present to the provider still works once, with its own state.
import { randomBytes } from 'node:crypto';
import type { OAuthProvider } from '@businessos/connector-sdk/testing';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signState, stateKey, verifyState } from '../../../installations/setup.ts';
import type { TestApp } from '../../../test-app.ts';
import { startOAuthCrm } from '../../../test-oauth-crm.ts';

let t: TestApp;
let provider: OAuthProvider;

beforeAll(async () => {
  ({ t, provider } = await startOAuthCrm());
});

afterAll(async () => {
  await t?.close();
  await provider?.close();
});

interface Flow {
  key: string;
  tenantId: string;
  state: string;
  /** The code the provider sent back for this flow's consent. */
  code: string;
}

/** Starts an install as a tenant and plays the browser at the provider: the state and the code it came back with. */
async function startFlow(tenant?: { key: string; tenantId: string }): Promise<Flow> {
  const who = tenant ?? (await t.createTenant());
  const installed = await t.as(who.key, { method: 'POST', url: '/marketplace/install/crm', payload: { connectionName: 'CRM' } });
  expect(installed.statusCode, installed.body).toBeLessThan(300);
  const { setup } = installed.json() as { setup: { authorizeUrl: string; state: string } };
  const consent = await fetch(setup.authorizeUrl, { redirect: 'manual' });
  const back = new URL(consent.headers.get('location')!);
  expect(back.searchParams.get('state')).toBe(setup.state);
  return { key: who.key, tenantId: who.tenantId, state: setup.state, code: back.searchParams.get('code')! };
}

const callback = (params: Record<string, string>) => t.app.inject({ url: `/oauth/callback?${new URLSearchParams(params).toString()}` });
const connections = async (key: string) => ((await t.as(key, { url: '/connections' })).json() as { items: { id: string }[] }).items;

function expectProblem(res: LightMyRequestResponse, status: number, match: Record<string, unknown>) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toContain('application/problem+json');
  expect(res.json()).toMatchObject(match);
}

/** The flow still completes with its own state and code: proof that nothing before spent either of them. */
async function expectStillCompletes(flow: Flow) {
  const issuedBefore = provider.issued.length;
  const res = await callback({ state: flow.state, code: flow.code });
  expect(res.statusCode, res.body).toBe(200);
  expect(provider.issued.length).toBe(issuedBefore + 1);
  expect(await connections(flow.key)).toHaveLength(1);
}

describe('OAuth callback under attack', () => {
  it('refuses tampered, truncated, foreign-key and garbage states as invalid, without spending the code or the real state', async () => {
    const flow = await startFlow();
    const [id, mac] = [flow.state.slice(0, flow.state.lastIndexOf('.')), flow.state.slice(flow.state.lastIndexOf('.') + 1)];
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const foreignKey = stateKey(randomBytes(32));
    const other = await startFlow();
    const otherId = other.state.slice(0, other.state.lastIndexOf('.'));
    const forged = [
      `${id}.${flip(mac, 0)}`,
      `${id}.${flip(mac, mac.length - 1)}`,
      `${flip(id, 0)}.${mac}`,
      `${id}.${mac.slice(0, -1)}`,
      `${id}.${mac}A`,
      `${id}.${mac}=`,
      `${id}.${Buffer.from(mac, 'base64url').toString('hex')}`,
      `${otherId}.${mac}`,
      id,
      `.${mac}`,
      '.',
      signState(id, foreignKey),
      `${flow.state}.${mac}`,
      'garbage',
      'é'.repeat(40),
    ];
    for (const state of forged) {
      const res = await callback({ state, code: flow.code });
      expectProblem(res, 400, { code: 'INVALID_INPUT', type: expect.stringContaining('oauth-state-invalid') });
    }
    expect(await connections(flow.key)).toEqual([]);
    await expectStillCompletes(flow);
  });

  it('lets exactly one of two racing callbacks with the same state through', async () => {
    const flow = await startFlow();
    const results = await Promise.all([callback({ state: flow.state, code: flow.code }), callback({ state: flow.state, code: flow.code })]);
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 400]);
    expectProblem(results.find((r) => r.statusCode === 400)!, 400, { type: expect.stringContaining('oauth-state-used') });
    expect(await connections(flow.key)).toHaveLength(1);
  });

  it('refuses an expired state before exchanging anything, and spends it', async () => {
    const flow = await startFlow();
    const id = verifyState(flow.state, stateKey(t.config.masterKey!))!;
    await t.store.db.query("UPDATE connectors.oauth_states SET expires_at = now() - interval '1 second' WHERE id = $1", [id]);
    const issuedBefore = provider.issued.length;
    expectProblem(await callback({ state: flow.state, code: flow.code }), 400, { type: expect.stringContaining('oauth-state-expired'), detail: expect.stringContaining('start again') });
    expectProblem(await callback({ state: flow.state, code: flow.code }), 400, { type: expect.stringContaining('oauth-state-used') });
    expect(provider.issued.length).toBe(issuedBefore);
    expect(await connections(flow.key)).toEqual([]);
  });

  it('refuses a code from another tenant\'s flow (code injection): the PKCE verifier does not match', async () => {
    const victim = await startFlow();
    const attacker = await startFlow();
    const res = await callback({ state: attacker.state, code: victim.code });
    // The provider answers invalid_grant, which the SDK reports as AUTH_EXPIRED: the tenant has to start again.
    expectProblem(res, 401, { code: 'AUTH_EXPIRED', type: expect.stringContaining('oauth-exchange-failed'), detail: expect.stringMatching(/code_verifier|PKCE/) });
    expect(await connections(attacker.key)).toEqual([]);
    expect(await connections(victim.key)).toEqual([]);
    // The attacker's own flow is spent; the stolen code is burnt at the provider, so it cannot be redeemed later either.
    expectProblem(await callback({ state: attacker.state, code: attacker.code }), 400, { type: expect.stringContaining('oauth-state-used') });
    expectProblem(await callback({ state: victim.state, code: victim.code }), 401, { type: expect.stringContaining('oauth-exchange-failed') });
    expect(await connections(victim.key)).toEqual([]);
  });

  it('refuses a code whose flow in the same tenant used another PKCE pair', async () => {
    const first = await startFlow();
    const second = await startFlow({ key: first.key, tenantId: first.tenantId });
    expectProblem(await callback({ state: second.state, code: first.code }), 401, { type: expect.stringContaining('oauth-exchange-failed') });
    expect(await connections(first.key)).toEqual([]);
  });

  it('refuses a stored verifier that does not match the challenge sent to the provider', async () => {
    const flow = await startFlow();
    const id = verifyState(flow.state, stateKey(t.config.masterKey!))!;
    await t.store.db.query('UPDATE connectors.oauth_states SET code_verifier = $2 WHERE id = $1', [id, randomBytes(32).toString('base64url')]);
    expectProblem(await callback({ state: flow.state, code: flow.code }), 401, { type: expect.stringContaining('oauth-exchange-failed'), detail: expect.stringContaining('PKCE') });
    expect(await connections(flow.key)).toEqual([]);
  });

  it('refuses a missing code, and an error sent along with a code, without any token exchange', async () => {
    const noCode = await startFlow();
    const issuedBefore = provider.issued.length;
    expectProblem(await callback({ state: noCode.state }), 400, { code: 'INVALID_INPUT', errors: [{ path: '/code', in: 'querystring' }] });
    expectProblem(await callback({ state: noCode.state, code: noCode.code }), 400, { type: expect.stringContaining('oauth-state-used') });

    const denied = await startFlow();
    expectProblem(await callback({ state: denied.state, code: denied.code, error: 'access_denied', error_description: 'The user denied access' }), 401, {
      code: 'AUTH_FAILED',
      type: expect.stringContaining('oauth-denied'),
      detail: expect.stringContaining('access_denied'),
    });
    expect(provider.issued.length).toBe(issuedBefore);
    expect(await connections(noCode.key)).toEqual([]);
    expect(await connections(denied.key)).toEqual([]);
  });

  it('refuses oversized or repeated parameters as invalid input, before spending the state', async () => {
    const flow = await startFlow();
    const oversized: Record<string, string>[] = [
      { state: `${flow.state}${'A'.repeat(600)}`, code: flow.code },
      { state: flow.state, code: 'c'.repeat(4097) },
      { state: flow.state, code: flow.code, error: 'e'.repeat(201) },
      { state: flow.state, error: 'access_denied', error_description: 'd'.repeat(2001) },
    ];
    for (const params of oversized) {
      const res = await callback(params);
      expectProblem(res, 400, { code: 'INVALID_INPUT', errors: [{ in: 'querystring' }] });
    }
    const repeated = await t.app.inject({ url: `/oauth/callback?state=${encodeURIComponent(flow.state)}&state=${encodeURIComponent(flow.state)}&code=${encodeURIComponent(flow.code)}` });
    expectProblem(repeated, 400, { code: 'INVALID_INPUT' });
    await expectStillCompletes(flow);
  });
});
