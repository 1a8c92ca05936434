import { defineTrigger } from '@businessos/connector-sdk';
import { paymentIntentSchema } from '../schemas.ts';
import { idempotencyKey, STRIPE_API_VERSION, stripeClient } from '../stripe-api.ts';

const TOPIC = 'payment_intent.succeeded';

/** The part of a Stripe webhook endpoint this trigger reads. */
interface WebhookEndpoint {
  id: string;
  secret?: string;
}

/**
 * Fires when a payment succeeds. Enabling it registers a webhook endpoint at Stripe (POST /v1/webhook_endpoints);
 * Stripe returns the endpoint's signing secret once, which the host stores and checks `Stripe-Signature` with.
 */
export const paymentIntentSucceeded = defineTrigger({
  name: 'paymentIntentSucceeded',
  displayName: 'Payment Succeeded',
  description: 'A PaymentIntent succeeded (Stripe event payment_intent.succeeded). The event is the PaymentIntent object.',
  group: 'payment',
  output: paymentIntentSchema,
  sample: { id: 'pi_3MtwBwLkdIwHu7ix28a3tqPa', object: 'payment_intent', amount: 2000, amount_received: 2000, currency: 'usd', status: 'succeeded', customer: 'cus_NffrFeUfNV2Hib', created: 1680800504, livemode: false, metadata: {} },
  webhook: {
    topic: TOPIC,
    async subscribe(ctx, { webhookUrl, topic }) {
      const form = { url: webhookUrl, enabled_events: [topic ?? TOPIC], api_version: STRIPE_API_VERSION, description: 'BusinessOS trigger: payment succeeded' };
      // Every subscription has its own ingress URL, so a key derived from it makes a retried subscribe return the same endpoint.
      const res = await stripeClient(ctx).post<WebhookEndpoint>('/v1/webhook_endpoints', form, {
        bodyType: 'form',
        headers: { 'Idempotency-Key': idempotencyKey('createWebhookEndpoint', form, undefined) },
      });
      return res.data.secret === undefined ? { externalId: res.data.id } : { externalId: res.data.id, secret: res.data.secret };
    },
    async unsubscribe(ctx, subscription) {
      await stripeClient(ctx).delete(`/v1/webhook_endpoints/${encodeURIComponent(subscription.externalId)}`);
    },
    verify: { scheme: 'stripe', secret: 'subscription', toleranceSeconds: 300 },
    eventId: '/id',
    transform(delivery) {
      const event = delivery.body;
      if (!event || typeof event !== 'object' || !('type' in event) || event.type !== TOPIC) return [];
      if (!('data' in event) || !event.data || typeof event.data !== 'object' || !('object' in event.data)) return [];
      return [event.data.object];
    },
  },
});
