import { defineRoute, principalOf } from '../../../http/route.ts';
import { requireTriggers } from '../../../triggers/trigger-service.ts';

/** Acknowledges events once the workflow side has processed them. Idempotent; unknown or foreign ids are ignored. */
export default defineRoute<{ Body: { ids: string[] } }>({
  method: 'POST',
  url: '/events/ack',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'Acknowledge trigger events',
    tags: ['triggers'],
    body: {
      type: 'object',
      required: ['ids'],
      additionalProperties: false,
      properties: { ids: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', format: 'uuid' } } },
    },
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['acked'],
        properties: { acked: { type: 'integer', minimum: 0, description: 'How many of the events were not acknowledged before' } },
      },
    },
  },
  async handler(request, _reply, { triggers }) {
    const { tenantId } = principalOf(request);
    return { acked: await requireTriggers(triggers).outbox.ack({ tenantId, eventIds: request.body.ids }) };
  },
});
