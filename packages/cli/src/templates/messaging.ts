import { fixturesFile, type TemplateDefinition } from './types.ts';

/** Messaging: send messages and list channels with a bot token, plus a message webhook trigger. */
export const messagingTemplate: TemplateDefinition = {
  id: 'messaging',
  summary: 'Messaging: send a message, list channels (cursor pages), bearer bot token, message webhook trigger',
  readme: () => [
    '- `sendMessage`: post a message to a channel (optionally in a thread)',
    '- `listChannels`: every channel the bot can see, following the cursor',
    '- `messageReceived` (webhook trigger): verifies the signature, answers URL checks, emits messages',
  ].join('\n'),
  files: ({ name, displayName }) => ({
    'src/index.ts': `import { BearerTokenAuth, defineConnector } from '@businessos/connector-sdk';
import { listChannels } from './actions/list-channels.ts';
import { sendMessage } from './actions/send-message.ts';
import { messageReceived } from './triggers/message-received.ts';

export default defineConnector({
  name: '${name}',
  version: '0.1.0',
  displayName: '${displayName}',
  description: 'Send messages and react to conversations in ${displayName}.',
  category: 'communication',
  auth: new BearerTokenAuth({
    label: '${displayName} bot token',
    fields: { signing_secret: { type: 'string', label: 'Signing secret', secret: true, required: false } },
  }),
  baseUrl: 'https://api.${name}.example.com',
  permissions: ['Post messages as the bot', 'Read the channel list'],
  test: { path: '/auth.test', method: 'POST' },
  actions: [sendMessage, listChannels],
  triggers: [messageReceived],
});
`,
    'src/actions/send-message.ts': `import { defineAction, UpstreamError } from '@businessos/connector-sdk';

interface PostResult {
  ok: boolean;
  error?: string;
  ts?: string;
  channel?: string;
}

export const sendMessage = defineAction({
  name: 'sendMessage',
  description: 'Post a message to a channel.',
  group: 'message',
  params: {
    channel: { type: 'string', minLength: 1, required: true, description: 'Channel id, e.g. C0123' },
    text: { type: 'string', minLength: 1, maxLength: 40000, required: true },
    threadTs: { type: 'string', description: 'Reply in this thread' },
  },
  output: { type: 'object', properties: { ts: { type: 'string' }, channel: { type: 'string' } }, required: ['ts', 'channel'] },
  examples: [{ params: { channel: 'C0123', text: 'Deploy finished :rocket:' } }],
  async execute(params, ctx) {
    const res = await ctx.http.post<PostResult>('/chat.postMessage', { channel: params.channel, text: params.text, thread_ts: params.threadTs });
    // This API answers 200 with ok:false on failure; turn that into a typed error.
    if (!res.data.ok) throw new UpstreamError(\`chat.postMessage failed: \${res.data.error ?? 'unknown error'}\`, res.status, res.data);
    return { ts: res.data.ts ?? '', channel: res.data.channel ?? params.channel };
  },
});
`,
    'src/actions/list-channels.ts': `import { collect, defineAction, paginate } from '@businessos/connector-sdk';

interface ChannelPage {
  channels: { id: string; name: string }[];
  response_metadata?: { next_cursor?: string };
}

export const listChannels = defineAction({
  name: 'listChannels',
  description: 'List the channels the bot can see.',
  group: 'channel',
  idempotent: true,
  params: { includeArchived: { type: 'boolean', default: false } },
  output: {
    type: 'object',
    properties: {
      channels: {
        type: 'array',
        items: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } }, required: ['id', 'name'] },
      },
    },
    required: ['channels'],
  },
  async execute(params, ctx) {
    const channels = await collect(
      paginate(
        ctx.http,
        { method: 'GET', url: '/conversations.list', query: { exclude_archived: !(params.includeArchived ?? false), limit: 200 } },
        {
          type: 'cursor',
          cursorParam: 'cursor',
          nextCursor: (r) => (r.data as ChannelPage).response_metadata?.next_cursor,
          items: (r) => (r.data as ChannelPage).channels,
        },
      ),
    );
    return { channels: channels.map(({ id, name }) => ({ id, name })) };
  },
});
`,
    'src/triggers/message-received.ts': `import { defineTrigger } from '@businessos/connector-sdk';

interface EventEnvelope {
  type?: string;
  event?: { type?: string; channel?: string; user?: string; text?: string; ts?: string };
}

export const messageReceived = defineTrigger({
  name: 'messageReceived',
  description: 'Fires for every new message in channels the bot is in.',
  group: 'message',
  output: {
    type: 'object',
    properties: { channel: { type: 'string' }, user: { type: 'string' }, text: { type: 'string' }, ts: { type: 'string' } },
    required: ['channel', 'ts'],
  },
  sample: { channel: 'C0123', user: 'U0456', text: 'hello', ts: '1767225600.000100' },
  webhook: {
    topic: 'message.channels',
    verify: { scheme: 'hmac', algorithm: 'sha256', header: 'X-Signature', encoding: 'hex', prefix: 'v0=', payload: 'v0:{timestamp}:{body}', timestampHeader: 'X-Request-Timestamp', toleranceSeconds: 300, secret: 'field:signing_secret' },
    eventId: '/event/ts',
    transform(delivery) {
      const envelope = delivery.body as EventEnvelope;
      // URL verification handshakes and non-message events carry nothing to emit.
      if (envelope.type !== 'event_callback' || envelope.event?.type !== 'message') return [];
      const { channel = '', user, text, ts = '' } = envelope.event;
      return [{ channel, user, text, ts }];
    },
  },
});
`,
    'fixtures/chat.json': fixturesFile([
      {
        name: 'channel not found',
        request: { method: 'POST', path: '/chat.postMessage', body: { channel: 'C_MISSING' } },
        response: { status: 200, body: { ok: false, error: 'channel_not_found' } },
      },
      {
        name: 'post a message',
        request: { method: 'POST', path: '/chat.postMessage' },
        response: { status: 200, body: { ok: true, channel: '{{body.channel}}', ts: '1767225600.000100' } },
      },
      { name: 'auth test', request: { method: 'POST', path: '/auth.test' }, response: { status: 200, body: { ok: true, user_id: 'U_BOT' } } },
    ]),
    'fixtures/conversations.json': fixturesFile([
      {
        name: 'channels, page 2',
        request: { method: 'GET', path: '/conversations.list', query: { cursor: 'next2' } },
        response: { status: 200, body: { ok: true, channels: [{ id: 'C3', name: 'random' }], response_metadata: { next_cursor: '' } } },
      },
      {
        name: 'channels, page 1',
        request: { method: 'GET', path: '/conversations.list' },
        response: { status: 200, body: { ok: true, channels: [{ id: 'C1', name: 'general' }, { id: 'C2', name: 'deploys' }], response_metadata: { next_cursor: 'next2' } } },
      },
    ]),
  }),
};
