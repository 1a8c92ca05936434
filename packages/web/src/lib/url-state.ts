// The browse screen's state lives in the query string, so a search can be bookmarked and shared.

/** The sort orders the search API accepts. */
export const SORTS = ['relevance', 'installs', 'rating', 'newest'] as const;
export type Sort = (typeof SORTS)[number];

/** What the browse screen shows: query, category filter, sort and page (1-based). */
export interface BrowseState {
  q: string;
  category: string;
  sort: Sort;
  page: number;
}

export const DEFAULT_BROWSE: BrowseState = { q: '', category: '', sort: 'relevance', page: 1 };

function isSort(value: string): value is Sort {
  return (SORTS as readonly string[]).includes(value);
}

/**
 * Reads the browse state from a query string, ignoring values that are not valid (an unknown sort, page "abc").
 * @example parseBrowseState('?q=slack&page=2') // { q: 'slack', category: '', sort: 'relevance', page: 2 }
 */
export function parseBrowseState(search: string): BrowseState {
  const p = new URLSearchParams(search);
  const sort = p.get('sort') ?? '';
  const page = Number(p.get('page'));
  return {
    q: (p.get('q') ?? '').slice(0, 200),
    category: p.get('category') ?? '',
    sort: isSort(sort) ? sort : DEFAULT_BROWSE.sort,
    page: Number.isInteger(page) && page >= 1 ? page : 1,
  };
}

/** Writes the browse state as a query string (with a leading `?`, or '' when everything is default). Defaults are left out. */
export function toBrowseSearch(state: BrowseState): string {
  const p = new URLSearchParams();
  if (state.q.trim()) p.set('q', state.q.trim());
  if (state.category) p.set('category', state.category);
  if (state.sort !== DEFAULT_BROWSE.sort) p.set('sort', state.sort);
  if (state.page > 1) p.set('page', String(state.page));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Changes some fields; any change other than the page sends you back to page 1. */
export function updateBrowseState(state: BrowseState, change: Partial<BrowseState>): BrowseState {
  const next = { ...state, ...change };
  if (change.page === undefined && (change.q !== undefined || change.category !== undefined || change.sort !== undefined)) next.page = 1;
  return next;
}

/** Page numbers to offer: first, last, and a window around the current page, with `null` for gaps. */
export function pageWindow(page: number, pageCount: number, radius = 1): (number | null)[] {
  const out: (number | null)[] = [];
  for (let i = 1; i <= pageCount; i++) {
    if (i === 1 || i === pageCount || Math.abs(i - page) <= radius) out.push(i);
    else if (out[out.length - 1] !== null) out.push(null);
  }
  return out;
}

/** A count the service may have stopped at: 10000 with `atLeast` reads "10,000+". */
export function countText(n: number, atLeast: boolean): string {
  return `${n.toLocaleString('en')}${atLeast ? '+' : ''}`;
}

/**
 * How many pages the pager offers. Beyond a counted lower bound there are more pages than the count says, so a full
 * page then always offers the next one, and a partial one is the last.
 */
export function pageCountOf(result: { total: number; totalIsLowerBound: boolean; pageSize: number; results: readonly unknown[] }, page: number): number {
  const beyond = !result.totalIsLowerBound ? 1 : result.results.length === result.pageSize ? page + 1 : page;
  return Math.max(1, Math.ceil(result.total / result.pageSize), beyond);
}
