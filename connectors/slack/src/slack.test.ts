// The Slack connector through the local simulator: an OAuth 2.0 install against the local provider, what each
// action sends (method, path, JSON body, the bot token the host adds) and how Slack's `ok: false` answers
// become typed errors.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createTestHarness } from '@businessos/connector-sdk/testing';
import { validateManifest } from '@businessos/connector-sdk/host';
import slack, { SLACK_BOT_SCOPES } from './index.ts';

const fixturesDir = fileURLToPath(new URL('../fixtures', import.meta.url));
const messageEvent: Record<string, unknown> = JSON.parse(readFileSync(new URL('../fixtures/events/message.json', import.meta.url), 'utf8'));
const BOT_TOKEN = 'xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy';
/** A harness with a stored bot token (no OAuth dance). */
const harness = () => createTestHarness({ connector: slack, fixturesDir, credentials: { accessToken: BOT_TOKEN } });

describe('slack manifest', () => {
  it('passes validate, uses OAuth 2.0 v2 with bot scopes and declares only slack.com', () => {
    expect(validateManifest(slack.manifest)).toEqual({ ok: true, issues: [] });
    expect(slack.manifest.auth).toMatchObject({
      type: 'oauth2',
      authorizationUrl: 'https://slack.com/oauth/v2/authorize',
      tokenUrl: 'https://slack.com/api/oauth.v2.access',
      scopes: SLACK_BOT_SCOPES,
      scopeSeparator: ',',
      clientId: 'config.client_id',
      clientSecret: 'config.client_secret',
    });
    expect(slack.manifest.hosts).toEqual(['slack.com']);
    expect(slack.manifest.test).toEqual({ method: 'POST', path: '/auth.test' });
  });
});

describe('OAuth install through the simulator', () => {
  it('gets a bot token from the local provider and sends it as a bearer token', async () => {
    await using h = await createTestHarness({ connector: slack, fixturesDir });
    const credentials = await h.connect();
    expect(credentials.accessToken).toEqual(expect.any(String));
    expect(h.oauth?.issued.at(-1)).toMatchObject({ grant: 'authorization_code', scope: SLACK_BOT_SCOPES.join(','), accessToken: credentials.accessToken });
    await expect(h.authenticate()).resolves.toEqual({ ok: true, checked: true, status: 200 });
    await h.run('postMessage', { channel: 'C1H9RESGL', text: 'hello' });
    expect(h.api.requests.map((r) => r.headers.authorization)).toEqual([`Bearer ${credentials.accessToken}`, `Bearer ${credentials.accessToken}`]);
  });

  it('refreshes a revoked access token with the refresh token (Slack token rotation) and carries on', async () => {
    await using h = await createTestHarness({ connector: slack, fixturesDir });
    const first = await h.connect();
    h.oauth?.revoke(first.accessToken ?? '');
    await h.run('postMessage', { channel: 'C1H9RESGL', text: 'after revoke' });
    expect(h.credentials?.accessToken).not.toBe(first.accessToken);
    expect(h.api.requests.map((r) => r.status)).toEqual([401, 200]);
  });

  it('reports a token the provider no longer knows as AUTH_FAILED when it cannot refresh', async () => {
    await using h = await createTestHarness({ connector: slack, fixturesDir });
    await h.connect();
    await expect(h.run('postMessage', { channel: 'C1H9RESGL', text: 'x' }, { credentials: { accessToken: 'xoxb-unknown' } })).rejects.toMatchObject({ code: 'AUTH_FAILED' });
  });
});

describe('postMessage', () => {
  it('posts JSON to chat.postMessage with the bot token', async () => {
    await using h = await harness();
    const out = await h.run('postMessage', { channel: 'C1H9RESGL', text: 'New order #1001', thread_ts: '1503435956.000100', unfurl_links: false });
    expect(out).toMatchObject({ ok: true, channel: 'C1H9RESGL', ts: '1503435956.000247', message: { text: 'New order #1001' } });
    const req = h.api.requests[0];
    expect(req).toMatchObject({ method: 'POST', path: '/chat.postMessage' });
    expect(req?.headers.authorization).toBe(`Bearer ${BOT_TOKEN}`);
    expect(req?.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(req?.body).toEqual({ channel: 'C1H9RESGL', text: 'New order #1001', thread_ts: '1503435956.000100', unfurl_links: false });
  });

  it('needs text or blocks', async () => {
    await using h = await harness();
    await expect(h.run('postMessage', { channel: 'C1H9RESGL' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(h.run('postMessage', { channel: 'C1H9RESGL', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*hi*' } }] })).resolves.toMatchObject({ ok: true });
    expect(h.api.requests).toHaveLength(1);
  });

  it('maps ok:false channel_not_found to NOT_FOUND at /channel', async () => {
    await using h = await harness();
    await expect(h.run('postMessage', { channel: 'C0MISSING', text: 'x' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      path: '/channel',
      upstreamStatus: 200,
      details: { error: 'channel_not_found' },
      message: expect.stringMatching(/chat\.postMessage failed with "channel_not_found"/),
    });
  });

  it('maps not_in_channel to FORBIDDEN with what to do', async () => {
    await using h = await harness();
    await expect(h.run('postMessage', { channel: 'G0PRIVATE', text: 'x' })).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/\/invite/) });
  });

  it('maps invalid_auth and token_revoked to AUTH_FAILED', async () => {
    for (const error of ['invalid_auth', 'token_revoked', 'not_authed']) {
      await using h = await harness();
      h.api.prependFixture({ request: { method: 'POST', path: '/chat.postMessage' }, response: { status: 200, body: { ok: false, error } } });
      await expect(h.run('postMessage', { channel: 'C1', text: 'x' })).rejects.toMatchObject({ code: 'AUTH_FAILED', details: { error } });
    }
  });

  it('maps HTTP 429 ratelimited with Retry-After to RATE_LIMITED with retryAfter', async () => {
    await using h = await harness();
    h.api.prependFixture({
      request: { method: 'POST', path: '/chat.postMessage' },
      response: { status: 429, headers: { 'retry-after': '30' }, body: { ok: false, error: 'ratelimited' } },
      times: 1,
    });
    await expect(h.run('postMessage', { channel: 'C1', text: 'x' })).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfter: 30, upstreamStatus: 429 });
    await expect(h.run('postMessage', { channel: 'C1', text: 'x' })).resolves.toMatchObject({ ok: true });
  });

  it('maps an undocumented error to NON_RETRYABLE and internal_error to the retryable UPSTREAM_ERROR', async () => {
    await using h = await harness();
    h.api.prependFixture({ request: { method: 'POST', path: '/chat.postMessage', body: { channel: 'C_ODD' } }, response: { body: { ok: false, error: 'something_new' } } });
    h.api.prependFixture({ request: { method: 'POST', path: '/chat.postMessage', body: { channel: 'C_DOWN' } }, response: { body: { ok: false, error: 'internal_error' } } });
    await expect(h.run('postMessage', { channel: 'C_ODD', text: 'x' })).rejects.toMatchObject({ code: 'NON_RETRYABLE', message: expect.stringMatching(/something_new/) });
    await expect(h.run('postMessage', { channel: 'C_DOWN', text: 'x' })).rejects.toMatchObject({ code: 'UPSTREAM_ERROR' });
  });
});

describe('listChannels', () => {
  it('follows response_metadata.next_cursor across pages', async () => {
    await using h = await harness();
    const out = await h.run<{ channels: { id: string; name: string }[] }>('listChannels', { types: ['public_channel', 'private_channel'] });
    expect(out.channels.map((c) => c.name)).toEqual(['general', 'random', 'secret-plans']);
    expect(h.api.requests.map((r) => [r.method, r.path, r.query])).toEqual([
      ['GET', '/conversations.list', { types: 'public_channel,private_channel', exclude_archived: 'true', limit: '200' }],
      ['GET', '/conversations.list', { types: 'public_channel,private_channel', exclude_archived: 'true', limit: '200', cursor: 'dGVhbTpDMDYxRkE1UEI=' }],
    ]);
    expect(h.api.requests[0]?.headers.authorization).toBe(`Bearer ${BOT_TOKEN}`);
  });

  it('keeps going past an empty page that still has a next_cursor', async () => {
    await using h = await harness();
    h.api.prependFixture({
      request: { method: 'GET', path: '/conversations.list', query: { cursor: '*' } },
      response: { body: { ok: true, channels: [{ id: 'C0LAST', name: 'last' }], response_metadata: { next_cursor: '' } } },
    });
    h.api.prependFixture({
      request: { method: 'GET', path: '/conversations.list' },
      response: { body: { ok: true, channels: [], response_metadata: { next_cursor: 'bmV4dA==' } } },
      times: 1,
    });
    await expect(h.run('listChannels', { exclude_archived: true })).resolves.toEqual({ channels: [{ id: 'C0LAST', name: 'last' }] });
    expect(h.api.requests.map((r) => r.query.cursor)).toEqual([undefined, 'bmV4dA==']);
  });

  it('stops at max_items', async () => {
    await using h = await harness();
    const out = await h.run<{ channels: { id: string }[] }>('listChannels', { max_items: 2 });
    expect(out.channels).toHaveLength(2);
    expect(h.api.requests).toHaveLength(1);
    expect(h.api.requests[0]?.query).toMatchObject({ types: 'public_channel', limit: '2' });
  });
});

describe('addReaction', () => {
  it('adds a reaction', async () => {
    await using h = await harness();
    await expect(h.run('addReaction', { channel: 'C1H9RESGL', timestamp: '1503435956.000247', name: 'white_check_mark' })).resolves.toEqual({ ok: true, already_reacted: false });
    expect(h.api.requests[0]).toMatchObject({ method: 'POST', path: '/reactions.add', body: { channel: 'C1H9RESGL', timestamp: '1503435956.000247', name: 'white_check_mark' } });
  });

  it('treats already_reacted as success, so retries are safe', async () => {
    await using h = await harness();
    await expect(h.run('addReaction', { channel: 'C1H9RESGL', timestamp: '1503435956.000001', name: 'eyes' })).resolves.toEqual({ ok: true, already_reacted: true });
  });

  it('maps invalid_name to INVALID_INPUT at /name; rejects colons before sending', async () => {
    await using h = await harness();
    await expect(h.run('addReaction', { channel: 'C1', timestamp: '1503435956.000247', name: 'no_such_emoji' })).rejects.toMatchObject({ code: 'INVALID_INPUT', path: '/name' });
    await expect(h.run('addReaction', { channel: 'C1', timestamp: '1503435956.000247', name: ':eyes:' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(h.api.requests).toHaveLength(1);
  });
});

describe('lookupUserByEmail', () => {
  it('finds a user', async () => {
    await using h = await harness();
    const out = await h.run('lookupUserByEmail', { email: 'spengler@ghostbusters.example.com' });
    expect(out).toMatchObject({ user: { id: 'W012A3CDE', real_name: 'Egon Spengler', profile: { email: 'spengler@ghostbusters.example.com' } } });
    expect(h.api.requests[0]).toMatchObject({ method: 'GET', path: '/users.lookupByEmail', query: { email: 'spengler@ghostbusters.example.com' } });
  });

  it('maps users_not_found to NOT_FOUND at /email', async () => {
    await using h = await harness();
    await expect(h.run('lookupUserByEmail', { email: 'nobody@example.com' })).rejects.toMatchObject({ code: 'NOT_FOUND', path: '/email' });
  });
});

describe('trigger newMessage (Events API)', () => {
  it('declares Slack signing-secret verification, the event id and no subscribe step', () => {
    expect(slack.manifest.triggers[0]).toMatchObject({
      name: 'newMessage',
      type: 'webhook',
      webhook: { verify: { scheme: 'slack', secret: 'config:signing_secret' }, eventId: '/event_id', subscribe: false, unsubscribe: false, transform: true },
    });
  });

  it('turns an event_callback into the inner message event', async () => {
    await using h = await harness();
    await expect(h.deliver('newMessage', { body: messageEvent })).resolves.toEqual([messageEvent.event]);
  });

  it('emits nothing for url_verification, bot messages, edits and other event types', async () => {
    await using h = await harness();
    const inner = messageEvent.event as Record<string, unknown>;
    const with_ = (event: Record<string, unknown>) => ({ ...messageEvent, event: { ...inner, ...event } });
    await expect(h.deliver('newMessage', { body: { token: 'x', challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', type: 'url_verification' } })).resolves.toEqual([]);
    await expect(h.deliver('newMessage', { body: with_({ bot_id: 'B19LU7CSY', subtype: 'bot_message' }) })).resolves.toEqual([]);
    await expect(h.deliver('newMessage', { body: with_({ subtype: 'message_changed' }) })).resolves.toEqual([]);
    await expect(h.deliver('newMessage', { body: with_({ type: 'reaction_added' }) })).resolves.toEqual([]);
    await expect(h.deliver('newMessage', { body: with_({ subtype: 'thread_broadcast', thread_ts: '1355517523.000001' }) })).resolves.toHaveLength(1);
  });

  it('has no subscribe step: the Request URL is set in the Slack app', async () => {
    await using h = await harness();
    await expect(h.subscribe('newMessage')).rejects.toMatchObject({ code: 'NOT_IMPLEMENTED' });
  });
});
