import type { Queryable } from '../db/db.ts';

export const SORTS = ['relevance', 'installs', 'rating', 'newest'] as const;
export type SearchSort = (typeof SORTS)[number];

export interface SearchInput {
  q: string;
  category?: string;
  sort: SearchSort;
  page: number;
  pageSize: number;
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
  page: number;
  pageSize: number;
  facets: { categories: { category: string; count: number }[] };
}

/**
 * The type-ahead query: every word must match and the last one may be a prefix (`shop` finds `shopify`).
 * Words are reduced to letters and digits, so the result is always valid `to_tsquery` syntax. Null without words.
 * @example prefixQuery('stripe pay') === 'stripe & pay:*'
 */
export function prefixQuery(q: string): string | null {
  const words = q.toLowerCase().match(/[\p{L}\p{N}]+/gu);
  if (!words || words.length === 0) return null;
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

// $1 = q (text, '' for none), $2 = prefix tsquery text or NULL. Expressions are inline (not in a CTE) so the GIN
// indexes on search and on name (trigram) can serve each branch of the OR.
const MATCH = `
  m.approved AND m.version IS NOT NULL
  AND ($1 = ''
    OR m.search @@ websearch_to_tsquery('english', $1)
    OR ($2::text IS NOT NULL AND m.search @@ to_tsquery('english', $2::text))
    OR m.name % $1)`;

const RANK = `
  CASE WHEN $1 = '' THEN 0 ELSE
    ts_rank(m.search, websearch_to_tsquery('english', $1))
    + CASE WHEN $2::text IS NULL THEN 0 ELSE 0.9 * ts_rank(m.search, to_tsquery('english', $2::text)) END
    + 0.5 * similarity(m.name, $1)
    + CASE WHEN m.name = lower($1) THEN 1 ELSE 0 END
  END`;

const ORDER: Record<SearchSort, string> = {
  relevance: `${RANK} DESC, m.installs DESC, m.name`,
  installs: 'm.installs DESC, m.name',
  rating: 'm.rating_sum::float8 / nullif(m.rating_count, 0) DESC NULLS LAST, m.rating_count DESC, m.name',
  newest: 'm.created_at DESC, m.name',
};

/**
 * Full-text search over the listings visible in the transaction (global ones, plus the tenant's private ones):
 * weighted name / display name + action and trigger names / description, prefix matching on the last word, and
 * trigram similarity on the name for typos. Facets count categories over all matches, ignoring the category filter.
 */
export async function searchListings(tx: Queryable, input: SearchInput): Promise<SearchResult> {
  const q = input.q.trim();
  const px = prefixQuery(q);
  const facetRows = await tx.query<{ category: string; count: number }>(
    `SELECT coalesce(m.category, 'other') AS category, count(*)::int AS count FROM connectors.marketplace m
     WHERE ${MATCH} GROUP BY 1 ORDER BY 2 DESC, 1`,
    [q, px],
  );
  const categories = facetRows.rows.map((r) => ({ category: r.category, count: Number(r.count) }));
  const total = input.category === undefined ? categories.reduce((n, c) => n + c.count, 0) : (categories.find((c) => c.category === input.category)?.count ?? 0);
  const page = await tx.query<ListingRow>(
    `SELECT ${LISTING_SELECT} FROM ${LISTING_FROM}
     WHERE ${MATCH} AND ($3::text IS NULL OR coalesce(m.category, 'other') = $3::text)
     ORDER BY ${ORDER[input.sort]}
     LIMIT $4 OFFSET $5`,
    [q, px, input.category ?? null, input.pageSize, (input.page - 1) * input.pageSize],
  );
  return { results: page.rows.map(listingSummary), total, page: input.page, pageSize: input.pageSize, facets: { categories } };
}
