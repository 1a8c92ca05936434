import type { Queryable } from '../../db/db.ts';
import { ProblemError } from '../../http/problem.ts';
import { LISTING_FROM, LISTING_SELECT, type ListingRow } from '../../marketplace/search.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `{id}` of catalogue routes: a listing id, or a connector name for convenience. */
export const listingParamsSchema = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', minLength: 1, maxLength: 64, pattern: '^[0-9a-zA-Z-]+$', description: 'Listing id (uuid) or connector name' } },
} as const;

/** A published listing visible in this transaction (private ones of the caller's tenant first), or 404. */
export async function findListing(tx: Queryable, idOrName: string): Promise<ListingRow & { created_at: Date; author: string | null; homepage: string | null; npm_package: string }> {
  const byId = UUID.test(idOrName);
  const { rows } = await tx.query<ListingRow & { created_at: Date; author: string | null; homepage: string | null; npm_package: string }>(
    `SELECT ${LISTING_SELECT}, m.created_at, m.author, m.homepage, m.npm_package FROM ${LISTING_FROM}
     WHERE ${byId ? 'm.id = $1::uuid' : 'm.name = $1'} AND m.approved AND m.version IS NOT NULL
     ORDER BY m.tenant_id NULLS LAST LIMIT 1`,
    [byId ? idOrName.toLowerCase() : idOrName],
  );
  const row = rows[0];
  if (!row) throw new ProblemError('NOT_FOUND', `No published connector "${idOrName}"; find one with GET /marketplace/search`);
  return row;
}

/** JSON Schema of a catalogue entry. */
export const listingSummarySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'displayName', 'description', 'category', 'icon', 'installs', 'rating', 'latestVersion', 'deprecation', 'verified', 'private'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    name: { type: 'string' },
    displayName: { type: 'string' },
    description: { type: ['string', 'null'] },
    category: { type: ['string', 'null'] },
    icon: { type: ['string', 'null'] },
    installs: { type: 'integer' },
    rating: {
      type: 'object',
      additionalProperties: false,
      required: ['average', 'count'],
      properties: { average: { type: ['number', 'null'] }, count: { type: 'integer' } },
    },
    latestVersion: { type: 'string' },
    deprecation: {
      type: ['object', 'null'],
      additionalProperties: false,
      required: ['message', 'replacement'],
      properties: { message: { type: 'string' }, replacement: { type: ['string', 'null'] } },
    },
    verified: { type: 'boolean', description: 'Published by the platform or a verified partner' },
    private: { type: 'boolean', description: 'Visible only to your tenant' },
  },
} as const;
