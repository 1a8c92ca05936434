import { keyActor, recordAudit } from '../../../audit.ts';
import { ProblemError } from '../../../http/problem.ts';
import { defineRoute, principalOf } from '../../../http/route.ts';
import { idParamsSchema } from '../../../http/schemas.ts';

/**
 * Deletes a connection and its stored credentials, after disabling its triggers. Another tenant's connection is a 404.
 * While a webhook its triggers registered is still at the provider (the provider did not confirm removing it), the
 * connection stays, with its triggers stopped, and the answer is 409: its credentials are what removing the hook
 * takes. `?force=true` deletes it anyway.
 */
export default defineRoute<{ Params: { id: string }; Querystring: { force?: boolean } }>({
  method: 'DELETE',
  url: '/connections/:id',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'Delete a connection and its credentials',
    tags: ['connections'],
    params: idParamsSchema,
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        force: { type: 'boolean', default: false, description: 'Delete even when webhooks of its triggers could not be removed at the provider (remove them in the provider\'s settings)' },
      },
    },
    response: { 204: { type: 'null', description: 'Deleted' } },
  },
  async handler(request, reply, { db, vault, triggers }) {
    const principal = principalOf(request);
    const { id } = request.params;
    const actor = keyActor(principal.keyId);
    const force = request.query.force === true;
    // Hooks of triggers stopped before whose removal still waits for a retry get one more try now; then the live
    // triggers stop: locally always, at the provider best effort (each audited). With ?force=true the rows go next,
    // so no retry is scheduled (nor promised in their audit entries), as on uninstall.
    const released = (await triggers?.releaseConnections(principal.tenantId, actor, [id], { retry: !force })) ?? [];
    const hooksLeft = released.filter((o) => !o.unsubscribed && o.subscription.kind === 'webhook' && o.subscription.externalId !== null);
    // Only a hook that a later try may still remove holds the connection back; one the service gave up on (now or
    // earlier) or cannot remove at all does not, and is named in the audit entry like a forced one.
    const retried = hooksLeft.filter((o) => o.subscription.unsubscribeRetryAt !== null);
    if (retried.length > 0 && !force) {
      const list = retried.map((o) => `hook ${o.subscription.externalId} of trigger ${o.subscription.trigger} (subscription ${o.subscription.id})`).join(', ');
      throw new ProblemError(
        'CONFLICT',
        `Connection ${id} was not deleted: the provider did not confirm removing ${list}, and removing it needs this connection's credentials. Its triggers are stopped and the service keeps trying in the background (GET /connections/${id}/triggers shows how it goes); delete the connection again later, or now with ?force=true and remove the hooks in the provider's settings`,
        { type: 'hooks-not-removed' },
      );
    }
    const deleted = await db.withTenant(principal.tenantId, async (tx) => {
      // vault_secrets rows go with it (foreign key cascade).
      const result = await tx.query('DELETE FROM connectors.connections WHERE id = $1 AND tenant_id = $2', [id, principal.tenantId]);
      if (result.rowCount === 0) return false;
      const abandoned = hooksLeft.map((o) => ({ subscription: o.subscription.id, trigger: o.subscription.trigger, externalId: o.subscription.externalId }));
      await recordAudit(tx, { tenantId: principal.tenantId, actor, action: 'connection.delete', targetType: 'connection', targetId: id, ...(abandoned.length > 0 ? { details: { force, abandonedHooks: abandoned } } : {}) });
      return true;
    });
    if (!deleted) throw new ProblemError('NOT_FOUND', `No connection ${id} in your tenant; list them with GET /connections`);
    vault?.clearCache(principal.tenantId);
    return reply.code(204).send();
  },
});
