import { defineConnector, OAuth2Auth } from '@businessos/connector-sdk';
import { addReaction } from './actions/add-reaction.ts';
import { listChannels } from './actions/list-channels.ts';
import { lookupUserByEmail } from './actions/lookup-user-by-email.ts';
import { postMessage } from './actions/post-message.ts';
import { newMessage } from './triggers/new-message.ts';

const ICON =
  'data:image/svg+xml,' +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 54 54">' +
      '<path fill="#E01E5A" d="M11.3 34a5.7 5.7 0 1 1-5.6-5.7h5.6V34zm2.9 0a5.7 5.7 0 0 1 11.3 0v14.2a5.7 5.7 0 1 1-11.3 0V34z"/>' +
      '<path fill="#36C5F0" d="M19.8 11.3a5.7 5.7 0 1 1 5.7-5.6v5.6h-5.7zm0 2.9a5.7 5.7 0 0 1 0 11.3H5.7a5.7 5.7 0 1 1 0-11.3h14.1z"/>' +
      '<path fill="#2EB67D" d="M42.5 19.8a5.7 5.7 0 1 1 5.7 5.7h-5.7v-5.7zm-2.8 0a5.7 5.7 0 0 1-11.4 0V5.7a5.7 5.7 0 1 1 11.4 0v14.1z"/>' +
      '<path fill="#ECB22E" d="M34 42.5a5.7 5.7 0 1 1-5.7 5.7v-5.7H34zm0-2.8a5.7 5.7 0 0 1 0-11.4h14.2a5.7 5.7 0 1 1 0 11.4H34z"/></svg>',
  );

/** Bot scopes the app asks for at install; each action's description names what it needs. */
export const SLACK_BOT_SCOPES = ['chat:write', 'channels:read', 'groups:read', 'channels:history', 'reactions:write', 'users:read', 'users:read.email'];

/**
 * Slack: post messages, list channels, react and look up users as a Slack app's bot, plus an Events API trigger
 * for new messages. Installed with OAuth 2.0 v2 ("Add to Slack"); the bot token is sent as a bearer token.
 */
const slack = defineConnector({
  name: 'slack',
  version: '1.0.0',
  displayName: 'Slack',
  description: 'Post messages and reactions, list channels and find users in a Slack workspace, and start workflows from new messages.',
  category: 'messaging',
  icon: ICON,
  homepage: 'https://api.slack.com/web',
  author: 'BusinessOS',
  auth: new OAuth2Auth({
    clientId: 'config.client_id',
    clientSecret: 'config.client_secret',
    authorizationUrl: 'https://slack.com/oauth/v2/authorize',
    tokenUrl: 'https://slack.com/api/oauth.v2.access',
    revokeUrl: 'https://slack.com/api/auth.revoke',
    scopes: SLACK_BOT_SCOPES,
    scopeSeparator: ',',
    // Slack's v2 flow for confidential apps has no PKCE; the client secret authenticates the exchange.
    pkce: false,
    clientAuth: 'body',
  }),
  baseUrl: 'https://slack.com/api',
  permissions: [
    'Post messages as the app\'s bot user (chat:write)',
    'See the names and details of public and private channels the bot is in (channels:read, groups:read)',
    'Read messages in public channels the bot is in, for the new-message trigger (channels:history)',
    'Add emoji reactions (reactions:write)',
    'See people in the workspace and their email addresses (users:read, users:read.email)',
  ],
  test: { method: 'POST', path: '/auth.test' },
  actions: [postMessage, listChannels, addReaction, lookupUserByEmail],
  triggers: [newMessage],
});

export default slack;
