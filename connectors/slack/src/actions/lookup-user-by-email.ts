import { defineAction } from '@businessos/connector-sdk';
import { userSchema, type User } from '../schemas.ts';
import { slackClient } from '../slack-api.ts';

/** GET users.lookupByEmail: finds a workspace member by email. */
export const lookupUserByEmail = defineAction({
  name: 'lookupUserByEmail',
  description: 'Find a workspace member by email address (needs users:read.email). No match fails with NOT_FOUND.',
  group: 'user',
  idempotent: true,
  params: {
    type: 'object',
    properties: { email: { type: 'string', format: 'email' } },
    required: ['email'],
    additionalProperties: false,
  },
  output: {
    type: 'object',
    properties: { user: userSchema },
    required: ['user'],
    additionalProperties: false,
  },
  examples: [
    {
      description: 'Find who to mention for an order',
      params: { email: 'spengler@ghostbusters.example.com' },
      output: { user: { id: 'W012A3CDE', team_id: 'T012AB3C4', name: 'spengler', real_name: 'Egon Spengler', profile: { email: 'spengler@ghostbusters.example.com' } } },
    },
  ],
  async execute(params, ctx) {
    const res = await slackClient(ctx).get<{ user: User }>('/users.lookupByEmail', { query: { email: params.email } });
    return { user: res.data.user };
  },
});
