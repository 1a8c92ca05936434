import { defineAction } from '@businessos/connector-sdk';
import { channelIdSchema, postMessageOutputSchema, tsSchema, type PostMessageOutput } from '../schemas.ts';
import { slackClient } from '../slack-api.ts';

/** POST chat.postMessage: posts a message (or a thread reply) as the app's bot user. */
export const postMessage = defineAction({
  name: 'postMessage',
  description: 'Post a message to a channel, DM or thread as the app\'s bot. The bot must be a member of private channels.',
  group: 'message',
  params: {
    type: 'object',
    properties: {
      channel: channelIdSchema,
      text: { type: 'string', maxLength: 40000, description: 'mrkdwn text; also the notification fallback when blocks are given.' },
      blocks: { type: 'array', maxItems: 50, items: { type: 'object', required: ['type'] }, description: 'Block Kit layout blocks.' },
      thread_ts: { ...tsSchema, description: 'Reply in the thread of this message.' },
      reply_broadcast: { type: 'boolean', description: 'With thread_ts: also show the reply in the channel.' },
      unfurl_links: { type: 'boolean' },
      unfurl_media: { type: 'boolean' },
      mrkdwn: { type: 'boolean', description: 'Set false to send text literally (default true).' },
      username: { type: 'string', description: 'Custom bot name (needs chat:write.customize).' },
      icon_emoji: { type: 'string', pattern: '^:[^:\\s]+:$', description: 'Custom bot icon such as :robot_face: (needs chat:write.customize).' },
    },
    required: ['channel'],
    // Text, blocks or both. Wrapped in allOf so the params type still comes from `properties`.
    allOf: [{ anyOf: [{ required: ['text'] }, { required: ['blocks'] }] }],
    additionalProperties: false,
  },
  output: postMessageOutputSchema,
  examples: [
    {
      description: 'Announce a new order in #sales',
      params: { channel: 'C1H9RESGL', text: 'New order #1001 from Jenny Rosen: $20.00' },
      output: { ok: true, channel: 'C1H9RESGL', ts: '1503435956.000247', message: { type: 'message', text: 'New order #1001 from Jenny Rosen: $20.00', ts: '1503435956.000247', bot_id: 'B19LU7CSY' } },
    },
  ],
  async execute(params, ctx) {
    return (await slackClient(ctx).post<PostMessageOutput>('/chat.postMessage', params)).data;
  },
});
