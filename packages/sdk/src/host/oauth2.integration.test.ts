// The OAuth2 token and revocation calls against endpoints on loopback that answer with a redirect: the form carries
// the client secret and a code, verifier or token, so no redirect may be followed (a 307/308 would post it again).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OAuth2AuthSpec } from '../auth.ts';
import { OAuth2Auth } from '../auth.ts';
import { ConnectorError } from '../errors.ts';
import { clientCredentialsToken, exchangeCode, MAX_TOKEN_ANSWER_BYTES, refreshAccessToken, revokeToken } from './oauth2.ts';

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

let moved: Server;
let sink: Server;
let movedUrl: string;
let sinkUrl: string;
// What reached each server ("METHOD path?query"), and how the redirecting one answers (set per test).
const movedSeen: string[] = [];
const sinkSeen: string[] = [];
let answer: { status: number; location?: string } = { status: 307 };

beforeAll(async () => {
  // Where the redirects point: a token endpoint that would hand out a token, so following one would "work".
  sink = createServer((req, res) => {
    req.resume();
    sinkSeen.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: 'from-the-redirect-target', token_type: 'Bearer' }));
  });
  moved = createServer((req, res) => {
    req.resume();
    movedSeen.push(`${req.method} ${req.url}`);
    res.writeHead(answer.status, answer.location === undefined ? {} : { location: answer.location });
    res.end('moved');
  });
  [movedUrl, sinkUrl] = await Promise.all([listen(moved), listen(sink)]);
});

afterAll(async () => {
  await Promise.all([moved, sink].map((s) => new Promise((resolve) => s?.close(resolve))));
});

const spec = (): OAuth2AuthSpec =>
  new OAuth2Auth({
    clientId: 'cid',
    clientSecret: 'client-secret-value',
    authorizationUrl: `${movedUrl}/authorize`,
    tokenUrl: `${movedUrl}/token?tenant=query-secret`,
    refreshUrl: `${movedUrl}/refresh?tenant=query-secret`,
    revokeUrl: `${movedUrl}/revoke?tenant=query-secret`,
  }).toSpec();

const calls: [string, string, string, () => Promise<unknown>][] = [
  ['exchangeCode', 'tokenUrl', '/token', () => exchangeCode({ spec: spec(), code: 'the-code', redirectUri: 'https://app/cb', codeVerifier: 'the-verifier' })],
  ['refreshAccessToken', 'refreshUrl', '/refresh', () => refreshAccessToken({ spec: spec(), refreshToken: 'the-refresh-token' })],
  ['clientCredentialsToken', 'tokenUrl', '/token', () => clientCredentialsToken({ spec: spec() })],
  ['revokeToken', 'revokeUrl', '/revoke', () => revokeToken({ spec: spec(), token: 'the-refresh-token', tokenTypeHint: 'refresh_token' })],
];

async function failure(call: () => Promise<unknown>): Promise<ConnectorError> {
  const error: unknown = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConnectorError);
  return error as ConnectorError;
}

describe('OAuth2 token and revocation endpoints that redirect', () => {
  for (const [name, key, path, call] of calls) {
    it.each([301, 302, 303, 307, 308])(`${name} does not follow a %i and says which URL to set`, async (status) => {
      movedSeen.length = 0;
      sinkSeen.length = 0;
      answer = { status, location: `${sinkUrl}/final?via=redirect&code=leak` };
      const error = await failure(call);
      expect(sinkSeen).toEqual([]);
      expect(movedSeen).toEqual([`POST ${path}?tenant=query-secret`]);
      expect(error.code).toBe('AUTH_FAILED');
      expect(error.upstreamStatus).toBe(status);
      expect(error.message).toContain(`(${movedUrl}${path}) redirected with ${status} to ${sinkUrl}/final;`);
      expect(error.message).toContain(`Set the connector's ${key} to the endpoint's final URL`);
      for (const secret of ['query-secret', 'via=redirect', 'leak', 'client-secret-value', 'the-code', 'the-verifier', 'the-refresh-token']) {
        expect(error.message).not.toContain(secret);
      }
    });
  }

  it('resolves a relative Location against the endpoint and names a redirect without one', async () => {
    answer = { status: 308, location: '/v2/token?x=1' };
    expect((await failure(calls[0]![3])).message).toContain(`redirected with 308 to ${movedUrl}/v2/token;`);
    answer = { status: 307 };
    const error = await failure(calls[0]![3]);
    expect(error.message).toContain(`(${movedUrl}/token) redirected with 307; the redirect was not followed`);
    expect(error.upstreamStatus).toBe(307);
  });

  it('passes a ConnectorError of the given fetch through (a host policy refusing the address) and asks it not to follow redirects', async () => {
    const inits: RequestInit[] = [];
    const refusing: typeof fetch = (_input, init) => {
      inits.push(init ?? {});
      return Promise.reject(new ConnectorError('EGRESS_DENIED', 'Refusing connection to 10.0.0.1: private range'));
    };
    await expect(exchangeCode({ spec: spec(), code: 'c', redirectUri: 'https://app/cb', fetch: refusing })).rejects.toMatchObject({ code: 'EGRESS_DENIED', message: 'Refusing connection to 10.0.0.1: private range' });
    await expect(revokeToken({ spec: spec(), token: 't', fetch: refusing })).rejects.toMatchObject({ code: 'EGRESS_DENIED' });
    expect(inits.map((i) => i.redirect)).toEqual(['manual', 'manual']);
  });
});

describe('OAuth2 token endpoints that answer too much', () => {
  it('stop reading past 1 MiB, whether the answer says its length or streams without one', async () => {
    let sent = 0;
    const huge = createServer((req, res) => {
      req.resume();
      sent = 0;
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      if (req.url?.startsWith('/announced')) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(64 * 1024 * 1024) });
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"access_token":"');
      }
      // Writes on (64 MiB in all) for as long as the client reads.
      const pump = () => {
        while (sent < 64 * 1024 * 1024 && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const url = await listen(huge);
    try {
      for (const path of ['/announced', '/streamed']) {
        const big = new OAuth2Auth({ clientId: 'cid', clientSecret: 's', authorizationUrl: `${url}/authorize`, tokenUrl: `${url}${path}` }).toSpec();
        const error = await failure(() => clientCredentialsToken({ spec: big }));
        expect(error).toMatchObject({ code: 'UPSTREAM_ERROR', message: expect.stringContaining(`more than ${MAX_TOKEN_ANSWER_BYTES} bytes`) });
        expect(sent).toBeLessThan(16 * 1024 * 1024);
      }
      // An answer within the cap is read whole.
      const small = createServer((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ access_token: 'a'.repeat(100_000), token_type: 'Bearer' }));
      });
      const smallUrl = await listen(small);
      const ok = new OAuth2Auth({ clientId: 'cid', clientSecret: 's', authorizationUrl: `${smallUrl}/authorize`, tokenUrl: `${smallUrl}/token` }).toSpec();
      expect((await clientCredentialsToken({ spec: ok })).accessToken).toHaveLength(100_000);
      await new Promise((resolve) => small.close(resolve));
    } finally {
      huge.closeAllConnections();
      await new Promise((resolve) => huge.close(resolve));
    }
  });

  it('decode an answer within the cap as Response.text() would: a leading byte order mark is dropped, a character split across chunks kept whole', async () => {
    // Some token endpoints (.NET ones among them) start their JSON with a UTF-8 byte order mark, which JSON.parse refuses.
    const body = Buffer.from('\uFEFF{"access_token":"tok-é€😀","token_type":"Bearer"}', 'utf8');
    const split = body.indexOf(Buffer.from('€')) + 1;
    const bom = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(body.subarray(0, split));
      setTimeout(() => res.end(body.subarray(split)), 20);
    });
    const url = await listen(bom);
    try {
      const withBom = new OAuth2Auth({ clientId: 'cid', clientSecret: 's', authorizationUrl: `${url}/authorize`, tokenUrl: `${url}/token` }).toSpec();
      expect(await clientCredentialsToken({ spec: withBom })).toMatchObject({ accessToken: 'tok-é€😀', tokenType: 'Bearer' });
    } finally {
      await new Promise((resolve) => bom.close(resolve));
    }
  });
});

describe('OAuth2 token endpoints that break off their answer', () => {
  it('fail with NETWORK_ERROR naming the endpoint, not a raw stream error', async () => {
    const broken = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"access_token":"abc');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const url = await listen(broken);
    try {
      const spec = new OAuth2Auth({ clientId: 'cid', clientSecret: 's', authorizationUrl: `${url}/authorize`, tokenUrl: `${url}/token?secret=q` }).toSpec();
      const error = await failure(() => clientCredentialsToken({ spec }));
      expect(error).toMatchObject({ code: 'NETWORK_ERROR', message: expect.stringContaining(`Reading the answer of the token endpoint ${url}/token failed`) });
      expect(error.message).not.toContain('secret=q');
    } finally {
      broken.closeAllConnections();
      await new Promise((resolve) => broken.close(resolve));
    }
  });
});
