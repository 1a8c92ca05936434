// Fixtures: request matchers mapped to canned responses, as the mock API uses them.
// Pure functions (matching, templating, checking a fixture's shape); file loading lives in fixture-files.ts.
import { ConnectorError } from '../errors.ts';

/** Which requests a fixture answers. Every listed part must match; unlisted parts are ignored. */
export interface FixtureRequest {
  /** HTTP method; omitted or `*` matches any. Case-insensitive. */
  method?: string;
  /**
   * The path: exact (`/orders`), with `:param` segments (`/orders/:id`, the value lands in `params.id`),
   * or a regular expression when it starts with `^` (`^/orders/(?<id>\\d+)$`, named groups become params).
   * A query string in the path (`/orders?status=open`) is matched like {@link FixtureRequest.query}.
   */
  path: string;
  /** Partial match: each listed parameter must be present with this value (a list for repeated ones, `*` for any value). */
  query?: Record<string, string | string[]>;
  /** Partial match, names case-insensitive; `*` accepts any value. */
  headers?: Record<string, string>;
  /** Partial deep match: objects may have more keys than listed, arrays must match element by element. */
  body?: unknown;
}

/** What a fixture answers. Strings in `body` and `headers` may hold templates such as `{{params.id}}` or `{{body.email}}`. */
export interface FixtureResponse {
  /** Default 200. */
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** Computes a response from the matched request (`params` holds the path parameters). */
export type FixtureResponder = (request: TemplateScope) => FixtureResponse | Promise<FixtureResponse>;

/** A request matcher and its response. */
export interface Fixture {
  /** Shown in "no fixture matched" reports. */
  name?: string;
  request: FixtureRequest;
  /** A canned response, or (in code, not JSON files) a function computing one from the request. */
  response: FixtureResponse | FixtureResponder;
  /** Answer at most this many times, then let later fixtures match (e.g. a 429 once, then a 200). */
  times?: number;
  /** Skip the mock API's auth check for this fixture (public endpoints). */
  public?: boolean;
}

/** A request as the mock API received it. */
export interface MatchableRequest {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: unknown;
}

/** Values a template may read: `{{params.id}}`, `{{query.page}}`, `{{headers.x-shop}}`, `{{body.customer.email}}`, `{{method}}`, `{{path}}`. */
export interface TemplateScope {
  params: Record<string, string>;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  body: unknown;
  method: string;
  path: string;
}

export type MatchResult = { ok: true; params: Record<string, string> } | { ok: false; mismatches: string[]; score: number };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Splits `/orders?status=open` into the path and a query matcher. */
export function splitFixturePath(path: string): { path: string; query: Record<string, string | string[]> | undefined } {
  if (path.startsWith('^')) return { path, query: undefined };
  const q = path.indexOf('?');
  if (q < 0) return { path, query: undefined };
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(path.slice(q + 1))) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return { path: path.slice(0, q), query };
}

const compiled = new Map<string, RegExp>();

/** Compiles a fixture path into an anchored regular expression with named groups for `:params`. */
export function compilePath(path: string): RegExp {
  let re = compiled.get(path);
  if (re) return re;
  if (path.startsWith('^')) re = new RegExp(path);
  else {
    const source = path
      .split('/')
      .map((segment) =>
        segment
          .split(/(:[A-Za-z_][A-Za-z0-9_]*)/)
          .map((part) => (part.startsWith(':') ? `(?<${part.slice(1)}>[^/]+)` : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
          .join(''),
      )
      .join('/');
    re = new RegExp(`^${source}/?$`);
  }
  if (compiled.size > 1000) compiled.clear();
  compiled.set(path, re);
  return re;
}

/** Matches a path; returns the params or undefined. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const m = compilePath(pattern).exec(path);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.groups ?? {})) if (v !== undefined) params[k] = safeDecode(v);
  return params;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Partial deep match of `actual` against `expected`. Returns the JSON pointers of the differences
 * (empty when it matches). Numbers and booleans in `expected` also match their string forms, because
 * form bodies and query strings carry only strings.
 */
export function partialMatch(expected: unknown, actual: unknown, at = ''): string[] {
  if (expected === '*') return actual === undefined ? [`${at || '/'} is missing`] : [];
  if (isObject(expected)) {
    if (!isObject(actual)) return [`${at || '/'}: expected an object, got ${describe(actual)}`];
    return Object.entries(expected).flatMap(([k, v]) => partialMatch(v, actual[k], `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`));
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return [`${at || '/'}: expected an array, got ${describe(actual)}`];
    if (actual.length !== expected.length) return [`${at || '/'}: expected ${expected.length} items, got ${actual.length}`];
    return expected.flatMap((v, i) => partialMatch(v, actual[i], `${at}/${i}`));
  }
  if (expected === actual) return [];
  if ((typeof expected === 'number' || typeof expected === 'boolean') && typeof actual === 'string' && String(expected) === actual) return [];
  return [`${at || '/'}: expected ${JSON.stringify(expected)}, got ${describe(actual)}`];
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Matches a request against one fixture. On a miss, says why and scores how close it came (higher is closer). */
export function matchFixture(fixture: Fixture, req: MatchableRequest): MatchResult {
  const mismatches: string[] = [];
  let score = 0;
  const want = fixture.request;
  const method = (want.method ?? '*').toUpperCase();
  if (method !== '*' && method !== req.method.toUpperCase()) mismatches.push(`method: expected ${method}, got ${req.method}`);
  else score += 1;
  const { path, query: pathQuery } = splitFixturePath(want.path);
  const params = matchPath(path, req.path);
  if (!params) {
    mismatches.push(`path: expected ${path}, got ${req.path}`);
    score += similarity(path, req.path);
  } else score += 3;
  const query = { ...(pathQuery ?? {}), ...(want.query ?? {}) };
  for (const m of partialMatch(query, req.query)) mismatches.push(`query${m.startsWith('/') ? ' ' : ': '}${m}`);
  if (want.headers) {
    const expected = Object.fromEntries(Object.entries(want.headers).map(([k, v]) => [k.toLowerCase(), v]));
    for (const m of partialMatch(expected, req.headers)) mismatches.push(`header ${m.slice(1)}`);
  }
  if (want.body !== undefined) for (const m of partialMatch(want.body, req.body)) mismatches.push(`body ${m}`);
  if (mismatches.length === 0) return { ok: true, params: params ?? {} };
  return { ok: false, mismatches, score: score - mismatches.length * 0.5 };
}

/** Share of leading path segments two paths have in common, 0..2. */
function similarity(pattern: string, path: string): number {
  const a = pattern.split('/').filter(Boolean);
  const b = path.split('/').filter(Boolean);
  let same = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] === b[i] || a[i]?.startsWith(':')) same++;
    else break;
  }
  return (2 * same) / Math.max(a.length, b.length, 1);
}

function lookup(scope: TemplateScope, path: string): unknown {
  let node: unknown = scope;
  for (const key of path.split('.')) {
    if (key === '') return undefined;
    if (Array.isArray(node) && /^\d+$/.test(key)) node = node[Number(key)];
    else if (isObject(node)) node = key in node ? node[key] : (node as Record<string, unknown>)[key.toLowerCase()];
    else return undefined;
  }
  return node;
}

const TEMPLATE_RE = /\{\{\s*([A-Za-z0-9_.$-]+)\s*\}\}/g;

/**
 * Fills `{{params.id}}`-style templates. A string that is exactly one template takes the value's own type
 * (`"{{body.quantity}}"` stays a number); templates inside longer strings are replaced by text.
 * Missing values become `null` (whole-string) or an empty string (inside text).
 */
export function renderTemplate(value: unknown, scope: TemplateScope): unknown {
  if (typeof value === 'string') {
    const whole = /^\{\{\s*([A-Za-z0-9_.$-]+)\s*\}\}$/.exec(value);
    if (whole) return lookup(scope, whole[1] as string) ?? null;
    return value.replace(TEMPLATE_RE, (_, path: string) => {
      const v = lookup(scope, path);
      if (v === undefined || v === null) return '';
      return typeof v === 'object' ? JSON.stringify(v) : String(v);
    });
  }
  if (Array.isArray(value)) return value.map((v) => renderTemplate(v, scope));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderTemplate(v, scope)]));
  return value;
}

/**
 * Checks that a value has the shape of a fixture (or a list of them) and returns the list.
 * `where` names the source (a file) so the message points at it.
 */
export function parseFixtures(value: unknown, where: string): Fixture[] {
  const wrapped = isObject(value) && Array.isArray(value.fixtures);
  const list: unknown[] = wrapped ? (value as { fixtures: unknown[] }).fixtures : Array.isArray(value) ? value : [value];
  return list.map((raw, i) => {
    const at = wrapped ? `/fixtures/${i}` : Array.isArray(value) ? `/${i}` : '';
    const fail = (path: string, message: string): never => {
      throw new ConnectorError('INVALID_INPUT', `${where}: ${at}${path} ${message}`, { path: `${at}${path}` });
    };
    if (!isObject(raw)) return fail('', 'must be an object { request, response }');
    const { request, response, times, name } = raw;
    if (!isObject(request)) return fail('/request', 'must be an object with at least a path');
    if (typeof request.path !== 'string' || request.path === '') return fail('/request/path', 'must be a non-empty string such as "/orders/:id"');
    if (!request.path.startsWith('/') && !request.path.startsWith('^')) return fail('/request/path', `must start with "/" (or "^" for a regular expression), got "${request.path}"`);
    if (request.path.startsWith('^')) {
      try {
        new RegExp(request.path);
      } catch (error) {
        fail('/request/path', `is not a valid regular expression: ${(error as Error).message}`);
      }
    }
    if (request.method !== undefined && (typeof request.method !== 'string' || !/^([A-Za-z]+|\*)$/.test(request.method))) {
      return fail('/request/method', 'must be an HTTP method such as "GET" or "*"');
    }
    for (const part of ['query', 'headers'] as const) {
      const v = request[part];
      if (v === undefined) continue;
      if (!isObject(v)) return fail(`/request/${part}`, 'must be an object of names to values');
      for (const [k, x] of Object.entries(v)) {
        const okValue = typeof x === 'string' || (part === 'query' && Array.isArray(x) && x.every((y) => typeof y === 'string'));
        if (!okValue) fail(`/request/${part}/${k}`, part === 'query' ? 'must be a string or a list of strings' : 'must be a string');
      }
    }
    if (typeof response !== 'function') {
      if (!isObject(response)) return fail('/response', 'must be an object { status, headers?, body? }');
      const st = response.status;
      if (st !== undefined && (typeof st !== 'number' || !Number.isInteger(st) || st < 100 || st > 599)) return fail('/response/status', 'must be an HTTP status code (100-599)');
      if (response.headers !== undefined) {
        if (!isObject(response.headers)) return fail('/response/headers', 'must be an object of header names to strings');
        for (const [k, x] of Object.entries(response.headers)) if (typeof x !== 'string') fail(`/response/headers/${k}`, 'must be a string');
      }
    }
    if (times !== undefined && (!Number.isInteger(times) || (times as number) < 1)) return fail('/times', 'must be a positive integer');
    if (name !== undefined && typeof name !== 'string') return fail('/name', 'must be a string');
    return raw as unknown as Fixture;
  });
}
