import type { ConnectorManifest } from '@businessos/connector-sdk';
import { revokeToken } from '@businessos/connector-sdk/host';
import { keyActor, recordAudit } from '../../../audit.ts';
import { ProblemError } from '../../../http/problem.ts';
import { defineRoute, principalOf } from '../../../http/route.ts';
import { idParamsSchema } from '../../../http/schemas.ts';
import { findInstallation } from '../../../installations/shared.ts';

/** A connection whose tokens could not be revoked at the provider, and why. */
export interface RevokeFailure {
  connectionId: string;
  reason: string;
}

/** A trigger subscription stopped by the uninstall whose hook the provider did not confirm removing, and why. */
export interface UnsubscribeFailure {
  subscriptionId: string;
  connectionId: string;
  trigger: string;
  reason: string;
}

/** What an uninstall did at the providers. */
export interface UninstallSummary {
  /** Connections whose tokens the provider accepted to revoke. */
  revoked: number;
  revokeFailures: RevokeFailure[];
  /**
   * Webhook subscriptions stopped here whose hook may still be registered at the provider (it keeps calling a URL
   * that now answers 404): remove them in the provider's settings.
   */
  unsubscribeFailures: UnsubscribeFailure[];
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Uninstalls a connector from the caller's tenant. Its connections' triggers are disabled first (unsubscribed at the
 * provider, best effort). OAuth2 tokens are first revoked at the provider where the auth
 * spec declares a `revokeUrl` (best effort: failures are reported, never block); then the installation, its
 * connections, their vault secrets and pending OAuth states go in one transaction (foreign key cascades), with an
 * audit entry. Another tenant's installation is a 404.
 */
export default defineRoute<{ Params: { id: string } }>({
  method: 'DELETE',
  url: '/installations/:id',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'Uninstall a connector: revoke tokens, delete its connections and credentials',
    tags: ['installations'],
    params: idParamsSchema,
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['revoked', 'revokeFailures', 'unsubscribeFailures'],
        properties: {
          revoked: { type: 'integer', minimum: 0 },
          revokeFailures: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['connectionId', 'reason'],
              properties: { connectionId: { type: 'string', format: 'uuid' }, reason: { type: 'string' } },
            },
          },
          unsubscribeFailures: {
            type: 'array',
            description: 'Trigger subscriptions stopped here whose webhook the provider did not confirm removing; remove those hooks in the provider\'s settings',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['subscriptionId', 'connectionId', 'trigger', 'reason'],
              properties: {
                subscriptionId: { type: 'string', format: 'uuid' },
                connectionId: { type: 'string', format: 'uuid' },
                trigger: { type: 'string' },
                reason: { type: 'string' },
              },
            },
          },
        },
      },
    },
  },
  async handler(request, _reply, { db, vault, config, triggers, providerFetch }): Promise<UninstallSummary> {
    const principal = principalOf(request);
    const { id } = request.params;
    // Row-level security hides other tenants' rows, so their installation ids are simply not found.
    const { installation, connectionIds } = await db.withTenant(principal.tenantId, async (tx) => {
      const found = await findInstallation(tx, id);
      const { rows } = await tx.query<{ id: string }>('SELECT id FROM connectors.connections WHERE installation_id = $1 AND tenant_id = $2 ORDER BY created_at', [id, principal.tenantId]);
      return { installation: found, connectionIds: rows.map((r) => r.id) };
    });

    // Triggers stop before the tokens go (unsubscribing needs them): locally always, at the provider best effort.
    // Hooks of triggers stopped before whose removal waits for a retry get one last try: their rows go with the connections.
    const released = (await triggers?.releaseConnections(principal.tenantId, keyActor(principal.keyId), connectionIds, { retry: false })) ?? [];
    const unsubscribeFailures: UnsubscribeFailure[] = released
      .filter((o) => !o.unsubscribed)
      .map((o) => ({ subscriptionId: o.subscription.id, connectionId: o.subscription.connectionId, trigger: o.subscription.trigger, reason: o.detail ?? 'The provider did not confirm removing the hook; remove it in the provider\'s settings' }));

    const summary: UninstallSummary = { revoked: 0, revokeFailures: [], unsubscribeFailures };
    const manifest: ConnectorManifest = installation.manifest;
    const auth = manifest.auth;
    if (auth.type === 'oauth2' && auth.revokeUrl && vault) {
      // Quoted without its query or fragment: a connector may put a key there, and reasons are shown and stored.
      const revokeAt = auth.revokeUrl.replace(/[?#].*$/s, '');
      for (const connectionId of connectionIds) {
        try {
          const credentials = await vault.getCredentials(principal.tenantId, connectionId);
          // The refresh token first: revoking it also ends the access tokens issued under it (RFC 7009 §2.1).
          const tokens: [string, 'refresh_token' | 'access_token'][] = [];
          if (credentials?.refreshToken) tokens.push([credentials.refreshToken, 'refresh_token']);
          if (credentials?.accessToken) tokens.push([credentials.accessToken, 'access_token']);
          if (tokens.length === 0) continue;
          const refused: string[] = [];
          for (const [token, hint] of tokens) {
            // providerFetch: the egress address policy (the connector chose revokeUrl); revokeToken follows no redirect.
            const ok = await revokeToken({ spec: auth, token, tokenTypeHint: hint, fields: credentials?.fields ?? {}, config: config.oauthApps[manifest.name] ?? {}, fetch: providerFetch });
            if (!ok) refused.push(hint);
          }
          if (refused.length === 0) summary.revoked += 1;
          else summary.revokeFailures.push({ connectionId, reason: `The provider refused to revoke the ${refused.join(' and ')} at ${revokeAt}; revoke access in the provider's account settings` });
        } catch (e) {
          summary.revokeFailures.push({ connectionId, reason: `Could not revoke the tokens at ${revokeAt}: ${errorText(e)}; revoke access in the provider's account settings` });
        }
      }
    }

    const deleted = await db.withTenant(principal.tenantId, async (tx) => {
      // Connections, their vault_secrets and pending oauth_states go with it (foreign key cascades); the
      // marketplace install counter is decremented by the installations trigger.
      const result = await tx.query('DELETE FROM connectors.installations WHERE id = $1 AND tenant_id = $2', [id, principal.tenantId]);
      if (result.rowCount === 0) return false;
      await recordAudit(tx, {
        tenantId: principal.tenantId,
        actor: keyActor(principal.keyId),
        action: 'connector.uninstall',
        targetType: 'installation',
        targetId: id,
        details: { connector: installation.name, version: installation.version, connections: connectionIds, revoked: summary.revoked, revokeFailures: summary.revokeFailures },
      });
      return true;
    });
    if (!deleted) throw new ProblemError('NOT_FOUND', `No installation ${id} in your tenant; list them with GET /installations`);
    vault?.clearCache(principal.tenantId);
    return summary;
  },
});
