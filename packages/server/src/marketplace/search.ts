import type { Queryable } from '../db/db.ts';

export const SORTS = ['relevance', 'installs', 'rating', 'newest'] as const;
export type SearchSort = (typeof SORTS)[number];

export interface SearchInput {
  q: string;
  category?: string;
  sort: SearchSort;
  page: number;
  pageSize: number;
  /** Matches counted exactly (default COUNT_LIMIT); beyond it total and facet counts are lower bounds. */
  countLimit?: number;
  /**
   * Whether a one-word search may take its counts from connectors.searchable_prefix_counts and read its page in sort
   * order (default true). False always counts by visiting the matches; tests compare the two.
   */
  prefixCounts?: boolean;
}

/** One catalogue entry as search and lists show it. */
export interface ListingSummary {
  id: string;
  name: string;
  displayName: string;
  description: string | null;
  category: string | null;
  icon: string | null;
  installs: number;
  rating: { average: number | null; count: number };
  latestVersion: string;
  deprecation: { message: string; replacement: string | null } | null;
  verified: boolean;
  private: boolean;
}

export interface SearchResult {
  results: ListingSummary[];
  total: number;
  /** True when the words match more than the count limit: `total` and every facet count are then "at least". */
  totalIsLowerBound: boolean;
  page: number;
  pageSize: number;
  facets: { categories: { category: string; count: number }[] };
}

/** The words of a search, lower-cased: runs of letters and digits (everything else separates them). */
export function queryWords(q: string): string[] {
  return q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/**
 * The type-ahead query: every word must match and the last one may be a prefix (`shop` finds `shopify`).
 * Words are reduced to letters and digits, so the result is always valid `to_tsquery` syntax. Null without words.
 * @example prefixQuery('stripe pay') === 'stripe & pay:*'
 */
export function prefixQuery(q: string): string | null {
  const words = queryWords(q);
  if (words.length === 0) return null;
  return words.map((w, i) => (i === words.length - 1 ? `${w}:*` : w)).join(' & ');
}

/** Listing columns and the latest version's deprecation, shared by search and detail. */
export const LISTING_SELECT = `
  m.id, m.name, m.display_name, m.description, m.category, m.icon, m.installs, m.rating_sum, m.rating_count,
  m.version, m.verified, m.tenant_id, v.deprecation_message, v.replacement`;
export const LISTING_FROM = `
  connectors.marketplace m
  LEFT JOIN connectors.connector_versions v ON v.connector_id = m.id AND v.version = m.version`;

export interface ListingRow {
  id: string;
  name: string;
  display_name: string;
  description: string | null;
  category: string | null;
  icon: string | null;
  installs: number;
  rating_sum: number;
  rating_count: number;
  version: string;
  verified: boolean;
  tenant_id: string | null;
  deprecation_message: string | null;
  replacement: string | null;
}

export function listingSummary(row: ListingRow): ListingSummary {
  return {
    id: row.id,
    name: row.name,
    displayName: row.display_name,
    description: row.description,
    category: row.category,
    icon: row.icon,
    installs: Number(row.installs),
    rating: { average: row.rating_count > 0 ? Math.round((row.rating_sum / row.rating_count) * 100) / 100 : null, count: Number(row.rating_count) },
    latestVersion: row.version,
    deprecation: row.deprecation_message ? { message: row.deprecation_message, replacement: row.replacement } : null,
    verified: row.verified,
    private: row.tenant_id !== null,
  };
}


/**
 * How many full-text matches are scored with `ts_rank` (its cost grows with every match: a common word matches
 * tens of thousands of listings). With more matches, the candidates are the exact name match, then listings whose
 * name contains a query word, then the most installed; the rest follow the ranked ones by installs.
 */
export const RANK_LIMIT = 200;

/**
 * How many matches of a search are counted (total and facets) exactly, like the "10,000+" of search engines. Counting
 * means visiting every match's row; beyond this many, counts stop at it and the result says they are lower bounds.
 * The results themselves are never cut: pages and ranking still come from every match (see bigPageStatement).
 * One-word searches whose counts come from connectors.searchable_prefix_counts have exact facets at any size; their
 * total is still capped at this limit.
 */
export const COUNT_LIMIT = 10_000;

// What each sort orders by, besides id, category (facets), installs and name, which every hit carries. Only these
// are carried, so the matches of a common word stay small enough to be held in memory (work_mem).
const SORT_COLUMNS: Record<SearchSort, string[]> = {
  relevance: ['tier', 'rank'],
  installs: [],
  rating: ['rating_sum', 'rating_count'],
  newest: ['created_at'],
};
const ORDER: Record<SearchSort, string> = {
  relevance: 'tier, rank DESC NULLS LAST, installs DESC, name, id',
  installs: 'installs DESC, name, id',
  rating: 'rating_sum::float8 / nullif(rating_count, 0) DESC NULLS LAST, rating_count DESC, name, id',
  newest: 'created_at DESC, name, id',
};

// Parameters of every statement: $1 = category filter or NULL, $2 = page size, $3 = offset; with words, $4 = q,
// $5 = the prefix tsquery text and, for relevance, $6 = the words as LIKE patterns (`%word%`).
// Matches come from the view connectors.searchable_listings (migrations 007 and 009): the rows this tenant may find,
// from the narrow table connectors.search_entries (kept by triggers on connectors.marketplace), read so that `@@` and
// `%` can use the GIN indexes on search and on name (trigram), which row-level security forbids.
// One tsquery (the web-search form OR the prefix form), so the index is scanned once.
const TSQUERY = `(websearch_to_tsquery('english', $4) || to_tsquery('english', $5::text))`;
// For plain words (no quotes, `-` or `or`) the prefix form finds everything the web-search form finds (the same
// stems, the last one also as a prefix), so matching uses it alone: the index then reads the postings of a common
// stem once instead of twice. Ranking keeps TSQUERY, so the order does not change.
const PREFIX_TSQUERY = `to_tsquery('english', $5::text)`;

/** The tsquery that finds the matches of `q`: the prefix form alone when `q` is plain words (see PREFIX_TSQUERY). */
function matchQuery(q: string): string {
  const plain = /^[\p{L}\p{N}]+(?:\s+[\p{L}\p{N}]+)*$/u.test(q) && !queryWords(q).includes('or');
  return plain ? PREFIX_TSQUERY : TSQUERY;
}
const IN_CATEGORY = `($1::text IS NULL OR category = $1::text)`;
const RANK = `(ts_rank(m.search, ${TSQUERY}) + CASE WHEN m.name = lower($4) THEN 1 ELSE 0 END)::float8`;

// The columns a hit carries for the sort (and the facets), read from the view `m`.
function hitColumns(sort: SearchSort): { names: string; select: string } {
  const extra = SORT_COLUMNS[sort].filter((c) => c !== 'tier' && c !== 'rank');
  return {
    names: ['id', 'category', 'installs', 'name', ...extra].join(', '),
    select: `m.id, coalesce(m.category, 'other') AS category, m.installs, m.name${extra.map((c) => `, m.${c}`).join('')}`,
  };
}

// The ids of the page of `hits`, in sort order (`ord`); PAGE_ROWS reads their listings.
function pageOf(sort: SearchSort): string {
  return `page AS (
    SELECT id, row_number() OVER () AS ord FROM (
      SELECT id FROM hits WHERE ${IN_CATEGORY} ORDER BY ${ORDER[sort]} LIMIT $2 OFFSET $3) ordered)`;
}
const PAGE_ROWS = `SELECT p.ord, ${LISTING_SELECT} FROM ${LISTING_FROM} JOIN page p ON p.id = m.id`;
const WITH_FACETS = (source: string, capped: string) => `
  facets AS (SELECT category, count(*)::int AS count FROM ${source} GROUP BY category)
  SELECT f.facets, f.capped, r.* FROM
    (SELECT coalesce(json_agg(json_build_object('category', category, 'count', count) ORDER BY count DESC, category), '[]'::json) AS facets,
       ${capped} AS capped FROM facets) f
    LEFT JOIN (${PAGE_ROWS}) r ON true
  ORDER BY r.ord`;

/** Browsing without words: every visible listing is a hit, counted exactly. */
function browseStatement(sort: SearchSort): string {
  const { select } = hitColumns(sort);
  const relevance = sort === 'relevance' ? ', 0 AS tier, NULL::float8 AS rank' : '';
  return `WITH hits AS (SELECT ${select}${relevance} FROM connectors.searchable_listings m),
  ${pageOf(sort)},${WITH_FACETS('hits', 'false')}`;
}

/**
 * The first statement of a search with words: the matches' sample, facets over it, and, when the words match no
 * more than `cap` listings, the page.
 *
 * `fts` holds at most `cap` + 1 matches (read once through the GIN index). When it is not full it holds every match:
 * facets count them exactly and the page is sorted from them. When it is full (`big`), facets are lower bounds and
 * this statement's page is empty: bigPageStatement finds it without visiting every match.
 *
 * Relevance: `tier` puts full-text matches before typo guesses (there are guesses only when nothing matched, but the
 * order stays explicit); `rank` is ts_rank for at most RANK_LIMIT candidates (an exact name match first, then names
 * containing a word, then the most installed), and NULL (after them) for the rest, which only join the page when
 * the scored ones do not fill it.
 */
function countedStatement(sort: SearchSort, cap: number, match: string): string {
  const { names, select } = hitColumns(sort);
  const ranked = sort === 'relevance';
  const small = 'NOT (SELECT big FROM sample)';
  const hits = ranked
    ? `
  candidates AS (
    SELECT id FROM fts WHERE ${small} ORDER BY exact DESC, in_name DESC, installs DESC, id LIMIT ${RANK_LIMIT}
  ),
  scored AS MATERIALIZED (
    SELECT m.id, coalesce(m.category, 'other') AS category, m.installs, m.name, ${RANK} AS rank
    FROM connectors.searchable_listings m WHERE m.id IN (SELECT id FROM candidates)
  ),
  hits AS (
    SELECT id, category, installs, name, 0 AS tier, rank FROM scored
    UNION ALL
    SELECT f.id, f.category, f.installs, f.name, 0 AS tier, NULL::float8 AS rank FROM fts f
    WHERE ${small} AND (SELECT count(*) FROM scored WHERE ${IN_CATEGORY}) < $2::bigint + $3::bigint
      AND NOT EXISTS (SELECT 1 FROM scored s WHERE s.id = f.id)
    UNION ALL SELECT ${names}, 1 AS tier, rank FROM fuzzy)`
    : `
  hits AS (SELECT ${names} FROM fts WHERE ${small} UNION ALL SELECT ${names} FROM fuzzy)`;
  return `WITH
  fts AS MATERIALIZED (
    SELECT ${select}${ranked ? ', m.name = lower($4) AS exact, m.name LIKE ANY ($6::text[]) AS in_name' : ''}
    FROM connectors.searchable_listings m
    WHERE m.search @@ ${match}
    LIMIT ${cap + 1}
  ),
  sample AS MATERIALIZED (SELECT count(*) > ${cap} AS big FROM fts),
  fuzzy AS MATERIALIZED (
    SELECT ${select}${ranked ? ', similarity(m.name, $4)::float8 AS rank' : ''}
    FROM connectors.searchable_listings m
    WHERE NOT EXISTS (SELECT 1 FROM fts) AND m.name % $4
  ),${hits},
  ${pageOf(sort)},${WITH_FACETS('(SELECT category FROM fts UNION ALL SELECT category FROM fuzzy) matched', '(SELECT big FROM sample)')}`;
}

/**
 * The page of a search whose words match more than the count limit, read in sort order through the indexes that
 * give that order (installs, created_at, ...), checking the words per row, and only as many rows as the page needs.
 * It gives the same rows in the same order as sorting every match would (the integration test compares them).
 *
 * Relevance: the candidates are the best of two small sets, the matches whose name contains a word (trigram index)
 * and the RANK_LIMIT most installed matches; that is the same top RANK_LIMIT as countedStatement's, since a
 * candidate whose name contains no word is among the most installed. The unscored rest joins only when the scored
 * ones do not fill the page.
 */
function bigPageStatement(sort: SearchSort, match: string, trigramWords: boolean): string {
  const { select } = hitColumns(sort);
  // Names containing a word come from the trigram index. When every word has a trigram (3 characters or more), the
  // words are then checked row by row (`coalesce` keeps the full-text index out): AND-ing the full-text index would
  // read the postings of every match, which costs more than the few names.
  const namedMatch = trigramWords ? `coalesce(m.search, ''::tsvector) @@ ${match}` : `m.search @@ ${match}`;
  // The other sorts check the words row by row, where the full TSQUERY costs no more (and it names $4, which this
  // statement must use once).
  const inCategory = `($1::text IS NULL OR coalesce(m.category, 'other') = $1::text)`;
  const hits =
    sort === 'relevance'
      ? `
  candidates AS (
    SELECT id FROM (
      (SELECT m.id, m.name = lower($4) AS exact, true AS in_name, m.installs FROM connectors.searchable_listings m
       WHERE m.name LIKE ANY ($6::text[]) AND ${namedMatch}
       ORDER BY 2 DESC, m.installs DESC, m.id LIMIT ${RANK_LIMIT})
      UNION
      (SELECT m.id, m.name = lower($4), m.name LIKE ANY ($6::text[]), m.installs FROM connectors.searchable_listings m
       WHERE m.search @@ ${match}
       ORDER BY m.installs DESC, m.id LIMIT ${RANK_LIMIT})
    ) c ORDER BY exact DESC, in_name DESC, installs DESC, id LIMIT ${RANK_LIMIT}
  ),
  scored AS MATERIALIZED (
    SELECT ${select}, 0 AS tier, ${RANK} AS rank
    FROM connectors.searchable_listings m WHERE m.id IN (SELECT id FROM candidates)
  ),
  hits AS (
    SELECT * FROM scored
    UNION ALL
    (SELECT ${select}, 0 AS tier, NULL::float8 AS rank FROM connectors.searchable_listings m
     WHERE (SELECT count(*) FROM scored WHERE ${IN_CATEGORY}) < $2::bigint + $3::bigint AND m.search @@ ${match}
       AND ${inCategory} AND NOT EXISTS (SELECT 1 FROM scored s WHERE s.id = m.id)
     ORDER BY m.installs DESC, m.name, m.id LIMIT $2::bigint + $3::bigint))`
      : `
  hits AS (
    SELECT ${select} FROM connectors.searchable_listings m
    WHERE m.search @@ ${TSQUERY} AND ${inCategory}
    ORDER BY ${ORDER[sort]} LIMIT $2::bigint + $3::bigint)`;
  return `WITH${hits},
  ${pageOf(sort)}
  ${PAGE_ROWS} ORDER BY p.ord`;
}

interface SearchRow extends ListingRow {
  facets: { category: string; count: number }[];
  capped: boolean;
}

/**
 * Full-text search over the listings visible in the transaction (global ones, plus the tenant's private ones):
 * weighted name / display name + action and trigger names / description, prefix matching on the last word, and,
 * when the words match no listing at all, trigram similarity on the name (pg_trgm) for typos. Facets
 * count categories over all matches, ignoring the category filter; with words, up to `countLimit` matches (COUNT_LIMIT): beyond
 * it, `total` is the limit and `totalIsLowerBound` says that it and the facet counts are "at least".
 *
 * A search for one word with a short stem (type-ahead, most common words) reads its counts from
 * connectors.searchable_prefix_counts, and, when it has many matches, its page in sort order (bigPageStatement)
 * without visiting every match. Otherwise one statement when the words match up to `countLimit` listings (the
 * matches are found once, through the GIN indexes, then counted by category and sorted for the page), a second one
 * for the page beyond it. Only the page's rows are read back from connectors.marketplace (as the caller, under its
 * policies).
 */
export async function searchListings(tx: Queryable, input: SearchInput): Promise<SearchResult> {
  const q = input.q.trim();
  const px = prefixQuery(q);
  const empty = { results: [], total: 0, totalIsLowerBound: false, page: input.page, pageSize: input.pageSize, facets: { categories: [] } };
  // Words are needed to match anything: "--" or "&&" finds nothing rather than everything.
  if (q !== '' && px === null) return empty;
  const cap = input.countLimit ?? COUNT_LIMIT;
  if (!Number.isSafeInteger(cap) || cap < 1) throw new RangeError(`countLimit must be a positive integer, got ${cap}`);
  const params = [
    input.category ?? null,
    input.pageSize,
    (input.page - 1) * input.pageSize,
    ...(q === '' ? [] : [q, px]),
    ...(q !== '' && input.sort === 'relevance' ? [queryWords(q).map((w) => `%${w}%`)] : []),
  ];
  const match = matchQuery(q);
  const trigramWords = queryWords(q).every((w) => w.length >= 3);
  const inCategory = (categories: SearchResult['facets']['categories']) =>
    input.category === undefined ? categories.reduce((n, c) => n + c.count, 0) : (categories.find((c) => c.category === input.category)?.count ?? 0);
  const known = px !== null && input.prefixCounts !== false && /^[\p{L}\p{N}]+$/u.test(q) ? await prefixCounts(tx, q, px) : null;
  if (known) {
    const matches = known.categories.reduce((n, c) => n + c.count, 0);
    const counts = { total: Math.min(inCategory(known.categories), cap), totalIsLowerBound: matches > cap, page: input.page, pageSize: input.pageSize, facets: { categories: known.categories } };
    // Matches, but none in the category asked for: nothing to read (a search without matches looks for typos below).
    if (matches > 0 && counts.total === 0) return { results: [], ...counts };
    if (readsInOrder(input, matches, inCategory(known.categories), known.searchable, cap)) {
      const { rows } = await tx.query<ListingRow>(bigPageStatement(input.sort, match, trigramWords), params);
      return { results: rows.map(listingSummary), ...counts };
    }
  }
  const { rows } = await tx.query<SearchRow>(q === '' ? browseStatement(input.sort) : countedStatement(input.sort, cap, match), params);
  const categories = (rows[0]?.facets ?? []).map((c) => ({ category: c.category, count: Number(c.count) }));
  const totalIsLowerBound = rows[0]?.capped === true;
  const total = Math.min(inCategory(categories), cap);
  // Beyond the count limit the first statement's page is empty; the page is read in sort order instead.
  const pageRows = totalIsLowerBound ? (await tx.query<ListingRow>(bigPageStatement(input.sort, match, trigramWords), params)).rows : rows.filter((row) => row.id !== null);
  return { results: pageRows.map(listingSummary), total, totalIsLowerBound, page: input.page, pageSize: input.pageSize, facets: { categories } };
}

/** How many characters of a stem connectors.search_prefix_counts counts (migration 011). */
const COUNTED_PREFIX_LENGTH = 6;

// A one-word search matches the entries having a lexeme that starts with the word's stem, when the web-search form
// is that one lexeme and the prefix form is the same lexeme as a prefix: those entries are counted per category in
// connectors.searchable_prefix_counts (visible ones only, like searchable_listings). No row for any other query.
const PREFIX_COUNTS = `
  WITH forms AS (SELECT websearch_to_tsquery('english', $1) AS w, to_tsquery('english', $2::text) AS p),
  stem AS (
    SELECT substr(w::text, 2, length(w::text) - 2) AS s FROM forms
    WHERE numnode(w) = 1 AND numnode(p) = 1 AND p::text = w::text || ':*')
  SELECT
    (SELECT coalesce(sum(docs), 0)::int FROM connectors.searchable_prefix_counts WHERE prefix = '') AS searchable,
    coalesce((SELECT json_agg(json_build_object('category', category, 'count', count) ORDER BY count DESC, category) FROM (
      SELECT c.category, sum(c.docs)::int AS count FROM connectors.searchable_prefix_counts c
      WHERE c.prefix = stem.s GROUP BY c.category HAVING sum(c.docs) > 0) f), '[]'::json) AS facets
  FROM stem WHERE length(stem.s) BETWEEN 1 AND ${COUNTED_PREFIX_LENGTH}`;

/** The exact facets of a one-word search and how many visible entries can match at all; null when not counted. */
async function prefixCounts(tx: Queryable, q: string, px: string): Promise<{ categories: SearchResult['facets']['categories']; searchable: number } | null> {
  const { rows } = await tx.query<{ searchable: number; facets: { category: string; count: number }[] }>(PREFIX_COUNTS, [q, px]);
  const row = rows[0];
  if (!row) return null;
  return { categories: row.facets.map((c) => ({ category: c.category, count: Number(c.count) })), searchable: Number(row.searchable) };
}

/**
 * Whether reading the page in sort order (bigPageStatement) visits fewer rows than counting the matches would.
 * Counting visits every match up to the count limit (and beyond it still needs the page in sort order). In sort
 * order, the rows between two matches are about `searchable / matches`: the ranked candidates (relevance) cost
 * RANK_LIMIT such gaps among all matches, the page up to its end as many among the category's matches. A row read
 * in sort order (index entry, row, words checked) costs about half a counted match (measured on the search bench's
 * catalogue: `order`, 3,499 matches of 97,000, is faster in sort order by this rule, `create invoice` needs no rule).
 */
function readsInOrder(input: SearchInput, matches: number, inCategory: number, searchable: number, cap: number): boolean {
  if (matches > cap) return true;
  const pageEnd = input.page * input.pageSize;
  const inOrder = (input.sort === 'relevance' ? (RANK_LIMIT * searchable) / matches : 0) + (pageEnd * searchable) / inCategory;
  return inOrder / 2 < matches;
}
