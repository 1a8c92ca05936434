import { ProblemError } from '../../http/problem.ts';
import { defineRoute, principalOf } from '../../http/route.ts';
import { iso } from '../../http/schemas.ts';
import { requireTriggers } from '../../triggers/trigger-service.ts';

// Positions are PostgreSQL bigints: 19 digits can go past the largest one, which the query could not compare.
const MAX_POSITION = 9223372036854775807n;

interface Query {
  subscription?: string;
  after?: string;
  limit: number;
  pending: boolean;
}

/** An outbox event on the wire. */
export const eventSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'position', 'subscriptionId', 'key', 'payload', 'occurredAt', 'deliveryId', 'createdAt', 'ackedAt'],
  properties: {
    id: { type: 'string', format: 'uuid', description: 'Stable id: acknowledge with it' },
    position: { type: 'string', pattern: '^[0-9]+$', description: 'Cursor: pass the last one as `after` to read on' },
    subscriptionId: { type: 'string', format: 'uuid' },
    key: { type: 'string', description: 'Stable per subscription: the same provider item always has the same key' },
    payload: { description: 'The event, as the trigger\'s output schema describes it' },
    occurredAt: { type: ['string', 'null'], format: 'date-time' },
    deliveryId: { type: ['string', 'null'], format: 'uuid', description: 'The webhook delivery it came from; null for polling' },
    createdAt: { type: 'string', format: 'date-time' },
    ackedAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

/**
 * Reads the tenant's trigger events from the outbox in position order. At-least-once: events stay until (and
 * after) they are acknowledged with POST /events/ack; `pending=true` reads only unacknowledged ones. Page with
 * `after` = the `next` of the previous answer.
 */
export default defineRoute<{ Querystring: Query }>({
  method: 'GET',
  url: '/events',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'Read trigger events (the events outbox)',
    tags: ['triggers'],
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        subscription: { type: 'string', format: 'uuid', description: 'Only this subscription\'s events' },
        after: { type: 'string', pattern: '^[0-9]{1,19}$', description: 'Exclusive position to read after (absent: from the start)' },
        limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
        pending: { type: 'boolean', default: false, description: 'Only events not acknowledged yet' },
      },
    },
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['items', 'next'],
        properties: {
          items: { type: 'array', items: eventSchema },
          next: { type: ['string', 'null'], description: 'The `after` of the next page (the last position read, or the given `after` when nothing new)' },
        },
      },
    },
  },
  async handler(request, _reply, { triggers }) {
    const { tenantId } = principalOf(request);
    const q = request.query;
    if (q.after !== undefined && BigInt(q.after) > MAX_POSITION) {
      throw new ProblemError('INVALID_INPUT', `\`after\` is past the largest event position (${MAX_POSITION}); pass the \`next\` of a previous answer`, {
        errors: [{ path: '/after', in: 'querystring', message: `must be at most ${MAX_POSITION}` }],
      });
    }
    const events = await requireTriggers(triggers).outbox.readAfter({ tenantId, subscriptionId: q.subscription, after: q.after, limit: q.limit, pendingOnly: q.pending });
    return {
      items: events.map((e) => ({
        id: e.id,
        position: e.position,
        subscriptionId: e.subscriptionId,
        key: e.key,
        payload: e.payload,
        occurredAt: e.occurredAt === undefined ? null : iso(new Date(e.occurredAt)),
        deliveryId: e.deliveryId ?? null,
        createdAt: iso(new Date(e.createdAt)),
        ackedAt: e.ackedAt === undefined ? null : iso(new Date(e.ackedAt)),
      })),
      next: events.at(-1)?.position ?? q.after ?? null,
    };
  },
});
