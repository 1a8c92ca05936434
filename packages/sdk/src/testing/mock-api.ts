// The mock provider API: answers from fixtures, records every call, checks credentials the way the real
// API would (static keys or tokens issued by the local OAuth provider) and can record a real API into fixtures.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, relative } from 'node:path';
import { ConnectorError } from '../errors.ts';
import { matchFixture, parseFixtures, renderTemplate, type Fixture, type FixtureRequest, type FixtureResponse, type TemplateScope } from './fixtures.ts';
import { flatHeaders, listenLoopback, parseBody, queryObject, readBody, sendJson } from './http-util.ts';
import type { OAuthProvider } from './oauth-provider.ts';
import { isSecretKey, isSecretValue, redactHeaders, redactQuery, redactSecrets } from './redact.ts';

/** How the mock API checks the credentials the host added. Without it, every request is let through. */
export type MockApiAuth =
  | { type: 'bearer'; token: string | string[] }
  | { type: 'api_key'; in?: 'header' | 'query'; name: string; value: string; prefix?: string }
  | { type: 'basic'; username: string; password: string }
  | {
      /** Accept only live access tokens issued by the local OAuth provider (expired, revoked or unknown ones get 401). */
      type: 'oauth2-provider';
      provider: Pick<OAuthProvider, 'verify'>;
      /** Scopes every request needs; a token without them gets 403 `insufficient_scope`. */
      requiredScopes?: string[];
      /** Where the token is sent; default `Authorization: Bearer <token>`. */
      header?: { name: string; prefix: string };
    };

/** Recording: unmatched requests go to a real API and the exchange is saved as a fixture. */
export interface RecordOptions {
  /** Origin (and optional path prefix) of the API to record, e.g. `https://api.example.com`. */
  target: string;
  /** JSON file the recorded fixtures are appended to (created if missing). */
  file: string;
  /** Literal secret values to hide wherever they appear (the credentials in use). */
  secrets?: string[];
  /** Custom fetch (tests); default the global one. */
  fetch?: typeof fetch;
}

export interface MockApiOptions {
  fixtures?: Fixture[];
  /** Load every `*.json` file of this folder (sorted by name) as fixtures. */
  fixturesDir?: string;
  auth?: MockApiAuth;
  record?: RecordOptions;
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
}

/** A request the mock API received, unredacted (tests assert on the auth headers the host added). */
export interface RecordedRequest {
  method: string;
  path: string;
  /** Path and query string as received. */
  url: string;
  query: Record<string, string | string[]>;
  /** Lower-case names. */
  headers: Record<string, string>;
  /** Parsed JSON or form body; raw text otherwise; undefined when empty. */
  body: unknown;
  rawBody: string;
  /** Path parameters of the fixture that matched. */
  params: Record<string, string>;
  /** Name (or `#index`) of the fixture that answered; `undefined` when none did. */
  fixture: string | undefined;
  /** Status the mock API answered. */
  status: number;
  /** Whether the answer came from the recording target. */
  recorded: boolean;
}

/** A running mock API. Close it when done (`await using` works). */
export interface MockApi extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Every request received, oldest first. */
  readonly requests: RecordedRequest[];
  readonly fixtures: readonly Fixture[];
  /** Adds fixtures after the existing ones (earlier fixtures win). */
  addFixture(...fixtures: Fixture[]): void;
  /** Adds fixtures before the existing ones, so they win (override a default answer in one test). */
  prependFixture(...fixtures: Fixture[]): void;
  /** Replaces all fixtures (the dev server's reload) and forgets their use counts. */
  replaceFixtures(fixtures: Fixture[]): void;
  /** Loads `*.json` fixture files from a folder (or one file); returns how many fixtures were added. */
  loadFixtures(path: string): Promise<number>;
  /** Replaces the auth check (undefined switches it off). */
  setAuth(auth: MockApiAuth | undefined): void;
  /** The last request received, if any. */
  lastRequest(): RecordedRequest | undefined;
  /** Forgets recorded requests and fixture use counts (`times`). */
  reset(): void;
  /** Resolves when every recorded fixture has been written to the record file. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Reads fixtures from a folder of `*.json` files (sorted by name) or from one file. Errors name the file and JSON path. */
export async function loadFixtureFiles(path: string): Promise<Fixture[]> {
  let files: string[];
  try {
    const entries = await readdir(path, { withFileTypes: true });
    files = entries.filter((e) => e.isFile() && e.name.endsWith('.json')).map((e) => join(path, e.name)).sort();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') files = [path];
    else if (code === 'ENOENT') throw new ConnectorError('NOT_FOUND', `Fixtures folder ${path} does not exist; create it and add *.json fixture files`);
    else throw error;
  }
  const out: Fixture[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch (error) {
      throw new ConnectorError('INVALID_INPUT', `${file}: invalid JSON (${(error as Error).message}); fix the file or remove it`);
    }
    out.push(...parseFixtures(value, relative(process.cwd(), file) || file));
  }
  return out;
}

const FORWARD_SKIP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'accept-encoding', 'keep-alive', 'upgrade']);
const RESPONSE_SKIP = new Set(['content-length', 'content-encoding', 'transfer-encoding', 'connection', 'keep-alive', 'date']);
/** Response headers worth keeping in a recorded fixture (the rest is noise such as request ids and CDN headers). */
const RECORDED_RESPONSE_HEADERS = /^(content-type|link|location|retry-after|x-ratelimit-.*|ratelimit.*|x-shopify-shop-api-call-limit|x-next-cursor|etag)$/;

/** Turns secrets in a recorded request body into `*` (any value), so the fixture still matches on replay. */
function wildcardSecrets(value: unknown, literals: readonly string[], key?: string): unknown {
  if (key !== undefined && isSecretKey(key) && (typeof value === 'string' || typeof value === 'number')) return '*';
  if (typeof value === 'string') return isSecretValue(value) || literals.some((l) => l.length >= 4 && value.includes(l)) ? '*' : value;
  if (Array.isArray(value)) return value.map((v) => wildcardSecrets(v, literals));
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, wildcardSecrets(v, literals, k)]));
  return value;
}

function authSecrets(auth: MockApiAuth | undefined): string[] {
  if (!auth) return [];
  if (auth.type === 'bearer') return Array.isArray(auth.token) ? auth.token : [auth.token];
  if (auth.type === 'api_key') return [auth.value];
  if (auth.type === 'basic') return [auth.password];
  return [];
}

function fixtureLabel(fixture: Fixture, index: number): string {
  return fixture.name ?? `#${index} ${(fixture.request.method ?? '*').toUpperCase()} ${fixture.request.path}`;
}

/**
 * Starts a mock provider API on 127.0.0.1 that answers from fixtures (first match wins).
 *
 * An unmatched request gets 501 with a JSON body `{ error: { code: 'NO_FIXTURE', message }, request, candidates, suggestion }`
 * naming the closest fixtures and why they missed, plus a fixture skeleton to add.
 *
 * @example
 * await using api = await createMockApi({
 *   fixtures: [{ request: { method: 'GET', path: '/customers/:id' }, response: { body: { id: '{{params.id}}' } } }],
 *   auth: { type: 'bearer', token: 'test-token' },
 * });
 */
export async function createMockApi(options: MockApiOptions = {}): Promise<MockApi> {
  let fixtures: Fixture[] = [...(options.fixtures ?? [])].map((f, i) => parseFixtures(f, `fixtures[${i}]`)[0] as Fixture);
  if (options.fixturesDir) fixtures.push(...(await loadFixtureFiles(options.fixturesDir)));
  let auth = options.auth;
  const uses = new Map<Fixture, number>();
  const requests: RecordedRequest[] = [];
  const record = options.record;
  let writes: Promise<void> = Promise.resolve();
  let lastWrite: Promise<void> = Promise.resolve();

  const checkAuth = (req: RecordedRequest): { status: number; headers: Record<string, string>; body: unknown } | undefined => {
    if (!auth) return undefined;
    const deny = (message: string, challenge: string, status = 401) => ({
      status,
      headers: { 'www-authenticate': challenge },
      body: { error: { code: status === 401 ? 'unauthorized' : 'insufficient_scope', message } },
    });
    const authorization = req.headers.authorization;
    switch (auth.type) {
      case 'bearer': {
        const allowed = Array.isArray(auth.token) ? auth.token : [auth.token];
        const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
        if (!m) return deny('Missing bearer token (Authorization: Bearer <token>)', 'Bearer realm="mock-api"');
        if (!allowed.includes((m[1] as string).trim())) return deny('The bearer token is not valid', 'Bearer realm="mock-api", error="invalid_token"');
        return undefined;
      }
      case 'api_key': {
        const expected = `${auth.prefix ?? ''}${auth.value}`;
        const got = auth.in === 'query' ? req.query[auth.name] : req.headers[auth.name.toLowerCase()];
        if (got === undefined) return deny(`Missing API key (${auth.in === 'query' ? 'query parameter' : 'header'} ${auth.name})`, 'ApiKey realm="mock-api"');
        if (got !== expected) return deny(`The API key in ${auth.name} is not valid`, 'ApiKey realm="mock-api"');
        return undefined;
      }
      case 'basic': {
        const m = /^Basic\s+(.+)$/i.exec(authorization ?? '');
        if (!m) return deny('Missing HTTP Basic credentials', 'Basic realm="mock-api"');
        const decoded = Buffer.from((m[1] as string).trim(), 'base64').toString('utf8');
        if (decoded !== `${auth.username}:${auth.password}`) return deny('Wrong username or password', 'Basic realm="mock-api"');
        return undefined;
      }
      case 'oauth2-provider': {
        const h = auth.header ?? { name: 'Authorization', prefix: 'Bearer ' };
        const raw = req.headers[h.name.toLowerCase()];
        const prefix = h.prefix.toLowerCase();
        if (raw === undefined || !raw.toLowerCase().startsWith(prefix) || raw.length === prefix.length) {
          return deny(`Missing access token (${h.name}: ${h.prefix}<token>)`, 'Bearer realm="mock-api"');
        }
        const st = auth.provider.verify(raw.slice(h.prefix.length).trim());
        if (!st.active) {
          const why = st.reason === 'expired' ? 'has expired' : st.reason === 'revoked' ? 'was revoked' : 'is not one the OAuth provider issued';
          return deny(`The access token ${why}`, `Bearer realm="mock-api", error="invalid_token", error_description="token ${st.reason}"`);
        }
        if (st.kind !== 'access') return deny('A refresh token cannot be used to call the API', 'Bearer realm="mock-api", error="invalid_token"');
        // Providers write scope lists with spaces (RFC 6749) or commas (Shopify, Slack).
        const granted = st.scope.split(/[\s,]+/);
        const missing = (auth.requiredScopes ?? []).filter((s) => !granted.includes(s));
        if (missing.length > 0) {
          return deny(`The access token lacks scope ${missing.join(' ')}`, `Bearer realm="mock-api", error="insufficient_scope", scope="${missing.join(' ')}"`, 403);
        }
        return undefined;
      }
    }
  };

  const scopeOf = (req: RecordedRequest): TemplateScope => ({
    params: req.params,
    query: req.query,
    headers: req.headers,
    body: req.body,
    method: req.method,
    path: req.path,
  });

  const noFixture = (req: RecordedRequest) => {
    // The credentials the mock API itself expects are secrets too, whatever header they came in.
    const literals = authSecrets(auth);
    if (auth?.type === 'api_key' && auth.in !== 'query') {
      const h = auth.name.toLowerCase();
      req = { ...req, headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== h)) };
    }
    const ranked = fixtures
      .map((fixture, index) => ({ fixture, index, result: matchFixture(fixture, req) }))
      .flatMap((x) => {
        if (x.result.ok) {
          // It matched but its `times` are used up.
          return [{ label: fixtureLabel(x.fixture, x.index), request: x.fixture.request, mismatches: [`already answered ${x.fixture.times} time(s) (times: ${x.fixture.times})`], score: 10 }];
        }
        return [{ label: fixtureLabel(x.fixture, x.index), request: x.fixture.request, mismatches: x.result.mismatches, score: x.result.score }];
      })
      .sort((a, b) => b.score - a.score)
      .slice(0, 3);
    const where = `${req.method} ${req.url}`;
    const closest = ranked[0];
    const suggestion: { request: FixtureRequest; response: FixtureResponse } = { request: { method: req.method, path: req.path }, response: { status: 200, body: {} } };
    if (Object.keys(req.query).length > 0) suggestion.request.query = redactQuery(req.query, literals);
    if (req.body !== undefined && req.method !== 'GET') suggestion.request.body = wildcardSecrets(req.body, literals);
    const message =
      `The mock API has no fixture for ${where}` +
      (closest ? `; closest is ${closest.label} (${closest.mismatches.join('; ')})` : '; no fixtures are loaded') +
      `. Add a fixture such as ${JSON.stringify(suggestion)} to the connector's fixtures/*.json or pass it to the harness.`;
    return {
      error: { code: 'NO_FIXTURE', message },
      request: { method: req.method, path: req.path, query: redactQuery(req.query, literals), headers: redactHeaders(req.headers, literals), body: redactSecrets(req.body, literals) },
      candidates: ranked.map(({ label, request, mismatches }) => ({ fixture: label, request, mismatches })),
      suggestion,
    };
  };

  const appendRecording = (fixture: Fixture) => {
    if (!record) return;
    writes = writes.then(async () => {
      let existing: unknown[] = [];
      try {
        const parsed = JSON.parse(await readFile(record.file, 'utf8')) as unknown;
        if (Array.isArray(parsed)) existing = parsed;
        else throw new ConnectorError('INVALID_INPUT', `Record file ${record.file} does not hold a JSON array of fixtures; move it away or pick another file`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
      await mkdir(dirname(record.file), { recursive: true });
      await writeFile(record.file, `${JSON.stringify([...existing, fixture], null, 2)}\n`);
    });
    // Keep the chain alive after a failed write; flush() reports the failure.
    const current = writes;
    writes = current.catch(() => undefined);
    lastWrite = current;
  };

  const proxy = async (req: RecordedRequest, res: ServerResponse): Promise<void> => {
    if (!record) return;
    const target = new URL(record.target.replace(/\/+$/, '') + req.url);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (!FORWARD_SKIP.has(k)) headers[k] = v;
    let upstream: Response;
    try {
      upstream = await (record.fetch ?? fetch)(target, {
        method: req.method,
        headers,
        body: req.method === 'GET' || req.method === 'HEAD' || req.rawBody === '' ? undefined : req.rawBody,
        redirect: 'manual',
      });
    } catch (error) {
      req.status = 502;
      return sendJson(res, 502, { error: { code: 'RECORD_TARGET_UNREACHABLE', message: `Recording: ${req.method} ${target.origin}${target.pathname} failed: ${(error as Error).message}` } });
    }
    const text = await upstream.text();
    const responseHeaders: Record<string, string> = {};
    upstream.headers.forEach((v, k) => {
      if (!RESPONSE_SKIP.has(k) && k !== 'set-cookie') responseHeaders[k] = v;
    });
    req.status = upstream.status;
    req.recorded = true;
    res.writeHead(upstream.status, responseHeaders);
    res.end(text);

    const secrets = record.secrets ?? [];
    const kept: Record<string, string> = {};
    for (const [k, v] of Object.entries(responseHeaders)) if (RECORDED_RESPONSE_HEADERS.test(k)) kept[k] = v;
    const request: FixtureRequest = { method: req.method, path: req.path };
    const query = wildcardSecrets(redactQuery(req.query, secrets), secrets) as Record<string, string | string[]>;
    if (Object.keys(query).length > 0) request.query = query;
    if (req.body !== undefined) request.body = wildcardSecrets(req.body, secrets);
    const response: FixtureResponse = { status: upstream.status };
    if (Object.keys(kept).length > 0) response.headers = redactHeaders(kept, secrets);
    const body = parseBody(text, upstream.headers.get('content-type') ?? undefined);
    if (body !== undefined) response.body = redactSecrets(body, secrets);
    const fixture: Fixture = { name: `recorded ${req.method} ${req.path}`, request, response };
    // Replay it from now on, so the same call in this session does not hit the real API again.
    fixtures.push(fixture);
    appendRecording(fixture);
  };

  const handler = async (incoming: IncomingMessage, res: ServerResponse) => {
    const url = new URL(incoming.url ?? '/', 'http://127.0.0.1');
    const headers = flatHeaders(incoming);
    const rawBody = await readBody(incoming);
    const req: RecordedRequest = {
      method: (incoming.method ?? 'GET').toUpperCase(),
      path: url.pathname,
      url: url.pathname + url.search,
      query: queryObject(url.searchParams),
      headers,
      body: parseBody(rawBody, headers['content-type']),
      rawBody,
      params: {},
      fixture: undefined,
      status: 0,
      recorded: false,
    };
    requests.push(req);

    let matched: { fixture: Fixture; index: number } | undefined;
    for (const [index, fixture] of fixtures.entries()) {
      if (fixture.times !== undefined && (uses.get(fixture) ?? 0) >= fixture.times) continue;
      const result = matchFixture(fixture, req);
      if (result.ok) {
        matched = { fixture, index };
        req.params = result.params;
        break;
      }
    }

    if (!matched && record) return proxy(req, res);
    if (!matched?.fixture.public) {
      const denied = checkAuth(req);
      if (denied) {
        req.status = denied.status;
        return sendJson(res, denied.status, denied.body, denied.headers);
      }
    }
    if (!matched) {
      req.status = 501;
      return sendJson(res, 501, noFixture(req), { 'x-mock-api': 'no-fixture' });
    }
    const { fixture, index } = matched;
    uses.set(fixture, (uses.get(fixture) ?? 0) + 1);
    req.fixture = fixture.name ?? `#${index}`;
    const scope = scopeOf(req);
    const spec = typeof fixture.response === 'function' ? await fixture.response(scope) : fixture.response;
    const status = spec.status ?? 200;
    const outHeaders = Object.fromEntries(Object.entries(spec.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(renderTemplate(v, scope))]));
    req.status = status;
    if (spec.body === undefined) {
      res.writeHead(status, outHeaders);
      return void res.end();
    }
    const body = renderTemplate(spec.body, scope);
    const isText = typeof body === 'string' && outHeaders['content-type'] !== undefined && !/json/i.test(outHeaders['content-type']);
    if (isText) {
      res.writeHead(status, outHeaders);
      return void res.end(body);
    }
    return sendJson(res, status, body, outHeaders);
  };

  const server = await listenLoopback(handler, options.port ?? 0, 'mock API');

  return {
    url: server.url,
    requests,
    get fixtures() {
      return fixtures;
    },
    addFixture(...more) {
      fixtures.push(...more.map((f, i) => parseFixtures(f, `addFixture argument ${i}`)[0] as Fixture));
    },
    prependFixture(...more) {
      fixtures = [...more.map((f, i) => parseFixtures(f, `prependFixture argument ${i}`)[0] as Fixture), ...fixtures];
    },
    replaceFixtures(next) {
      fixtures = next.map((f, i) => parseFixtures(f, `replaceFixtures argument ${i}`)[0] as Fixture);
      uses.clear();
    },
    async loadFixtures(path) {
      const loaded = await loadFixtureFiles(path);
      fixtures.push(...loaded);
      return loaded.length;
    },
    setAuth(next) {
      auth = next;
    },
    lastRequest: () => requests.at(-1),
    reset() {
      requests.length = 0;
      uses.clear();
    },
    flush: () => lastWrite,
    async close() {
      await server.close();
      await writes;
    },
    async [Symbol.asyncDispose]() {
      await server.close();
      await writes;
    },
  };
}
