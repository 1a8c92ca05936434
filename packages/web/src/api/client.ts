import type {
  Connection,
  ConnectionTest,
  ConnectorDetail,
  ExecuteResponse,
  Installation,
  InstallResponse,
  Problem,
  Review,
  ReviewsResponse,
  SearchResponse,
  Submission,
  UsageResponse,
  VersionsResponse,
} from './types.ts';

/**
 * An API call that failed: the service's problem+json envelope, or a problem made up for a network failure
 * (`code: 'UNAVAILABLE'`, `status: 0`). `routeMissing` is true when this server does not serve the route at all.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly problem: Problem;
  readonly routeMissing: boolean;

  constructor(problem: Problem) {
    super(`${problem.code}: ${problem.detail}`);
    this.name = 'ApiError';
    this.status = problem.status;
    this.code = problem.code;
    this.detail = problem.detail;
    this.problem = problem;
    this.routeMissing = problem.status === 404 && /^No route /.test(problem.detail);
  }
}

/** Recognises an {@link ApiError} by name, so errors crossing module copies still match. */
export function isApiError(value: unknown): value is ApiError {
  return typeof value === 'object' && value !== null && (value as { name?: unknown }).name === 'ApiError';
}

/** Turns any response body into a problem: the envelope when the server sent one, a described fallback otherwise. */
export function toProblem(status: number, body: unknown, method: string, path: string): Problem {
  if (typeof body === 'object' && body !== null && typeof (body as Problem).code === 'string') {
    const p = body as Partial<Problem>;
    return { ...p, status: typeof p.status === 'number' ? p.status : status, code: p.code!, detail: typeof p.detail === 'string' ? p.detail : (p.title ?? 'No detail given') };
  }
  const code = status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'FORBIDDEN' : status === 404 ? 'NOT_FOUND' : status >= 500 ? 'INTERNAL' : 'BAD_REQUEST';
  return { status, code, detail: `${method} ${path} answered ${status} without an error envelope` };
}

export interface ApiClientOptions {
  /** Origin of the service; '' (default) means the page's own origin. */
  baseUrl?: string;
  /** Current API key, read on each call (so signing in and out needs no new client). */
  getKey: () => string | null;
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | boolean | undefined | null>;

/** Builds `path?query`, leaving out empty values. */
export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

const seg = encodeURIComponent;

/**
 * Typed client of the connectors service. Every method throws {@link ApiError} on a non-2xx answer or a network failure.
 * @example const api = createApiClient({ getKey: () => session.key }); const page = await api.search({ q: 'slack' });
 */
export function createApiClient(options: ApiClientOptions) {
  const base = options.baseUrl ?? '';
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));

  async function request<T>(method: string, path: string, init: { query?: Query; body?: unknown; signal?: AbortSignal; accept?: string } = {}): Promise<T> {
    const url = base + withQuery(path, init.query);
    const headers: Record<string, string> = { accept: init.accept ?? 'application/json' };
    const key = options.getKey();
    if (key) headers.authorization = `Bearer ${key}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await doFetch(url, { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: init.signal });
    } catch (err) {
      if ((err as { name?: string }).name === 'AbortError') throw err;
      throw new ApiError({ status: 0, code: 'UNAVAILABLE', detail: `Could not reach the service for ${method} ${path}: ${(err as Error).message}. Check your connection and retry.` });
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let body: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (!res.ok) throw new ApiError(toProblem(res.status, body, method, path));
    return body as T;
  }

  return {
    request,
    search: (q: { q?: string; category?: string; sort?: string; page?: number; pageSize?: number }, signal?: AbortSignal) =>
      request<SearchResponse>('GET', '/marketplace/search', { query: q, signal }),
    connector: (id: string) => request<ConnectorDetail>('GET', `/marketplace/connectors/${seg(id)}`),
    versions: (id: string) => request<VersionsResponse>('GET', `/marketplace/connectors/${seg(id)}/versions`),
    reviews: (id: string, page = 1) => request<ReviewsResponse>('GET', `/marketplace/connectors/${seg(id)}/reviews`, { query: { page } }),
    rate: (id: string, body: { stars: number; title?: string; body?: string }) => request<Review>('PUT', `/marketplace/connectors/${seg(id)}/rating`, { body }),
    /** Assumed route: generated Markdown docs of a connector. */
    docs: (id: string) => request<string>('GET', `/marketplace/connectors/${seg(id)}/docs`, { accept: 'text/markdown' }),
    install: (id: string, body: { version?: string } = {}) => request<InstallResponse>('POST', `/marketplace/install/${seg(id)}`, { body }),
    installations: () => request<{ items: Installation[] }>('GET', '/installations'),
    /** Assumed route. */
    uninstall: (installationId: string) => request<void>('DELETE', `/installations/${seg(installationId)}`),
    /** Assumed route. */
    connections: () => request<{ items: Connection[] }>('GET', '/connections'),
    connect: (body: { installationId: string; name: string; credentials?: Record<string, string>; fields?: Record<string, string> }) =>
      request<Connection>('POST', '/connections', { body }),
    /** Runs the connector's test request with the stored credentials; the service records the outcome on the connection. */
    testConnection: (connectionId: string) => request<ConnectionTest>('POST', `/connections/${seg(connectionId)}/test`, { body: {} }),
    /** `force`: delete even while webhooks of its triggers are still registered at the provider (otherwise 409). */
    deleteConnection: (connectionId: string, options: { force?: boolean } = {}) => request<void>('DELETE', `/connections/${seg(connectionId)}`, options.force ? { query: { force: true } } : {}),
    /** Assumed route. */
    execute: (connector: string, body: { action: string; params: unknown; connection: string }) =>
      request<ExecuteResponse>('POST', `/connectors/${seg(connector)}/execute`, { body }),
    usage: (q: { from?: string; to?: string; groupBy: 'connector' | 'action' | 'day' }) => request<UsageResponse>('GET', '/usage', { query: q }),
    /** Assumed route: the reviewer queue (`status=pending`) or the caller's own submissions (`mine=true`). */
    submissions: (q: { status?: string; mine?: boolean }) => request<{ items: Submission[] }>('GET', '/marketplace/submissions', { query: q }),
    /** Assumed route. */
    decide: (submissionId: string, decision: 'approve' | 'reject', notes: string) =>
      request<Submission>('POST', `/marketplace/submissions/${seg(submissionId)}/${decision}`, { body: notes ? { notes } : {} }),
  };
}

/** The client's type, for props and context. */
export type ApiClient = ReturnType<typeof createApiClient>;
