/** Where one parameter goes in the request (an n8n `routing.send`). */
export interface Send {
  param: string;
  to: 'body' | 'query';
  /** Dotted path in the body or query (`name.first`). Empty for a collection whose options carry their own sends. */
  property: string;
  /** For an n8n collection: each option's own send. */
  children?: Send[];
}

/** One imported operation's request (an n8n `routing.request` + the parameters' sends). */
export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';
  /** Path relative to the base URL; `{param}` placeholders are filled (URL-encoded) from the params. */
  url: string;
  query?: Record<string, string | number | boolean>;
  body?: Record<string, unknown>;
  sends: Send[];
  /** n8n's `postReceive: rootProperty`: the response field returned. */
  rootProperty?: string;
}

/**
 * The source of `src/route.ts` in an imported connector: builds each request from its route the way n8n's
 * declarative routing does. `__HEADERS__` and `__QUERY__` are replaced by the node's request defaults.
 */
export const ROUTE_HELPER = `// Sends an imported n8n operation: the n8n node's declarative routing, replayed with the SDK's HTTP client.
import type { ActionContext, HttpMethod, QueryValue } from '@businessos/connector-sdk';

export interface Send {
  param: string;
  to: 'body' | 'query';
  property: string;
  children?: Send[];
}

export interface Route {
  method: HttpMethod;
  url: string;
  query?: Record<string, string | number | boolean>;
  body?: Record<string, unknown>;
  sends: Send[];
  rootProperty?: string;
}

/** Headers every request carries (the n8n node's requestDefaults.headers). */
export const DEFAULT_HEADERS: Record<string, string> = __HEADERS__;
/** Query parameters every request carries (requestDefaults.qs). */
export const DEFAULT_QUERY: Record<string, QueryValue> = __QUERY__;

function put(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let current = target;
  keys.slice(0, -1).forEach((key) => {
    const next = current[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) current[key] = {};
    current = current[key] as Record<string, unknown>;
  });
  current[keys[keys.length - 1] ?? path] = value;
}

/** Builds and sends the request for a route, returning the response body (or its root property). */
export async function sendRoute(ctx: ActionContext, route: Route, params: Record<string, unknown>): Promise<unknown> {
  const url = route.url.replace(/\\{([A-Za-z_][A-Za-z0-9_]*)\\}/g, (_m, name: string) => encodeURIComponent(String(params[name] ?? '')));
  const query: Record<string, unknown> = { ...DEFAULT_QUERY, ...(route.query ?? {}) };
  const body: Record<string, unknown> = { ...(route.body ?? {}) };
  let hasBody = Object.keys(body).length > 0;
  const apply = (send: Send, value: unknown) => {
    if (value === undefined) return;
    if (send.to === 'query') put(query, send.property, value);
    else {
      put(body, send.property, value);
      hasBody = true;
    }
  };
  for (const send of route.sends) {
    const value = params[send.param];
    if (!send.children) {
      apply(send, value);
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    for (const child of send.children) apply(child, (value as Record<string, unknown>)[child.param]);
  }
  const res = await ctx.http.request({
    method: route.method,
    url,
    query: query as Record<string, QueryValue>,
    headers: DEFAULT_HEADERS,
    body: hasBody ? body : undefined,
  });
  if (route.rootProperty && typeof res.data === 'object' && res.data !== null) return (res.data as Record<string, unknown>)[route.rootProperty];
  return res.data;
}
`;
