import { keyActor } from '../../../../audit.ts';
import { defineRoute, principalOf } from '../../../../http/route.ts';
import { idParamsSchema } from '../../../../http/schemas.ts';
import { subscriptionSchema } from '../../../../triggers/subscriptions.ts';
import { requireTriggers } from '../../../../triggers/trigger-service.ts';

interface Body {
  trigger: string;
  config?: Record<string, unknown>;
}

/**
 * Enables a trigger on a connection. Webhook triggers with a subscribe step register
 * `<public URL>/webhooks/<endpointId>` (an unguessable id) at the provider from the sandbox, and the hook id and
 * any signing secret it returns are stored (the secret sealed by the vault); webhook triggers without one answer
 * the URL to paste into the provider's settings (`manualSetup`). Polling triggers are scheduled.
 */
export default defineRoute<{ Params: { id: string }; Body: Body }>({
  method: 'POST',
  url: '/connections/:id/triggers',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'Enable a trigger on a connection',
    description: 'Errors: 404 unknown connection or trigger, 409 already enabled, and the runtime catalogue code when the provider refused the webhook registration (e.g. AUTH_FAILED, UPSTREAM_ERROR).',
    tags: ['triggers'],
    params: idParamsSchema,
    body: {
      type: 'object',
      required: ['trigger'],
      additionalProperties: false,
      properties: {
        trigger: { type: 'string', minLength: 1, maxLength: 200, description: 'The trigger name from the connector manifest, e.g. newOrder' },
        config: { type: 'object', maxProperties: 50, description: 'Trigger options, kept with the subscription' },
      },
    },
    response: { 201: subscriptionSchema },
  },
  async handler(request, reply, { triggers }) {
    const principal = principalOf(request);
    const view = await requireTriggers(triggers).enable(principal.tenantId, keyActor(principal.keyId), request.params.id, request.body.trigger, request.body.config ?? {});
    return reply.code(201).send(view);
  },
});
