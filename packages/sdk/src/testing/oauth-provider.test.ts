import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createOAuthProvider, type OAuthProvider } from './oauth-provider.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
const VERIFIER = 'a'.repeat(20) + 'B'.repeat(20) + '-._~0123';
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');

let provider: OAuthProvider;

beforeEach(async () => {
  provider = await createOAuthProvider({
    clients: [
      { clientId: 'app', clientSecret: 's3cret', redirectUris: [REDIRECT] },
      { clientId: 'spa', redirectUris: [REDIRECT, 'http://127.0.0.1:9/other'] },
      { clientId: 'other', clientSecret: 'x', redirectUris: [REDIRECT] },
    ],
    scopes: ['read', 'write', 'admin'],
  });
});
afterEach(async () => {
  await provider.close();
});

async function authorize(params: Record<string, string>): Promise<{ status: number; location: URL | undefined; body: unknown }> {
  const res = await fetch(`${provider.authorizeUrl}?${new URLSearchParams(params)}`, { redirect: 'manual' });
  const location = res.headers.get('location');
  const text = await res.text();
  return { status: res.status, location: location ? new URL(location) : undefined, body: text ? (JSON.parse(text) as unknown) : undefined };
}

async function codeFor(extra: Record<string, string> = {}, clientId = 'app'): Promise<string> {
  const { location } = await authorize({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'read write', state: 'st', ...extra });
  const code = location?.searchParams.get('code');
  if (!code) throw new Error(`no code: ${location?.toString()}`);
  return code;
}

async function token(body: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(provider.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });

describe('authorization endpoint', () => {
  it('consents automatically and redirects back with a code and the state', async () => {
    const { status, location } = await authorize({ response_type: 'code', client_id: 'app', redirect_uri: REDIRECT, state: 'xyz', scope: 'read' });
    expect(status).toBe(302);
    expect(`${location?.origin}${location?.pathname}`).toBe(REDIRECT);
    expect(location?.searchParams.get('state')).toBe('xyz');
    expect(location?.searchParams.get('code')).toMatch(/^mac_/);
    expect(location?.searchParams.get('iss')).toBe(provider.url);
  });

  it('does not redirect for an unknown client or an unregistered redirect_uri (RFC 6749 §4.1.2.1)', async () => {
    const unknown = await authorize({ response_type: 'code', client_id: 'nobody', redirect_uri: REDIRECT });
    expect(unknown.status).toBe(400);
    expect(unknown.location).toBeUndefined();
    expect(unknown.body).toMatchObject({ error: 'invalid_client', error_description: expect.stringContaining('nobody') as unknown });
    const badRedirect = await authorize({ response_type: 'code', client_id: 'app', redirect_uri: 'https://evil.test/cb' });
    expect(badRedirect.status).toBe(400);
    expect(badRedirect.location).toBeUndefined();
    expect(badRedirect.body).toMatchObject({ error: 'invalid_request' });
  });

  it('redirects errors the client can handle: unsupported response_type, unknown scope', async () => {
    const implicit = await authorize({ response_type: 'token', client_id: 'app', redirect_uri: REDIRECT, state: 's1' });
    expect(implicit.status).toBe(302);
    expect(implicit.location?.searchParams.get('error')).toBe('unsupported_response_type');
    expect(implicit.location?.searchParams.get('state')).toBe('s1');
    const scope = await authorize({ response_type: 'code', client_id: 'app', redirect_uri: REDIRECT, scope: 'read delete_everything' });
    expect(scope.location?.searchParams.get('error')).toBe('invalid_scope');
  });

  it('requires PKCE from public clients', async () => {
    const res = await authorize({ response_type: 'code', client_id: 'spa', redirect_uri: REDIRECT });
    expect(res.location?.searchParams.get('error')).toBe('invalid_request');
    expect(res.location?.searchParams.get('error_description')).toContain('PKCE');
  });

  it('needs redirect_uri when the client registered several', async () => {
    const res = await authorize({ response_type: 'code', client_id: 'spa', code_challenge: CHALLENGE, code_challenge_method: 'S256' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request' });
  });
});

describe('token endpoint: authorization_code', () => {
  it('exchanges a code once; a replay is invalid_grant and revokes what the code produced', async () => {
    const code = await codeFor();
    const first = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: 'app', client_secret: 's3cret' });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'read write' });
    expect(first.headers.get('cache-control')).toBe('no-store');
    const access = first.body.access_token as string;
    expect(provider.verify(access)).toMatchObject({ active: true, kind: 'access', clientId: 'app', scope: 'read write' });

    const replay = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: 'app', client_secret: 's3cret' });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
    expect(replay.body.error_description).toContain('already used');
    expect(provider.verify(access)).toEqual({ active: false, reason: 'revoked' });
  });

  it('checks the PKCE S256 verifier for real', async () => {
    const code = await codeFor({ code_challenge: CHALLENGE, code_challenge_method: 'S256' }, 'spa');
    const wrong = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: 'spa', code_verifier: 'x'.repeat(43) });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('PKCE') as unknown });
    // A failed attempt burns the code: the right verifier cannot use it afterwards.
    const after = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: 'spa', code_verifier: VERIFIER });
    expect(after.body.error).toBe('invalid_grant');

    const fresh = await codeFor({ code_challenge: CHALLENGE, code_challenge_method: 'S256' }, 'spa');
    const right = await token({ grant_type: 'authorization_code', code: fresh, redirect_uri: REDIRECT, client_id: 'spa', code_verifier: VERIFIER });
    expect(right.status).toBe(200);
    expect(right.body.access_token).toMatch(/^mat_/);
  });

  it('checks plain PKCE and a missing verifier', async () => {
    const plain = await codeFor({ code_challenge: VERIFIER, code_challenge_method: 'plain' });
    const wrong = await token({ grant_type: 'authorization_code', code: plain, redirect_uri: REDIRECT, code_verifier: CHALLENGE }, basic('app', 's3cret'));
    expect(wrong.body.error).toBe('invalid_grant');
    const plain2 = await codeFor({ code_challenge: VERIFIER, code_challenge_method: 'plain' });
    const ok = await token({ grant_type: 'authorization_code', code: plain2, redirect_uri: REDIRECT, code_verifier: VERIFIER }, basic('app', 's3cret'));
    expect(ok.status).toBe(200);
    const s256 = await codeFor({ code_challenge: CHALLENGE, code_challenge_method: 'S256' });
    const missing = await token({ grant_type: 'authorization_code', code: s256, redirect_uri: REDIRECT }, basic('app', 's3cret'));
    expect(missing.body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('code_verifier') as unknown });
  });

  it('refuses a verifier when no challenge was sent, a different redirect_uri, and expired codes', async () => {
    const c1 = await codeFor();
    expect((await token({ grant_type: 'authorization_code', code: c1, redirect_uri: REDIRECT, code_verifier: VERIFIER }, basic('app', 's3cret'))).body.error).toBe('invalid_grant');
    const c2 = await codeFor();
    expect((await token({ grant_type: 'authorization_code', code: c2, redirect_uri: 'http://127.0.0.1:9/other' }, basic('app', 's3cret'))).body.error).toBe('invalid_grant');
    const c3 = await codeFor();
    provider.advanceTime(61);
    const expired = await token({ grant_type: 'authorization_code', code: c3, redirect_uri: REDIRECT }, basic('app', 's3cret'));
    expect(expired.body).toMatchObject({ error: 'invalid_grant', error_description: expect.stringContaining('expired') as unknown });
  });

  it('refuses a code issued to another client', async () => {
    const code = await codeFor();
    const res = await token({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT }, basic('other', 'x'));
    expect(res.body.error).toBe('invalid_grant');
  });
});

describe('client authentication', () => {
  it('accepts HTTP Basic or body credentials and answers 401 invalid_client otherwise', async () => {
    const wrongBasic = await token({ grant_type: 'client_credentials' }, basic('app', 'nope'));
    expect(wrongBasic.status).toBe(401);
    expect(wrongBasic.body.error).toBe('invalid_client');
    expect(wrongBasic.headers.get('www-authenticate')).toContain('Basic');
    const wrongBody = await token({ grant_type: 'client_credentials', client_id: 'app', client_secret: 'nope' });
    expect(wrongBody.status).toBe(401);
    const none = await token({ grant_type: 'client_credentials' });
    expect(none.body.error).toBe('invalid_client');
    const both = await token({ grant_type: 'client_credentials', client_secret: 's3cret' }, basic('app', 's3cret'));
    expect(both.body.error).toBe('invalid_request');
  });
});

describe('token endpoint: refresh_token and client_credentials', () => {
  it('refreshes with rotation: the old refresh token stops working', async () => {
    const issued = provider.issueTokens({ clientId: 'app', scope: 'read write' });
    const refreshed = await token({ grant_type: 'refresh_token', refresh_token: issued.refresh_token as string }, basic('app', 's3cret'));
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).not.toBe(issued.refresh_token);
    expect(refreshed.body.access_token).not.toBe(issued.access_token);
    const again = await token({ grant_type: 'refresh_token', refresh_token: issued.refresh_token as string }, basic('app', 's3cret'));
    expect(again.body.error).toBe('invalid_grant');
  });

  it('refreshes without rotation when configured, and narrows but never widens scope', async () => {
    await using p = await createOAuthProvider({ clients: [{ clientId: 'c', clientSecret: 's', redirectUris: [REDIRECT] }], rotateRefreshTokens: false });
    const issued = p.issueTokens({ clientId: 'c', scope: ['read', 'write'] });
    const post = (body: Record<string, string>) =>
      fetch(p.tokenUrl, { method: 'POST', body: new URLSearchParams({ client_id: 'c', client_secret: 's', grant_type: 'refresh_token', refresh_token: issued.refresh_token as string, ...body }) }).then(
        async (r) => (await r.json()) as Record<string, unknown>,
      );
    const narrow = await post({ scope: 'read' });
    expect(narrow).toMatchObject({ scope: 'read', refresh_token: issued.refresh_token });
    expect(await post({ scope: 'read admin' })).toMatchObject({ error: 'invalid_scope' });
  });

  it('reads and writes comma-separated scopes when configured (Shopify, Slack)', async () => {
    await using p = await createOAuthProvider({ clients: [{ clientId: 'c', clientSecret: 's', redirectUris: [REDIRECT] }], scopes: ['read_orders', 'write_orders'], scopeSeparator: ',' });
    const res = await fetch(p.tokenUrl, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'c', client_secret: 's', scope: 'read_orders,write_orders' }) });
    const body = (await res.json()) as { scope: string; access_token: string };
    expect(body.scope).toBe('read_orders,write_orders');
    expect(p.verify(body.access_token)).toMatchObject({ active: true, scope: 'read_orders,write_orders' });
    expect(p.issued[0]?.scope).toBe('read_orders,write_orders');
  });

  it('issues client-credentials tokens only to confidential clients, without refresh tokens', async () => {
    const ok = await token({ grant_type: 'client_credentials', scope: 'read' }, basic('app', 's3cret'));
    expect(ok.status).toBe(200);
    expect(ok.body.refresh_token).toBeUndefined();
    expect(ok.body.scope).toBe('read');
    const pub = await token({ grant_type: 'client_credentials', client_id: 'spa' });
    expect(pub.body.error).toBe('unauthorized_client');
    const unknownGrant = await token({ grant_type: 'password', username: 'u', password: 'p' }, basic('app', 's3cret'));
    expect(unknownGrant.body.error).toBe('unsupported_grant_type');
  });
});

describe('revocation and introspection', () => {
  const post = (url: string, body: Record<string, string>, id = 'app', secret = 's3cret') =>
    fetch(url, { method: 'POST', headers: basic(id, secret), body: new URLSearchParams(body) });

  it('revokes a refresh token together with its access tokens (RFC 7009)', async () => {
    const issued = provider.issueTokens({ clientId: 'app', scope: 'read' });
    const res = await post(provider.revokeUrl, { token: issued.refresh_token as string, token_type_hint: 'refresh_token' });
    expect(res.status).toBe(200);
    expect(provider.verify(issued.refresh_token as string)).toEqual({ active: false, reason: 'revoked' });
    expect(provider.verify(issued.access_token)).toEqual({ active: false, reason: 'revoked' });
  });

  it('answers 200 for unknown tokens and refuses tokens of other clients', async () => {
    expect((await post(provider.revokeUrl, { token: 'never-issued' })).status).toBe(200);
    const issued = provider.issueTokens({ clientId: 'app' });
    const foreign = await post(provider.revokeUrl, { token: issued.access_token }, 'other', 'x');
    expect(foreign.status).toBe(400);
    expect(provider.verify(issued.access_token).active).toBe(true);
  });

  it('introspects tokens for their own client', async () => {
    const issued = provider.issueTokens({ clientId: 'app', scope: 'read' });
    const mine = (await (await post(provider.introspectUrl, { token: issued.access_token })).json()) as Record<string, unknown>;
    expect(mine).toMatchObject({ active: true, scope: 'read', client_id: 'app', sub: 'user-1', token_type: 'Bearer' });
    const theirs = (await (await post(provider.introspectUrl, { token: issued.access_token }, 'other', 'x')).json()) as Record<string, unknown>;
    expect(theirs).toEqual({ active: false });
  });

  it('answers 405 to the wrong method and 404 to unknown paths', async () => {
    const get = await fetch(provider.tokenUrl);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await fetch(`${provider.url}/nope`)).status).toBe(404);
  });

  it('publishes RFC 8414 metadata', async () => {
    const meta = (await (await fetch(provider.metadataUrl)).json()) as Record<string, unknown>;
    expect(meta).toMatchObject({ issuer: provider.url, token_endpoint: provider.tokenUrl, code_challenge_methods_supported: ['S256', 'plain'] });
  });

  it('expires access tokens on the provider clock', async () => {
    const issued = provider.issueTokens({ clientId: 'app' });
    provider.advanceTime(3599);
    expect(provider.verify(issued.access_token).active).toBe(true);
    provider.advanceTime(1);
    expect(provider.verify(issued.access_token)).toEqual({ active: false, reason: 'expired' });
    expect(provider.verify('mat_unknown')).toEqual({ active: false, reason: 'unknown' });
  });
});
