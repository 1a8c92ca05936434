import { keyActor } from '../../../../../audit.ts';
import { defineRoute, principalOf } from '../../../../../http/route.ts';
import { uuidSchema } from '../../../../../http/schemas.ts';
import { subscriptionSchema } from '../../../../../triggers/subscriptions.ts';
import { requireTriggers } from '../../../../../triggers/trigger-service.ts';

/**
 * Disables a trigger: the subscription stops at once (its webhook URL answers 404, polls stop), then the hook is
 * removed at the provider (best effort: a failure is reported in `detail`, never blocks) and the change is audited.
 * Disabling a stopped subscription again answers it unchanged.
 */
export default defineRoute<{ Params: { id: string; subscriptionId: string } }>({
  method: 'DELETE',
  url: '/connections/:id/triggers/:subscriptionId',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'Disable a trigger (unsubscribe at the provider)',
    tags: ['triggers'],
    params: { type: 'object', required: ['id', 'subscriptionId'], additionalProperties: false, properties: { id: uuidSchema, subscriptionId: uuidSchema } },
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['subscription', 'unsubscribed'],
        properties: {
          subscription: subscriptionSchema,
          unsubscribed: { type: 'boolean', description: 'The provider confirmed removing the hook (or there was none to remove)' },
          detail: { type: 'string', description: 'Why the provider side failed; remove the hook in its settings' },
        },
      },
    },
  },
  async handler(request, _reply, { triggers }) {
    const principal = principalOf(request);
    return requireTriggers(triggers).disable(principal.tenantId, keyActor(principal.keyId), request.params.subscriptionId, request.params.id);
  },
});
