import { describe, expect, it } from 'vitest';
import { createHttpClient, type HttpRequest, type HttpResponse } from './http.ts';
import { collect, paginate, parseLinkNext } from './pagination.ts';

function fakeApi(pages: Record<string, HttpResponse>) {
  const calls: HttpRequest[] = [];
  const client = createHttpClient(async (req) => {
    calls.push(req);
    const key = `${req.url}?${new URLSearchParams(Object.entries(req.query ?? {}).map(([k, v]): [string, string] => [k, String(v)])).toString()}`;
    const res = pages[key];
    if (!res) return { status: 404, headers: {}, data: { error: `no page ${key}` } };
    return res;
  });
  return { client, calls };
}

describe('paginate', () => {
  it('follows cursors until the provider says there is no more', async () => {
    const { client, calls } = fakeApi({
      '/v1/charges?limit=2': { status: 200, headers: {}, data: { data: [{ id: 'a' }, { id: 'b' }], has_more: true } },
      '/v1/charges?limit=2&starting_after=b': { status: 200, headers: {}, data: { data: [{ id: 'c' }], has_more: false } },
    });
    type Page = { data: { id: string }[]; has_more: boolean };
    const items = await collect(paginate(client, { method: 'GET', url: '/v1/charges', query: { limit: 2 } }, {
      type: 'cursor',
      cursorParam: 'starting_after',
      items: (r) => (r.data as Page).data,
      nextCursor: (r) => ((r.data as Page).has_more ? (r.data as Page).data.at(-1)?.id : undefined),
    }));
    expect(items.map((i) => i.id)).toEqual(['a', 'b', 'c']);
    expect(calls).toHaveLength(2);
  });

  it('follows Link rel="next" headers', async () => {
    const next = 'https://shop.test/admin/orders.json?page_info=xyz&limit=1';
    const { client } = fakeApi({
      '/orders.json?limit=1': { status: 200, headers: { link: `<${next}>; rel="next"` }, data: { orders: [{ id: 1 }] } },
      [`${next}?`]: { status: 200, headers: { Link: '<https://shop.test/prev>; rel="previous"' }, data: { orders: [{ id: 2 }] } },
    });
    const items = await collect(paginate(client, { method: 'GET', url: '/orders.json', query: { limit: 1 } }, { type: 'link', items: (r) => (r.data as { orders: unknown[] }).orders }));
    expect(items).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('walks offsets and stops on a short page, honouring maxItems', async () => {
    const { client } = fakeApi({
      '/items?': { status: 200, headers: {}, data: [1, 2] },
      '/items?offset=2&limit=2': { status: 200, headers: {}, data: [3, 4] },
      '/items?offset=4&limit=2': { status: 200, headers: {}, data: [5] },
    });
    const strategy = { type: 'offset' as const, offsetParam: 'offset', limitParam: 'limit', pageSize: 2, items: (r: HttpResponse) => r.data as number[] };
    expect(await collect(paginate(client, { method: 'GET', url: '/items' }, strategy))).toEqual([1, 2, 3, 4, 5]);
    expect(await collect(paginate(client, { method: 'GET', url: '/items' }, strategy, { maxItems: 3 }))).toEqual([1, 2, 3]);
  });

  it('surfaces a failing page as a typed error', async () => {
    const { client } = fakeApi({});
    await expect(collect(paginate(client, { method: 'GET', url: '/missing' }, { type: 'link', items: () => [] }))).rejects.toMatchObject({ code: 'NOT_FOUND', upstreamStatus: 404 });
  });
});

describe('paginate with empty pages', () => {
  it('keeps following a cursor past an empty page', async () => {
    const { client } = fakeApi({
      '/list?': { status: 200, headers: {}, data: { items: [], next: 'c2' } },
      '/list?cursor=c2': { status: 200, headers: {}, data: { items: ['x'], next: '' } },
    });
    type Page = { items: string[]; next: string };
    const items = await collect(paginate(client, { method: 'GET', url: '/list' }, { type: 'cursor', cursorParam: 'cursor', items: (r) => (r.data as Page).items, nextCursor: (r) => (r.data as Page).next }));
    expect(items).toEqual(['x']);
  });
});

describe('parseLinkNext', () => {
  it('finds rel=next among several relations', () => {
    expect(parseLinkNext('<https://a/1>; rel="prev", <https://a/3>; rel="next"')).toBe('https://a/3');
    expect(parseLinkNext('<https://a/1>; rel="prev"')).toBeUndefined();
    expect(parseLinkNext(undefined)).toBeUndefined();
  });
});
