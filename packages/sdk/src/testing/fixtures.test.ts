import { describe, expect, it } from 'vitest';
import { matchFixture, matchPath, parseFixtures, partialMatch, renderTemplate, splitFixturePath, type Fixture, type MatchableRequest } from './fixtures.ts';

const req = (over: Partial<MatchableRequest> = {}): MatchableRequest => ({ method: 'GET', path: '/orders/42', query: {}, headers: {}, body: undefined, ...over });
const fixture = (request: Fixture['request']): Fixture => ({ request, response: { body: {} } });

describe('matchPath', () => {
  it('matches exact paths, :params and regular expressions', () => {
    expect(matchPath('/orders', '/orders')).toEqual({});
    expect(matchPath('/orders', '/orders/')).toEqual({});
    expect(matchPath('/orders', '/orders/1')).toBeUndefined();
    expect(matchPath('/orders/:id.json', '/orders/42.json')).toEqual({ id: '42' });
    expect(matchPath('/orders/:id.json', '/orders/42xjson')).toBeUndefined();
    expect(matchPath('/a/:x/b/:y', '/a/h%20i/b/2')).toEqual({ x: 'h i', y: '2' });
    expect(matchPath('^/v\\d+/items/(?<id>[a-z]+)$', '/v3/items/abc')).toEqual({ id: 'abc' });
    expect(matchPath('^/v\\d+/items/(?<id>[a-z]+)$', '/v3/items/123')).toBeUndefined();
  });

  it('takes a query string written in the path as a query matcher', () => {
    expect(splitFixturePath('/orders?status=open&tag=a&tag=b')).toEqual({ path: '/orders', query: { status: 'open', tag: ['a', 'b'] } });
    expect(matchFixture(fixture({ path: '/orders?status=open' }), req({ path: '/orders', query: { status: 'open', page: '2' } })).ok).toBe(true);
    expect(matchFixture(fixture({ path: '/orders?status=open' }), req({ path: '/orders', query: { status: 'closed' } })).ok).toBe(false);
  });
});

describe('partialMatch', () => {
  it('accepts extra keys, compares arrays element by element and treats * as any present value', () => {
    expect(partialMatch({ a: 1 }, { a: 1, b: 2 })).toEqual([]);
    expect(partialMatch({ a: { b: [1, { c: 'x' }] } }, { a: { b: [1, { c: 'x', d: 0 }] } })).toEqual([]);
    expect(partialMatch({ a: [1, 2] }, { a: [1] })).toEqual(['/a: expected 2 items, got 1']);
    expect(partialMatch({ token: '*' }, { token: 'anything' })).toEqual([]);
    expect(partialMatch({ token: '*' }, {})).toEqual(['/token is missing']);
    expect(partialMatch({ n: 3, ok: true }, { n: '3', ok: 'true' })).toEqual([]);
    expect(partialMatch({ a: { b: 1 } }, { a: { b: 2 } })).toEqual(['/a/b: expected 1, got 2']);
  });
});

describe('matchFixture', () => {
  it('says why a fixture missed and ranks the closer one higher', () => {
    const wrongMethod = matchFixture(fixture({ method: 'POST', path: '/orders/:id' }), req());
    const wrongPath = matchFixture(fixture({ method: 'GET', path: '/customers' }), req());
    expect(wrongMethod).toMatchObject({ ok: false, mismatches: ['method: expected POST, got GET'] });
    expect(wrongPath).toMatchObject({ ok: false, mismatches: ['path: expected /customers, got /orders/42'] });
    if (wrongMethod.ok || wrongPath.ok) throw new Error('unreachable');
    expect(wrongMethod.score).toBeGreaterThan(wrongPath.score);
  });

  it('matches headers case-insensitively and bodies partially', () => {
    const f = fixture({ method: 'post', path: '/orders', headers: { 'X-Shop': 'acme' }, body: { order: { qty: 2 } } });
    expect(matchFixture(f, req({ method: 'POST', path: '/orders', headers: { 'x-shop': 'acme' }, body: { order: { qty: 2, sku: 'a' } } }))).toEqual({ ok: true, params: {} });
    const miss = matchFixture(f, req({ method: 'POST', path: '/orders', headers: { 'x-shop': 'other' }, body: { order: { qty: 3 } } }));
    expect(miss.ok).toBe(false);
    if (!miss.ok) expect(miss.mismatches).toEqual(['header x-shop: expected "acme", got "other"', 'body /order/qty: expected 2, got 3']);
  });
});

describe('renderTemplate', () => {
  const scope = { params: { id: '7' }, query: { page: '2' }, headers: { 'x-shop': 'acme' }, body: { qty: 3, customer: { email: 'a@b.co' }, tags: ['x'] }, method: 'POST', path: '/orders/7' };

  it('keeps the type of whole-string templates and interpolates inside text', () => {
    expect(renderTemplate({ id: '{{params.id}}', qty: '{{ body.qty }}', tags: '{{body.tags}}', missing: '{{body.nope}}' }, scope)).toEqual({ id: '7', qty: 3, tags: ['x'], missing: null });
    expect(renderTemplate(['order {{params.id}} for {{body.customer.email}} on {{headers.x-shop}} p{{query.page}}{{body.nope}}'], scope)).toEqual(['order 7 for a@b.co on acme p2']);
    expect(renderTemplate({ first: '{{body.tags.0}}', n: 5, ok: true }, scope)).toEqual({ first: 'x', n: 5, ok: true });
  });
});

describe('parseFixtures', () => {
  it('accepts a list, a single fixture or { fixtures: [...] }', () => {
    const one = { request: { path: '/a' }, response: { status: 204 } };
    expect(parseFixtures([one], 'f.json')).toHaveLength(1);
    expect(parseFixtures(one, 'f.json')).toHaveLength(1);
    expect(parseFixtures({ fixtures: [one, one] }, 'f.json')).toHaveLength(2);
  });

  it('names the file and JSON path of a broken fixture', () => {
    expect(() => parseFixtures([{ request: { path: '/ok' }, response: {} }, { request: { path: 'orders' }, response: {} }], 'fixtures/orders.json')).toThrow(
      /fixtures\/orders\.json: \/1\/request\/path must start with "\/"/,
    );
    expect(() => parseFixtures({ fixtures: [{ request: { path: '/a' }, response: { status: 99 } }] }, 'x.json')).toThrow(/x\.json: \/fixtures\/0\/response\/status/);
    expect(() => parseFixtures([{ request: { path: '^(' }, response: {} }], 'r.json')).toThrow(/not a valid regular expression/);
    expect(() => parseFixtures([{ request: { path: '/a', query: { n: 1 } }, response: {} }], 'q.json')).toThrow(/\/0\/request\/query\/n must be a string/);
    expect(() => parseFixtures([{ request: { path: '/a' }, response: {}, times: 0 }], 't.json')).toThrow(/\/0\/times must be a positive integer/);
    try {
      parseFixtures([{ response: {} }], 'm.json');
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'INVALID_INPUT', path: '/0/request' });
    }
  });
});
