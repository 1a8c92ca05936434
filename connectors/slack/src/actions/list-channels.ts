import { defineAction, type HttpResponse } from '@businessos/connector-sdk';
import { channelSchema, type Channel } from '../schemas.ts';
import { slackClient } from '../slack-api.ts';

/** Slack recommends pages of at most 200 for conversations.list. */
const PAGE_SIZE = 200;

function channelsOf(res: HttpResponse): Channel[] {
  const data = res.data;
  return data && typeof data === 'object' && 'channels' in data && Array.isArray(data.channels) ? data.channels : [];
}

function nextCursorOf(res: HttpResponse): string | undefined {
  const data = res.data;
  if (!data || typeof data !== 'object' || !('response_metadata' in data)) return undefined;
  const meta = data.response_metadata;
  // Slack ends the walk with an empty next_cursor.
  return meta && typeof meta === 'object' && 'next_cursor' in meta && typeof meta.next_cursor === 'string' && meta.next_cursor !== '' ? meta.next_cursor : undefined;
}

/** GET conversations.list: the workspace's channels, across cursor pages. */
export const listChannels = defineAction({
  name: 'listChannels',
  description: 'List channels of the workspace (public by default; private ones the bot is in with types), following Slack\'s cursor pages up to max_items.',
  group: 'channel',
  idempotent: true,
  params: {
    type: 'object',
    properties: {
      types: {
        type: 'array',
        items: { enum: ['public_channel', 'private_channel', 'mpim', 'im'] },
        uniqueItems: true,
        minItems: 1,
        default: ['public_channel'],
      },
      exclude_archived: { type: 'boolean', default: true },
      max_items: { type: 'integer', minimum: 1, maximum: 10000, default: 1000, description: 'Stop after this many channels.' },
    },
    additionalProperties: false,
  },
  output: {
    type: 'object',
    properties: { channels: { type: 'array', items: channelSchema } },
    required: ['channels'],
    additionalProperties: false,
  },
  examples: [
    {
      description: 'Public and private channels, without archived ones',
      params: { types: ['public_channel', 'private_channel'], exclude_archived: true },
      output: { channels: [{ id: 'C012AB3CD', name: 'general', is_channel: true, is_private: false, is_archived: false, is_member: true }] },
    },
  ],
  async execute(params, ctx) {
    const max = params.max_items ?? 1000;
    const slack = slackClient(ctx);
    const query = { types: (params.types ?? ['public_channel']).join(','), exclude_archived: params.exclude_archived ?? true, limit: Math.min(PAGE_SIZE, max) };
    const channels: Channel[] = [];
    // A hand-written walk rather than the SDK's paginate(): Slack filters after paging, so a page may be empty
    // and still carry a next_cursor, which must not end the walk. Short pages also mean more pages than max / limit.
    const maxPages = Math.max(10, Math.ceil(max / PAGE_SIZE) * 4);
    let cursor: string | undefined;
    for (let page = 0; page < maxPages && channels.length < max; page++) {
      const res = await slack.get('/conversations.list', { query: cursor === undefined ? query : { ...query, cursor } });
      channels.push(...channelsOf(res).slice(0, max - channels.length));
      cursor = nextCursorOf(res);
      if (cursor === undefined) break;
    }
    return { channels };
  },
});
