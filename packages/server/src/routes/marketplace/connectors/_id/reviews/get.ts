import { defineRoute } from '../../../../../http/route.ts';
import { iso } from '../../../../../http/schemas.ts';
import { listingSummary } from '../../../../../marketplace/search.ts';
import { findListing, listingParamsSchema } from '../../../shared.ts';

/** A rating as others see it: no tenant identity, only whether it is the caller's own. */
export const reviewSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['stars', 'title', 'body', 'mine', 'createdAt', 'updatedAt'],
  properties: {
    stars: { type: 'integer', minimum: 1, maximum: 5 },
    title: { type: ['string', 'null'] },
    body: { type: ['string', 'null'] },
    mine: { type: 'boolean', description: "Written by the caller's tenant" },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
} as const;

interface Query {
  page?: number;
  pageSize?: number;
}

/** Ratings and reviews of a connector, newest first, with the average. */
export default defineRoute<{ Params: { id: string }; Querystring: Query }>({
  method: 'GET',
  url: '/marketplace/connectors/:id/reviews',
  access: 'optional',
  schema: {
    summary: 'Ratings and reviews of a connector',
    tags: ['marketplace'],
    params: listingParamsSchema,
    querystring: {
      type: 'object',
      additionalProperties: false,
      // Bounded so the OFFSET, (page - 1) × pageSize, stays an exact integer PostgreSQL accepts.
      properties: { page: { type: 'integer', minimum: 1, maximum: Math.floor(Number.MAX_SAFE_INTEGER / 100), default: 1 }, pageSize: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
    },
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['rating', 'items', 'page', 'pageSize'],
        properties: {
          rating: {
            type: 'object',
            additionalProperties: false,
            required: ['average', 'count'],
            properties: { average: { type: ['number', 'null'] }, count: { type: 'integer' } },
          },
          items: { type: 'array', items: reviewSchema },
          page: { type: 'integer' },
          pageSize: { type: 'integer' },
        },
      },
    },
  },
  async handler(request, _reply, { db }) {
    const tenantId = request.principal?.tenantId ?? null;
    const page = request.query.page ?? 1;
    const pageSize = request.query.pageSize ?? 20;
    return db.withTenant(tenantId, async (tx) => {
      const listing = await findListing(tx, request.params.id);
      const { rows } = await tx.query<{ stars: number; title: string | null; body: string | null; mine: boolean; created_at: Date; updated_at: Date }>(
        `SELECT stars, title, body, (tenant_id = connectors.current_tenant()) IS TRUE AS mine, created_at, updated_at
         FROM connectors.ratings WHERE connector_id = $1 ORDER BY updated_at DESC, id LIMIT $2 OFFSET $3`,
        [listing.id, pageSize, (page - 1) * pageSize],
      );
      return {
        rating: listingSummary(listing).rating,
        items: rows.map((r) => ({ stars: r.stars, title: r.title, body: r.body, mine: r.mine, createdAt: iso(r.created_at), updatedAt: iso(r.updated_at) })),
        page,
        pageSize,
      };
    });
  },
});
