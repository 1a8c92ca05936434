import { defineAction, isConnectorError } from '@businessos/connector-sdk';
import { channelIdSchema, tsSchema } from '../schemas.ts';
import { slackClient } from '../slack-api.ts';

/** POST reactions.add: adds an emoji reaction to a message as the bot. */
export const addReaction = defineAction({
  name: 'addReaction',
  description: 'Add an emoji reaction to a message. Adding a reaction the bot already added succeeds (already_reacted: true), so retries are safe.',
  group: 'reaction',
  idempotent: true,
  params: {
    type: 'object',
    properties: {
      channel: channelIdSchema,
      timestamp: { ...tsSchema, description: 'The ts of the message to react to.' },
      name: { type: 'string', pattern: '^[^:\\s]+$', description: 'Emoji name without colons: "thumbsup", "white_check_mark".' },
    },
    required: ['channel', 'timestamp', 'name'],
    additionalProperties: false,
  },
  output: {
    type: 'object',
    properties: { ok: { const: true }, already_reacted: { type: 'boolean' } },
    required: ['ok', 'already_reacted'],
    additionalProperties: false,
  },
  examples: [
    {
      description: 'Mark a message as handled',
      params: { channel: 'C1H9RESGL', timestamp: '1503435956.000247', name: 'white_check_mark' },
      output: { ok: true, already_reacted: false },
    },
  ],
  async execute(params, ctx) {
    try {
      await slackClient(ctx).post('/reactions.add', params);
      return { ok: true as const, already_reacted: false };
    } catch (error) {
      if (isConnectorError(error) && isAlreadyReacted(error.details)) return { ok: true as const, already_reacted: true };
      throw error;
    }
  },
});

function isAlreadyReacted(details: unknown): boolean {
  return !!details && typeof details === 'object' && 'error' in details && details.error === 'already_reacted';
}
