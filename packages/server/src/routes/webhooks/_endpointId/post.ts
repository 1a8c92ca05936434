import type { ErrorCode } from '@businessos/connector-sdk';
import { ProblemError } from '../../../http/problem.ts';
import { defineRoute } from '../../../http/route.ts';
import { requireTriggers } from '../../../triggers/trigger-service.ts';

/** Largest webhook body accepted (Shopify and Stripe send well under this). */
export const WEBHOOK_MAX_BYTES = 1024 * 1024;

/**
 * Webhook ingress: where providers deliver. The body is kept as the exact bytes received and verified against the
 * signature scheme the trigger declares; the delivery is stored (committed) before the 2xx; the delivery processor then
 * turns it into events in the outbox with the connector's transform. Unknown and disabled endpoints answer the same 404.
 */
export default defineRoute<{ Params: { endpointId: string }; Body: Buffer | undefined; Querystring: Record<string, string | string[] | undefined> }>({
  method: 'POST',
  url: '/webhooks/:endpointId',
  access: 'public',
  rawBody: { maxBytes: WEBHOOK_MAX_BYTES },
  schema: {
    summary: 'Receive a webhook delivery',
    description:
      'Public: the unguessable endpoint id is the address. Errors (problem+json): 401 signature missing, wrong or outside the timestamp window; 404 unknown or disabled endpoint; 413 body over 1 MiB; 429 per-endpoint rate limit, or too many deliveries from one address to ids the service had to look up (Retry-After); 400 a NUL character in the query; 503 too many deliveries waiting to be stored (Retry-After); 5xx the delivery could not be stored (the provider retries). A 200 means the delivery is stored: its events appear in GET /events shortly after, once the connector\'s transform has run (a delivery whose transform keeps failing is marked failed, shown on its subscription). A replayed event id answers 200 with `duplicate: true` and stores nothing new. Slack\'s url_verification answers `{ challenge }`.',
    tags: ['triggers'],
    params: { type: 'object', required: ['endpointId'], additionalProperties: false, properties: { endpointId: { type: 'string', minLength: 1, maxLength: 200 } } },
    // Any parameters (the transform sees them), but validated like every other query: a NUL, which the store cannot
    // keep with the delivery, is refused with 400 here instead of failing the store as a 500 the provider retries.
    querystring: { type: 'object' },
    response: {
      200: {
        type: 'object',
        properties: {
          ok: { type: 'boolean' },
          duplicate: { type: 'boolean', description: 'The provider event was received before; nothing new was stored' },
          deliveryId: { type: 'string', description: 'The stored delivery; its events follow in GET /events (their deliveryId) once the connector has transformed it' },
          events: { type: 'integer', description: 'Events this delivery added to the outbox (only when it was transformed before the answer)' },
          challenge: { type: 'string', description: 'Slack url_verification: the challenge echoed back' },
        },
      },
    },
  },
  async handler(request, reply, { triggers }) {
    const result = await requireTriggers(triggers).receive({
      endpointId: request.params.endpointId,
      rawBody: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
      headers: request.headers,
      query: request.query,
      clientAddress: request.ip,
    });
    if (result.status >= 400) {
      const error = (result.body as { error?: { code?: ErrorCode; message?: string } }).error;
      if (result.headers['retry-after']) void reply.header('retry-after', result.headers['retry-after']);
      throw new ProblemError(error?.code ?? 'INTERNAL', error?.message ?? 'The delivery was not accepted', { status: result.status });
    }
    void reply.header('cache-control', 'no-store');
    return reply.code(result.status).send(result.body);
  },
});
