import type { HttpClient, HttpRequest, HttpResponse, QueryValue } from './http.ts';

export type PaginationStrategy<T> =
  | {
      type: 'cursor';
      /** Query parameter that carries the cursor, e.g. `starting_after` or `cursor`. */
      cursorParam: string;
      /** Reads the next cursor from a page; undefined or '' ends the walk. */
      nextCursor: (response: HttpResponse) => string | undefined | null;
      items: (response: HttpResponse) => T[];
    }
  | {
      /** RFC 8288 `Link: <...>; rel="next"` headers (GitHub, Shopify). */
      type: 'link';
      items: (response: HttpResponse) => T[];
    }
  | {
      type: 'offset';
      offsetParam: string;
      limitParam: string;
      pageSize: number;
      items: (response: HttpResponse) => T[];
    };

export interface PaginateOptions {
  /** Stop after this many items in total. */
  maxItems?: number;
  /** Stop after this many pages (a guard against providers that never end). Default 100. */
  maxPages?: number;
}

/** The URL of the `rel="next"` entry of a Link header. */
export function parseLinkNext(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const m = /<([^>]+)>\s*;(.*)/.exec(part.trim());
    if (m?.[1] && /rel="?([^";]*\s)?next(\s[^";]*)?"?/i.test(m[2] ?? '')) return m[1];
  }
  return undefined;
}

function header(res: HttpResponse, name: string): string | undefined {
  for (const [k, v] of Object.entries(res.headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

/**
 * Walks every page of a list endpoint and yields the items one by one.
 * @example for await (const order of paginate(ctx.http, { method: 'GET', url: '/orders.json' }, { type: 'link', items: (r) => r.data.orders })) { ... }
 */
export async function* paginate<T>(
  http: HttpClient,
  request: HttpRequest,
  strategy: PaginationStrategy<T>,
  options: PaginateOptions = {},
): AsyncGenerator<T, void, undefined> {
  const maxPages = options.maxPages ?? 100;
  const maxItems = options.maxItems ?? Number.POSITIVE_INFINITY;
  let yielded = 0;
  let next: HttpRequest | undefined = request;
  let offset = 0;
  for (let page = 0; next && page < maxPages; page++) {
    const res: HttpResponse = await http.request(next);
    const items = strategy.items(res) ?? [];
    for (const item of items) {
      if (yielded >= maxItems) return;
      yield item;
      yielded++;
    }
    if (yielded >= maxItems) return;
    // An empty page ends an offset walk; cursor and link walks end only when the provider gives no next page
    // (Slack, for one, may answer an empty page that still carries a next cursor).
    if (items.length === 0 && strategy.type === 'offset') return;
    const query: Record<string, QueryValue> = { ...(next.query ?? {}) };
    switch (strategy.type) {
      case 'cursor': {
        const cursor = strategy.nextCursor(res);
        next = cursor ? { ...next, query: { ...query, [strategy.cursorParam]: cursor } } : undefined;
        break;
      }
      case 'link': {
        const url = parseLinkNext(header(res, 'link'));
        // The next URL carries its own query string; drop the first page's query.
        next = url ? { method: next.method, url, headers: next.headers } : undefined;
        break;
      }
      case 'offset': {
        offset += items.length;
        next = items.length < strategy.pageSize ? undefined : { ...next, query: { ...query, [strategy.offsetParam]: offset, [strategy.limitParam]: strategy.pageSize } };
        break;
      }
    }
  }
}

/** Collects {@link paginate} into an array. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
