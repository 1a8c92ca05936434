// JSON Schemas of the Slack objects this connector returns, trimmed to the fields workflows use and left open
// (Slack adds fields freely).
import type { Infer } from '@businessos/connector-sdk';

/** A channel id (C…, G… for old private channels, D… for DMs) or, where Slack allows it, a #name. */
export const channelIdSchema = { type: 'string', minLength: 1, description: 'Channel id such as C0123456789 (preferred) or a channel name.' } as const;

/** A message timestamp, which is also its id within the channel: `1503435956.000247`. */
export const tsSchema = { type: 'string', pattern: '^\\d+\\.\\d+$', description: 'Message timestamp (its id in the channel), e.g. 1503435956.000247.' } as const;

export const messageSchema = {
  type: 'object',
  properties: {
    type: { type: 'string' },
    subtype: { type: 'string' },
    text: { type: 'string' },
    user: { type: 'string' },
    bot_id: { type: 'string' },
    ts: tsSchema,
    thread_ts: tsSchema,
    blocks: { type: 'array' },
  },
  required: ['ts'],
} as const;

export const postMessageOutputSchema = {
  type: 'object',
  properties: {
    ok: { const: true },
    channel: { type: 'string' },
    ts: tsSchema,
    message: messageSchema,
  },
  required: ['ok', 'channel', 'ts'],
} as const;
export type PostMessageOutput = Infer<typeof postMessageOutputSchema>;

export const channelSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    is_channel: { type: 'boolean' },
    is_private: { type: 'boolean' },
    is_archived: { type: 'boolean' },
    is_member: { type: 'boolean' },
    num_members: { type: 'integer' },
    created: { type: 'integer' },
    topic: { type: 'object', properties: { value: { type: 'string' } } },
    purpose: { type: 'object', properties: { value: { type: 'string' } } },
  },
  required: ['id'],
} as const;
export type Channel = Infer<typeof channelSchema>;

export const userSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    team_id: { type: 'string' },
    name: { type: 'string' },
    real_name: { type: 'string' },
    deleted: { type: 'boolean' },
    is_bot: { type: 'boolean' },
    is_admin: { type: 'boolean' },
    tz: { type: 'string' },
    profile: {
      type: 'object',
      properties: {
        email: { type: 'string' },
        display_name: { type: 'string' },
        real_name: { type: 'string' },
        title: { type: 'string' },
        image_72: { type: 'string' },
      },
    },
  },
  required: ['id'],
} as const;
export type User = Infer<typeof userSchema>;

/** A `message` event of the Events API, as the trigger emits it. */
export const messageEventSchema = {
  type: 'object',
  properties: {
    type: { const: 'message' },
    subtype: { type: 'string' },
    channel: { type: 'string' },
    channel_type: { enum: ['channel', 'group', 'im', 'mpim', 'app_home'] },
    user: { type: 'string' },
    text: { type: 'string' },
    ts: tsSchema,
    thread_ts: tsSchema,
    event_ts: { type: 'string' },
    team: { type: 'string' },
  },
  required: ['type', 'channel', 'ts'],
} as const;
