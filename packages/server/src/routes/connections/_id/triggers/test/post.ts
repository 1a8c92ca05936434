import { defineRoute, principalOf } from '../../../../../http/route.ts';
import { idParamsSchema } from '../../../../../http/schemas.ts';
import { requireTriggers } from '../../../../../triggers/trigger-service.ts';

/**
 * "Test trigger": the events the trigger produces, from its manifest's sample, so a workflow can be built before
 * a real event arrives. Nothing is stored or published.
 */
export default defineRoute<{ Params: { id: string }; Body: { trigger: string } }>({
  method: 'POST',
  url: '/connections/:id/triggers/test',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'Test a trigger: its sample events',
    tags: ['triggers'],
    params: idParamsSchema,
    body: { type: 'object', required: ['trigger'], additionalProperties: false, properties: { trigger: { type: 'string', minLength: 1, maxLength: 200 } } },
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['trigger', 'sample', 'events'],
        properties: {
          trigger: { type: 'string' },
          sample: { type: 'boolean', description: 'Always true: these are the manifest\'s sample events, not live ones' },
          events: { type: 'array', items: {} },
        },
      },
    },
  },
  async handler(request, _reply, { triggers }) {
    const principal = principalOf(request);
    const events = await requireTriggers(triggers).sample(principal.tenantId, request.params.id, request.body.trigger);
    return { trigger: request.body.trigger, sample: true, events };
  },
});
