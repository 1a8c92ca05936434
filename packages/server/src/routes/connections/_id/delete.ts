import { keyActor, recordAudit } from '../../../audit.ts';
import { ProblemError } from '../../../http/problem.ts';
import { defineRoute, principalOf } from '../../../http/route.ts';
import { idParamsSchema } from '../../../http/schemas.ts';

/** Deletes a connection and its stored credentials, after disabling its triggers. Another tenant's connection is a 404. */
export default defineRoute<{ Params: { id: string } }>({
  method: 'DELETE',
  url: '/connections/:id',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'Delete a connection and its credentials',
    tags: ['connections'],
    params: idParamsSchema,
    response: { 204: { type: 'null', description: 'Deleted' } },
  },
  async handler(request, reply, { db, vault, triggers }) {
    const principal = principalOf(request);
    const { id } = request.params;
    // Its triggers stop first: locally always, at the provider best effort (each audited as trigger.disable).
    await triggers?.stopForConnections(principal.tenantId, keyActor(principal.keyId), [id]);
    const deleted = await db.withTenant(principal.tenantId, async (tx) => {
      // vault_secrets rows go with it (foreign key cascade).
      const result = await tx.query('DELETE FROM connectors.connections WHERE id = $1 AND tenant_id = $2', [id, principal.tenantId]);
      if (result.rowCount === 0) return false;
      await recordAudit(tx, { tenantId: principal.tenantId, actor: keyActor(principal.keyId), action: 'connection.delete', targetType: 'connection', targetId: id });
      return true;
    });
    if (!deleted) throw new ProblemError('NOT_FOUND', `No connection ${id} in your tenant; list them with GET /connections`);
    vault?.clearCache(principal.tenantId);
    return reply.code(204).send();
  },
});
