import { describe, expect, it } from 'vitest';
import { countText, pageCountOf, pageWindow, parseBrowseState, toBrowseSearch, updateBrowseState } from './url-state.ts';

describe('browse URL state', () => {
  it('round-trips query, category, sort and page', () => {
    const state = { q: 'slack messages', category: 'messaging', sort: 'rating' as const, page: 3 };
    const search = toBrowseSearch(state);
    expect(search).toBe('?q=slack+messages&category=messaging&sort=rating&page=3');
    expect(parseBrowseState(search)).toEqual(state);
  });

  it('leaves defaults out of the URL', () => {
    expect(toBrowseSearch({ q: '  ', category: '', sort: 'relevance', page: 1 })).toBe('');
  });

  it('ignores an unknown sort and a page that is not a positive whole number', () => {
    expect(parseBrowseState('?sort=cheapest&page=-2')).toEqual({ q: '', category: '', sort: 'relevance', page: 1 });
    expect(parseBrowseState('?page=1.5').page).toBe(1);
    expect(parseBrowseState('?page=abc').page).toBe(1);
  });

  it('goes back to page 1 when the query, category or sort changes, not when the page does', () => {
    const on4 = { q: 'a', category: '', sort: 'relevance' as const, page: 4 };
    expect(updateBrowseState(on4, { category: 'crm' }).page).toBe(1);
    expect(updateBrowseState(on4, { page: 5 }).page).toBe(5);
  });

  it('offers first, last and a window around the current page with gaps', () => {
    expect(pageWindow(5, 10)).toEqual([1, null, 4, 5, 6, null, 10]);
    expect(pageWindow(1, 3)).toEqual([1, 2, 3]);
  });
});

describe('counts that may be lower bounds', () => {
  it('reads a lower bound as "10,000+" and an exact count as it is', () => {
    expect(countText(10000, true)).toBe('10,000+');
    expect(countText(1234, false)).toBe('1,234');
    expect(countText(0, false)).toBe('0');
  });

  it('offers the next page beyond a lower bound while pages are full, and only the counted pages otherwise', () => {
    const full = { total: 10000, totalIsLowerBound: true, pageSize: 20, results: Array.from({ length: 20 }) };
    expect(pageCountOf(full, 1)).toBe(500);
    expect(pageCountOf(full, 500)).toBe(501);
    expect(pageCountOf({ ...full, results: Array.from({ length: 7 }) }, 612)).toBe(612);
    expect(pageCountOf({ total: 45, totalIsLowerBound: false, pageSize: 20, results: Array.from({ length: 5 }) }, 3)).toBe(3);
    expect(pageCountOf({ total: 0, totalIsLowerBound: false, pageSize: 20, results: [] }, 1)).toBe(1);
  });
});
