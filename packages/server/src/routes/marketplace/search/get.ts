import { defineRoute } from '../../../http/route.ts';
import { COUNT_LIMIT, searchListings, SORTS, type SearchSort } from '../../../marketplace/search.ts';
import { listingSummarySchema } from '../shared.ts';

interface Query {
  q?: string;
  category?: string;
  sort?: SearchSort;
  page?: number;
  pageSize?: number;
}

const LIMIT = COUNT_LIMIT.toLocaleString('en');

/** Public catalogue search; with a key, the tenant's private connectors are included. */
export default defineRoute<{ Querystring: Query }>({
  method: 'GET',
  url: '/marketplace/search',
  access: 'optional',
  schema: {
    summary: 'Search the connector catalogue',
    description: `Full-text search (name, action and trigger names, description) with prefix matching on the last word; when the words match nothing, names that look like the query (typos). Relevance ranks the exact name first; with many matches, the 200 best candidates (names containing a word, then the most installed) are ranked and the rest follow by installs. Facets count categories over all matches, ignoring the category filter (browsing without words counts the whole catalogue exactly). With words, counting stops at ${LIMIT} matches, like the "${LIMIT}+" of search engines: with more, \`total\` is ${LIMIT}, \`totalIsLowerBound\` is true, and \`total\` and every facet count mean "at least"; the results and their pages still come from every match, in the same order.`,
    tags: ['marketplace'],
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        q: { type: 'string', maxLength: 200, default: '' },
        category: { type: 'string', minLength: 1, maxLength: 100 },
        sort: { type: 'string', enum: [...SORTS], default: 'relevance' },
        page: { type: 'integer', minimum: 1, maximum: 10000, default: 1 },
        pageSize: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
      },
    },
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['results', 'total', 'totalIsLowerBound', 'page', 'pageSize', 'facets'],
        properties: {
          results: { type: 'array', items: listingSummarySchema },
          total: { type: 'integer', description: `Matches, counted up to ${LIMIT}; see totalIsLowerBound.` },
          totalIsLowerBound: { type: 'boolean', description: `True when more than ${LIMIT} matched: total and the facet counts are lower bounds.` },
          page: { type: 'integer' },
          pageSize: { type: 'integer' },
          facets: {
            type: 'object',
            additionalProperties: false,
            required: ['categories'],
            properties: {
              categories: {
                type: 'array',
                items: { type: 'object', additionalProperties: false, required: ['category', 'count'], properties: { category: { type: 'string' }, count: { type: 'integer' } } },
              },
            },
          },
        },
      },
    },
  },
  async handler(request, _reply, { db, config }) {
    const query = request.query;
    const pageSize = Math.min(query.pageSize ?? 20, config.limits.maxPageSize);
    return db.withTenant(request.principal?.tenantId ?? null, (tx) =>
      searchListings(tx, { q: query.q ?? '', ...(query.category ? { category: query.category } : {}), sort: query.sort ?? 'relevance', page: query.page ?? 1, pageSize }),
    );
  },
});
