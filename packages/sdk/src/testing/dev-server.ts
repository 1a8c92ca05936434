// `bos-connector dev`: the simulator as a long-running process. A mock API answering from the package's
// fixtures, the local OAuth provider for OAuth2 connectors, and a small JSON console to run actions by hand.
import { randomBytes } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Credentials } from '../auth.ts';
import type { Connector } from '../connector.ts';
import { ConnectorError, errorStatus, toErrorData } from '../errors.ts';
import { secretValues } from '../host/apply-auth.ts';
import { buildAuthorizeUrl, createPkcePair, exchangeCode, type PlatformConfig } from '../host/oauth2.ts';
import type { Fixture } from './fixtures.ts';
import { createTestHarness, type TestHarness } from './harness.ts';
import { listenLoopback, readBody, sendJson, type LoopbackServer } from './http-util.ts';
import { loadFixtureFiles } from './mock-api.ts';
import { redactHeaders, redactSecrets } from './redact.ts';

export interface DevServerOptions {
  /** The connector to serve (its manifest decides the auth the mock API checks). */
  connector: Connector;
  /**
   * Port of the mock API on 127.0.0.1 (default 4010). The OAuth provider listens on `port + 1` and the console on
   * `port + 2`; pass 0 to let the system pick free ports for all three.
   */
  port?: number;
  /** Folder of `*.json` fixtures (the package's `fixtures/`); reloaded when a file changes. */
  fixturesDir?: string;
  /** Extra fixtures from code, tried before the folder's. */
  fixtures?: Fixture[];
  /** Connection fields (`{ shop: 'acme' }`); template fields default to test values. */
  fields?: Record<string, string>;
  /** Credentials to use instead of test values or the local OAuth dance. */
  credentials?: Credentials;
  config?: PlatformConfig;
  /** Reload fixtures when files in `fixturesDir` change (default true). */
  watch?: boolean;
  /** Where the banner and reload notices go (default: standard error). Pass `() => {}` to stay quiet. */
  print?: (line: string) => void;
}

/** The URLs a developer points things at. */
export interface DevServerUrls {
  /** The mock API: the connector's base URL is replaced by this. */
  api: string;
  /** JSON console: `GET /`, `POST /actions/<name>`, `POST /triggers/<name>/poll`, `GET /requests`, `GET /connect`. */
  console: string;
  /** OAuth2 endpoints of the local provider (OAuth2 connectors only). */
  authorize?: string;
  token?: string;
  revoke?: string;
}

/** A running dev server. The harness behind it is available as `server.harness` (not enumerable). */
export interface DevServer extends AsyncDisposable {
  urls: DevServerUrls;
  /** Runs an action like `harness.run`. */
  run(action: string, params?: unknown): Promise<unknown>;
  /** Re-reads `fixturesDir`; returns how many fixtures are loaded. */
  reloadFixtures(): Promise<number>;
  readonly harness: TestHarness;
  close(): Promise<void>;
}

const DEFAULT_PORT = 4010;

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ConnectorError('INVALID_INPUT', `The request body is not JSON: ${(error as Error).message}`);
  }
}

function sendError(res: ServerResponse, error: unknown): void {
  const data = toErrorData(error);
  sendJson(res, errorStatus(data.code), { ok: false, error: data });
}

/**
 * Starts the simulator for `bos-connector dev`: mock API (fixtures, auth checked like the real API), local OAuth2
 * provider (OAuth2 connectors) and a JSON console, all on 127.0.0.1, and prints their URLs.
 *
 * Console routes: `GET /` (summary), `GET /requests` (what reached the mock API, credentials redacted),
 * `POST /actions/<name>` with JSON params, `POST /triggers/<name>/poll` with `{ state }`, `POST /fixtures/reload`,
 * and for OAuth2 `GET /connect` (open it in a browser: it plays the authorization-code flow and stores the tokens).
 *
 * @example
 * const server = await startDevServer({ connector, fixturesDir: './fixtures', port: 4010 });
 * // curl -X POST http://127.0.0.1:4012/actions/createCustomer -d '{"email":"a@b.co"}'
 * await server.close();
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const base = options.port ?? DEFAULT_PORT;
  const next = (offset: number) => (base === 0 ? 0 : base + offset);
  const print = options.print ?? ((line: string) => process.stderr.write(`${line}\n`));
  const oauth2 = options.connector.manifest.auth.type === 'oauth2';

  // The console starts first: its URL is the OAuth redirect URI, so a browser can finish the dance there.
  let ready: { h: TestHarness; server: DevServer } | undefined = undefined;
  const pending = new Map<string, string>();
  const consoleHandler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!ready) return sendJson(res, 503, { ok: false, error: { code: 'INTERNAL', message: 'The dev server is still starting; retry in a moment' } });
    const { h, server } = ready;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    try {
      if (method === 'GET' && parts.length === 0) {
        const m = h.manifest;
        return sendJson(res, 200, {
          connector: { name: m.name, version: m.version, auth: m.auth.type },
          urls: server.urls,
          actions: m.actions.map((a) => ({ name: a.name, run: `POST ${server.urls.console}/actions/${a.name}` })),
          triggers: m.triggers.map((t) => ({ name: t.name, type: t.type })),
          fixtures: h.api.fixtures.length,
          connected: oauth2 ? Boolean(h.credentials?.accessToken) : true,
        });
      }
      if (method === 'GET' && parts[0] === 'requests' && parts.length === 1) {
        return sendJson(
          res,
          200,
          h.api.requests.map((r) => {
            const secrets = secretValues(h.credentials, Object.keys(h.manifest.auth.fields ?? {}));
            return { method: r.method, url: r.url, status: r.status, fixture: r.fixture ?? null, headers: redactHeaders(r.headers, secrets), body: redactSecrets(r.body, secrets) };
          }),
        );
      }
      if (method === 'POST' && parts[0] === 'actions' && parts.length === 2) {
        const output = await h.run(parts[1] as string, (await readJson(req)) ?? {});
        return sendJson(res, 200, { ok: true, output });
      }
      if (method === 'POST' && parts[0] === 'triggers' && parts[2] === 'poll' && parts.length === 3) {
        const body = (await readJson(req)) as { state?: unknown } | undefined;
        const result = await h.poll(parts[1] as string, body?.state);
        return sendJson(res, 200, { ok: true, ...result });
      }
      if (method === 'POST' && parts[0] === 'fixtures' && parts[1] === 'reload') {
        return sendJson(res, 200, { ok: true, fixtures: await server.reloadFixtures() });
      }
      if (method === 'GET' && parts[0] === 'connect' && oauth2 && h.manifest.auth.type === 'oauth2') {
        const spec = h.manifest.auth;
        if (!h.oauth) throw new ConnectorError('INVALID_INPUT', 'The dev server was started with credentials, so no local OAuth provider runs; restart it without credentials to connect');
        if (spec.grant === 'client_credentials') {
          const creds = await h.connect();
          return sendJson(res, 200, { ok: true, connected: true, scope: creds.scope ?? null });
        }
        const state = randomBytes(16).toString('base64url');
        const pkce = spec.pkce ? createPkcePair() : undefined;
        pending.set(state, pkce?.verifier ?? '');
        const location = buildAuthorizeUrl({ spec, redirectUri: h.redirectUri, state, codeChallenge: pkce?.challenge, fields: h.fields, config: h.config });
        res.writeHead(302, { location });
        return void res.end();
      }
      if (method === 'GET' && parts[0] === 'oauth' && parts[1] === 'callback' && h.manifest.auth.type === 'oauth2') {
        const state = url.searchParams.get('state') ?? '';
        const verifier = pending.get(state);
        pending.delete(state);
        const error = url.searchParams.get('error');
        if (error) throw new ConnectorError('AUTH_FAILED', `The provider refused: ${error} (${url.searchParams.get('error_description') ?? ''})`);
        if (verifier === undefined) throw new ConnectorError('AUTH_FAILED', 'Unknown or reused state; start again at /connect');
        const code = url.searchParams.get('code');
        if (!code) throw new ConnectorError('AUTH_FAILED', 'The provider redirected back without a code');
        const creds = await exchangeCode({ spec: h.manifest.auth, code, redirectUri: h.redirectUri, codeVerifier: verifier || undefined, fields: h.fields, config: h.config });
        h.setCredentials({ ...creds, ...(h.credentials?.fields ? { fields: h.credentials.fields } : {}) });
        return sendJson(res, 200, { ok: true, connected: true, scope: creds.scope ?? null, expiresAt: creds.expiresAt ?? null });
      }
      return sendJson(res, 404, {
        ok: false,
        error: { code: 'NOT_FOUND', message: `${method} ${url.pathname} is not a console route; try GET / for the list of actions and URLs` },
      });
    } catch (error) {
      return sendError(res, error);
    }
  };

  const consoleServer: LoopbackServer = await listenLoopback(consoleHandler, next(2), 'dev console');
  let h: TestHarness;
  try {
    h = await createTestHarness({
      connector: options.connector,
      fixtures: options.fixtures,
      fixturesDir: options.fixturesDir,
      fields: options.fields,
      credentials: options.credentials,
      config: options.config,
      port: next(0),
      ...(oauth2 && options.credentials === undefined ? { oauth: { port: next(1), redirectUri: `${consoleServer.url}/oauth/callback` } } : {}),
    });
  } catch (error) {
    await consoleServer.close();
    throw error;
  }

  let watcher: FSWatcher | undefined;
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      watcher?.close();
      await Promise.all([consoleServer.close(), h.close()]);
    })();
    return closed;
  };

  const urls: DevServerUrls = { api: h.api.url, console: consoleServer.url };
  if (h.oauth) {
    urls.authorize = h.oauth.authorizeUrl;
    urls.token = h.oauth.tokenUrl;
    urls.revoke = h.oauth.revokeUrl;
  }

  const server: DevServer = {
    urls,
    run: (action, params) => h.run(action, params),
    async reloadFixtures() {
      const fromFiles = options.fixturesDir ? await loadFixtureFiles(options.fixturesDir) : [];
      const list = [...(options.fixtures ?? []), ...fromFiles];
      h.api.replaceFixtures(list);
      return list.length;
    },
    harness: h,
    close,
    [Symbol.asyncDispose]: close,
  };
  // Not enumerable: callers that list the server's URL fields should not walk into the harness.
  Object.defineProperty(server, 'harness', { value: h, enumerable: false });
  ready = { h, server };

  if (options.fixturesDir && options.watch !== false) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      watcher = watch(options.fixturesDir, () => {
        clearTimeout(timer);
        // Editors write a file in several steps; reload once they are done.
        timer = setTimeout(() => {
          server.reloadFixtures().then(
            (n) => print(`fixtures reloaded: ${n}`),
            (error: unknown) => print(`fixtures not reloaded: ${(error as Error).message}`),
          );
        }, 150);
      });
      watcher.on('close', () => clearTimeout(timer));
    } catch (error) {
      print(`fixtures will not be watched: ${(error as Error).message}`);
    }
  }

  const m = options.connector.manifest;
  print(`${m.displayName} ${m.version} simulator`);
  print(`  mock API       ${urls.api}   (${h.api.fixtures.length} fixture(s)${options.fixturesDir ? ` from ${options.fixturesDir}` : ''})`);
  if (urls.authorize) {
    print(`  OAuth2         ${h.oauth?.url}   (client_id ${h.manifest.auth.type === 'oauth2' ? h.manifest.auth.clientId : ''})`);
    print(`  connect        ${urls.console}/connect   (open in a browser, or the first action connects)`);
  }
  print(`  console        ${urls.console}   (POST /actions/<name> with JSON params)`);
  return server;
}
