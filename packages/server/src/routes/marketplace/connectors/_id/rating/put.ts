import { defineRoute, principalOf } from '../../../../../http/route.ts';
import { iso } from '../../../../../http/schemas.ts';
import { findListing, listingParamsSchema } from '../../../shared.ts';
import { reviewSchema } from '../reviews/get.ts';

interface Body {
  stars: number;
  title?: string;
  body?: string;
}

/** One rating per tenant per connector; putting again edits it. */
export default defineRoute<{ Params: { id: string }; Body: Body }>({
  method: 'PUT',
  url: '/marketplace/connectors/:id/rating',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: "Rate and review a connector (your tenant's one rating; editable)",
    tags: ['marketplace'],
    params: listingParamsSchema,
    body: {
      type: 'object',
      required: ['stars'],
      additionalProperties: false,
      properties: {
        stars: { type: 'integer', minimum: 1, maximum: 5 },
        title: { type: 'string', maxLength: 200 },
        body: { type: 'string', maxLength: 5000 },
      },
    },
    response: { 200: reviewSchema },
  },
  async handler(request, _reply, { db }) {
    const principal = principalOf(request);
    return db.withTenant(principal.tenantId, async (tx) => {
      const listing = await findListing(tx, request.params.id);
      const { rows } = await tx.query<{ stars: number; title: string | null; body: string | null; created_at: Date; updated_at: Date }>(
        `INSERT INTO connectors.ratings (tenant_id, connector_id, stars, title, body) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, connector_id) DO UPDATE SET stars = EXCLUDED.stars, title = EXCLUDED.title, body = EXCLUDED.body, updated_at = now()
         RETURNING stars, title, body, created_at, updated_at`,
        [principal.tenantId, listing.id, request.body.stars, request.body.title ?? null, request.body.body ?? null],
      );
      const r = rows[0]!;
      return { stars: r.stars, title: r.title, body: r.body, mine: true, createdAt: iso(r.created_at), updatedAt: iso(r.updated_at) };
    });
  },
});
