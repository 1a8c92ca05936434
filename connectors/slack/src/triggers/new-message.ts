import { defineTrigger, type WebhookDelivery } from '@businessos/connector-sdk';
import { messageEventSchema } from '../schemas.ts';

/** Message subtypes that are new human messages; edits, deletions, joins and bot posts are left out. */
const NEW_MESSAGE_SUBTYPES = new Set([undefined, 'thread_broadcast', 'file_share', 'me_message']);

function innerEvent(delivery: WebhookDelivery): Record<string, unknown> | undefined {
  const body = delivery.body;
  if (!body || typeof body !== 'object' || !('type' in body) || body.type !== 'event_callback') return undefined;
  if (!('event' in body) || !body.event || typeof body.event !== 'object') return undefined;
  return { ...body.event };
}

/**
 * Slack Events API deliveries of new messages. There is no subscribe call: in the Slack app's settings, set the
 * Event Subscriptions Request URL to the trigger's webhook URL and subscribe to the bot events
 * `message.channels` (and `message.groups`, `message.im` as needed). The host answers Slack's url_verification
 * challenge and checks `X-Slack-Signature` with the app's signing secret.
 */
export const newMessage = defineTrigger({
  name: 'newMessage',
  description:
    'A new message was posted in a channel the bot is in (Events API). Bot messages, edits and deletions are ignored, so a workflow that posts back cannot trigger itself.',
  group: 'message',
  output: messageEventSchema,
  sample: { type: 'message', channel: 'C2147483705', channel_type: 'channel', user: 'U2147483697', text: 'Hello world', ts: '1355517523.000005', event_ts: '1355517523.000005', team: 'T123ABC456' },
  webhook: {
    topic: 'message.channels',
    verify: { scheme: 'slack', secret: 'config:signing_secret', toleranceSeconds: 300 },
    eventId: '/event_id',
    transform(delivery) {
      const event = innerEvent(delivery);
      if (!event || event.type !== 'message') return [];
      const subtype = typeof event.subtype === 'string' ? event.subtype : undefined;
      if (!NEW_MESSAGE_SUBTYPES.has(subtype) || event.bot_id !== undefined) return [];
      return [event];
    },
  },
});
