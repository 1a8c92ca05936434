import { describe, expect, it } from 'vitest';
import { credentialsFrom, platformConfigFrom } from './run.ts';

describe('run --live credentials', () => {
  it('reads BOS_CRED_* over the credentials file, and BOS_CRED_FIELD_* as connection fields', () => {
    const creds = credentialsFrom(
      { BOS_CRED_API_KEY: 'from-env', BOS_CRED_FIELD_SHOP: 'my-store', BOS_CRED_FIELD_WEBHOOK_SECRET: 'whsec', UNRELATED: 'x' },
      { apiKey: 'from-file', username: 'ada', fields: { region: 'eu' } },
    );
    expect(creds).toEqual({ apiKey: 'from-env', username: 'ada', fields: { region: 'eu', shop: 'my-store', webhook_secret: 'whsec' } });
  });

  it('ignores empty variables and returns no fields when none are set', () => {
    expect(credentialsFrom({ BOS_CRED_TOKEN: '' })).toEqual({});
    expect(credentialsFrom({ BOS_CRED_ACCESS_TOKEN: 'at', BOS_CRED_REFRESH_TOKEN: 'rt' })).toEqual({ accessToken: 'at', refreshToken: 'rt' });
  });

  it('maps BOS_CONFIG_<KEY> to platform config keys', () => {
    expect(platformConfigFrom({ BOS_CONFIG_CLIENT_ID: 'id', BOS_CONFIG_CLIENT_SECRET: 'secret', PATH: '/bin' })).toEqual({ client_id: 'id', client_secret: 'secret' });
  });
});
