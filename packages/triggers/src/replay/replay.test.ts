import { describe, expect, it } from 'vitest';
import { createMemoryRateLimiter } from '../ratelimit/token-bucket.ts';
import { extractEventId } from './event-id.ts';
import { readPointer } from './json-pointer.ts';
import { createMemorySeenEvents } from './seen-events.ts';

describe('readPointer', () => {
  const doc = { id: 'evt_1', data: { object: { id: 'pi_1', 'a/b': 1, 'm~n': 2 } }, list: [{ x: 1 }] };
  it('follows RFC 6901 pointers', () => {
    expect(readPointer(doc, '/data/object/id')).toBe('pi_1');
    expect(readPointer(doc, '/data/object/a~1b')).toBe(1);
    expect(readPointer(doc, '/data/object/m~0n')).toBe(2);
    expect(readPointer(doc, '/list/0/x')).toBe(1);
    expect(readPointer(doc, '')).toBe(doc);
  });
  it('gives undefined for missing steps and bad pointers', () => {
    expect(readPointer(doc, '/nope/id')).toBeUndefined();
    expect(readPointer(doc, '/list/01/x')).toBeUndefined();
    expect(readPointer(doc, 'id')).toBeUndefined();
    expect(readPointer(doc, '/id/length')).toBeUndefined();
    expect(readPointer(doc, '/constructor')).toBeUndefined();
  });
});

describe('extractEventId', () => {
  it('reads a header case-insensitively or a body pointer, stringifying numbers', () => {
    expect(extractEventId('header:X-Shopify-Webhook-Id', { 'x-shopify-webhook-id': ' abc ' }, {})).toBe('abc');
    expect(extractEventId('/event_id', {}, { event_id: 'Ev123' })).toBe('Ev123');
    expect(extractEventId('/id', {}, { id: 820982911946154500 })).toBe('820982911946154500');
  });
  it('gives undefined when absent, empty, not a scalar or too long', () => {
    expect(extractEventId(undefined, {}, { id: 1 })).toBeUndefined();
    expect(extractEventId('/id', {}, { id: '' })).toBeUndefined();
    expect(extractEventId('/id', {}, { id: { nested: 1 } })).toBeUndefined();
    expect(extractEventId('/id', {}, { id: 'x'.repeat(257) })).toBeUndefined();
    expect(extractEventId('header:X-Id', {}, {})).toBeUndefined();
  });
  it('gives undefined for ids with control characters (a NUL no store keeps), so the body hash dedupes instead', () => {
    for (const id of ['evt_\u0000', '\u0000', 'a\u0001b', 'a\nb', 'a\u007fb']) expect(extractEventId('/id', {}, { id }), JSON.stringify(id)).toBeUndefined();
    expect(extractEventId('/id', {}, { id: 'évt ✓ 1' })).toBe('évt ✓ 1');
  });
});

describe('memory SeenEvents', () => {
  it('reports an id new once per endpoint until it expires or is forgotten', async () => {
    let now = 0;
    const seen = createMemorySeenEvents({ clock: { now: () => now } });
    expect(await seen.markSeen('ep1', 'evt', 60)).toBe(true);
    expect(await seen.markSeen('ep1', 'evt', 60)).toBe(false);
    expect(await seen.markSeen('ep2', 'evt', 60)).toBe(true);
    now = 60_001;
    expect(await seen.markSeen('ep1', 'evt', 60)).toBe(true);
    await seen.forget('ep1', 'evt');
    expect(await seen.markSeen('ep1', 'evt', 60)).toBe(true);
  });
  it('tells processed ids from merely seen ones, until they expire', async () => {
    let now = 0;
    const seen = createMemorySeenEvents({ clock: { now: () => now } });
    expect(await seen.markSeen('ep', 'a', 60)).toBe(true);
    expect(await seen.isProcessed('ep', 'a')).toBe(false);
    await seen.markProcessed('ep', 'a', 60);
    expect(await seen.isProcessed('ep', 'a')).toBe(true);
    expect(await seen.markSeen('ep', 'a', 60)).toBe(false);
    expect(await seen.isProcessed('ep2', 'a')).toBe(false);
    now = 61_000;
    expect(await seen.isProcessed('ep', 'a')).toBe(false);
  });
  it('stays bounded, dropping the oldest ids', async () => {
    const seen = createMemorySeenEvents({ maxEntries: 2 });
    for (const id of ['a', 'b', 'c']) await seen.markSeen('ep', id, 60);
    expect(await seen.markSeen('ep', 'c', 60)).toBe(false);
    expect(await seen.markSeen('ep', 'a', 60)).toBe(true);
  });
});

describe('memory token bucket', () => {
  it('allows a burst, then refills at the sustained rate, per key', async () => {
    const limiter = createMemoryRateLimiter({ burst: 3, perSecond: 2 });
    const takes = async (key: string, now: number, n: number) => {
      const out: boolean[] = [];
      for (let i = 0; i < n; i += 1) out.push((await limiter.take(key, now)).allowed);
      return out;
    };
    expect(await takes('a', 0, 4)).toEqual([true, true, true, false]);
    expect(await limiter.take('a', 0)).toEqual({ allowed: false, retryAfterSeconds: 1 });
    expect(await takes('b', 0, 1)).toEqual([true]);
    expect(await takes('a', 500, 2)).toEqual([true, false]);
    expect(await takes('a', 10_000, 4)).toEqual([true, true, true, false]);
  });
  it('refuses a nonsensical configuration with INVALID_INPUT', () => {
    expect(() => createMemoryRateLimiter({ burst: 0, perSecond: 1 })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    expect(() => createMemoryRateLimiter({ burst: 1, perSecond: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
  });
});
