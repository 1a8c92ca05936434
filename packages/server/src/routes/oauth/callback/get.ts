import { ConnectorError, type ConnectorManifest } from '@businessos/connector-sdk';
import { exchangeCode } from '@businessos/connector-sdk/host';
import { recordAudit } from '../../../audit.ts';
import { ProblemError } from '../../../http/problem.ts';
import { defineRoute, type RouteDeps } from '../../../http/route.ts';
import { stateKey, verifyState } from '../../../installations/setup.ts';
import { findInstallation } from '../../../installations/shared.ts';
import { CONNECTION_SELECT, connectionSchema, connectionView, type ConnectionRow } from '../../connections/shared.ts';

interface Query {
  state?: string;
  code?: string;
  error?: string;
  error_description?: string;
}

interface StateRow {
  id: string;
  tenant_id: string;
  installation_id: string;
  connection_name: string;
  code_verifier: string | null;
  redirect_uri: string;
  fields: Record<string, string>;
  expired: boolean;
}

/** True when the caller is a browser (it accepts HTML), which gets a redirect to the web page instead of JSON. */
function wantsHtml(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => part.split(';')[0]!.trim().toLowerCase() === 'text/html');
}

/**
 * Where the provider sends the tenant's browser back. A browser (Accept: text/html) is sent on with a 303 to the web
 * page, `/installed?connected=<connectionId>` or `/installed?oauth_error=<code>`; JSON clients get the connection or
 * the problem. The signed state identifies the flow (no API key here); it is
 * spent on first use, whatever happens next. The code is exchanged (with the PKCE verifier) and the tokens go to the vault.
 */
export default defineRoute<{ Querystring: Query }>({
  method: 'GET',
  url: '/oauth/callback',
  access: 'public',
  schema: {
    summary: 'OAuth2 redirect target: finishes a connection',
    tags: ['connections'],
    querystring: {
      type: 'object',
      // Providers add their own parameters (Shopify: hmac, shop, host, timestamp): accept and ignore them.
      additionalProperties: true,
      properties: {
        state: { type: 'string', maxLength: 512 },
        code: { type: 'string', maxLength: 4096 },
        error: { type: 'string', maxLength: 200 },
        error_description: { type: 'string', maxLength: 2000 },
      },
    },
    response: { 200: connectionSchema },
  },
  async handler(request, reply, context) {
    if (!wantsHtml(request.headers.accept)) return finish(request.query, context);
    try {
      const connection = await finish(request.query, context);
      return reply.redirect(`/installed?connected=${encodeURIComponent(String(connection.id))}`, 303);
    } catch (e) {
      // The person lands on the page either way; the details stay in the log, never in the URL.
      if (e instanceof ProblemError) request.log.info({ code: e.code, type: e.type, detail: e.message }, 'OAuth callback failed; redirecting the browser');
      else request.log.error({ err: e }, 'OAuth callback failed unexpectedly; redirecting the browser');
      const code = e instanceof ProblemError ? e.code : 'INTERNAL';
      return reply.redirect(`/installed?oauth_error=${encodeURIComponent(code)}`, 303);
    }
  },
});

/** Spends the state, exchanges the code and stores the connection; throws a ProblemError on any failure. */
async function finish(query: Query, { db, vault, config, providerFetch }: RouteDeps): Promise<ReturnType<typeof connectionView>> {
  const { state, code, error, error_description: errorDescription } = query;
  if (!vault || !config.masterKey) throw new ProblemError('NOT_IMPLEMENTED', 'OAuth connections need a master key (BOS_MASTER_KEY)', { status: 503 });
  const id = state ? verifyState(state, stateKey(config.masterKey)) : undefined;
  if (!id) throw new ProblemError('INVALID_INPUT', 'The OAuth state is missing or was altered; start again from POST /marketplace/install/{id}', { type: 'oauth-state-invalid', errors: [{ path: '/state', in: 'querystring', message: 'is not a state this service issued' }] });

  // No tenant is known yet: the signed state is the credential, so this one lookup runs as the owner.
  const spent = await db.transaction((tx) =>
    tx.query<StateRow>(
      `UPDATE connectors.oauth_states SET used_at = now() WHERE id = $1 AND used_at IS NULL
       RETURNING id, tenant_id, installation_id, connection_name, code_verifier, redirect_uri, fields, expires_at < now() AS expired`,
      [id],
    ),
  );
  const flow = spent.rows[0];
  if (!flow) throw new ProblemError('INVALID_INPUT', 'This OAuth state was already used; start again from POST /marketplace/install/{id}', { type: 'oauth-state-used' });
  if (flow.expired) throw new ProblemError('INVALID_INPUT', 'This OAuth flow expired (10 minutes); start again from POST /marketplace/install/{id}', { type: 'oauth-state-expired' });
  if (error) throw new ProblemError('AUTH_FAILED', `The provider did not authorize the connection: ${error}${errorDescription ? ` (${errorDescription})` : ''}`, { type: 'oauth-denied' });
  if (!code) throw new ProblemError('INVALID_INPUT', 'The provider sent no authorization code', { errors: [{ path: '/code', in: 'querystring', message: 'is required' }] });

  const installation = await db.withTenant(flow.tenant_id, (tx) => findInstallation(tx, flow.installation_id));
  const manifest: ConnectorManifest = installation.manifest;
  if (manifest.auth.type !== 'oauth2') throw new ProblemError('CONFLICT', `${manifest.name} no longer uses OAuth2; install it again`);
  let credentials;
  try {
    // providerFetch applies the egress address policy (a published connector chooses its tokenUrl); exchangeCode
    // follows no redirect (the body carries the code, the PKCE verifier and the client secret).
    credentials = await exchangeCode({
      spec: manifest.auth,
      code,
      redirectUri: flow.redirect_uri,
      ...(flow.code_verifier ? { codeVerifier: flow.code_verifier } : {}),
      fields: flow.fields,
      config: config.oauthApps[manifest.name] ?? {},
      fetch: providerFetch,
    });
  } catch (e) {
    if (!(e instanceof ConnectorError)) throw e;
    if (e.code === 'AUTH_FAILED' && e.upstreamStatus !== undefined && e.upstreamStatus >= 300 && e.upstreamStatus < 400) {
      throw new ProblemError('AUTH_FAILED', `${e.message}, then connect again`.slice(0, 2_000), { type: 'oauth-token-redirect' });
    }
    if (e.code === 'EGRESS_DENIED') {
      throw new ProblemError('EGRESS_DENIED', `The service did not call the connector's token endpoint: ${e.message}. A token endpoint must be a public https URL; set the connector's tokenUrl to the provider's, then connect again`.slice(0, 2_000), { type: 'oauth-token-url-refused' });
    }
    throw new ProblemError(e.code === 'INVALID_INPUT' ? 'AUTH_FAILED' : e.code, `The provider refused the authorization code: ${e.message}`, { type: 'oauth-exchange-failed' });
  }
  const connectionId = await db.withTenant(flow.tenant_id, async (tx) => {
    const inserted = await tx.query<{ id: string }>(
      'INSERT INTO connectors.connections (tenant_id, installation_id, name, fields) VALUES ($1, $2, $3, $4) RETURNING id',
      [flow.tenant_id, flow.installation_id, flow.connection_name, JSON.stringify(flow.fields)],
    );
    await recordAudit(tx, { tenantId: flow.tenant_id, actor: 'oauth', action: 'connection.create', targetType: 'connection', targetId: inserted.rows[0]!.id, details: { connector: manifest.name, grant: 'authorization_code' } });
    return inserted.rows[0]!.id;
  });
  try {
    await vault.putCredentials(flow.tenant_id, connectionId, { ...credentials, fields: flow.fields });
  } catch (e) {
    await db.withTenant(flow.tenant_id, (tx) => tx.query('DELETE FROM connectors.connections WHERE id = $1', [connectionId]));
    throw e;
  }
  const { rows } = await db.withTenant(flow.tenant_id, (tx) => tx.query<ConnectionRow>(`${CONNECTION_SELECT} WHERE c.id = $1`, [connectionId]));
  return connectionView(rows[0]!);
}
