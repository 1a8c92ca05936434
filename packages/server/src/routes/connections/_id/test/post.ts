import { randomUUID } from 'node:crypto';
import { isConnectorError, toErrorData, type ErrorData } from '@businessos/connector-sdk';
import { ExecutionFailed, requireRuntime } from '../../../../execution/executions.ts';
import type { ServiceRuntime } from '../../../../execution/service-runtime.ts';
import type { ConnectionTestJob } from '../../../../scale/execution-job.ts';
import type { ExecutionQueue } from '../../../../scale/execution-queue.ts';
import { ProblemError } from '../../../../http/problem.ts';
import { defineRoute, principalOf } from '../../../../http/route.ts';
import { idParamsSchema } from '../../../../http/schemas.ts';

/**
 * "Test connection": runs the connector's test request with the stored credentials and records the outcome on the
 * connection (`ok`, `needs_reauth` when the credentials are refused, `error` otherwise).
 */
export default defineRoute<{ Params: { id: string } }>({
  method: 'POST',
  url: '/connections/:id/test',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'Test a connection',
    tags: ['connections'],
    params: idParamsSchema,
    response: {
      200: {
        type: 'object',
        required: ['ok', 'status'],
        properties: {
          ok: { type: 'boolean' },
          status: { type: 'string', enum: ['ok', 'needs_reauth', 'error'] },
          checked: { type: 'boolean', description: 'false when the connector declares no test request' },
          error: { type: 'object', additionalProperties: true },
        },
      },
    },
  },
  async handler(request, _reply, { db }) {
    const principal = principalOf(request);
    // With Redis a worker runs the test (connector code never runs in an API process that is not a worker).
    const queue = request.server.executionQueue;
    const rt = request.server.connectorRuntime;
    if (!queue) requireRuntime(rt);
    const { id } = request.params;
    const { rows } = await db.withTenant(principal.tenantId, (tx) =>
      tx.query<{ name: string; version: string; fields: Record<string, string> }>(
        `SELECT m.name, i.version, c.fields FROM connectors.connections c
         JOIN connectors.installations i ON i.id = c.installation_id
         JOIN connectors.marketplace m ON m.id = i.connector_id WHERE c.id = $1`,
        [id],
      ),
    );
    const row = rows[0];
    if (!row) throw new ProblemError('NOT_FOUND', `No connection ${id} in your tenant; list them with GET /connections`);
    let outcome: { ok: boolean; status: 'ok' | 'needs_reauth' | 'error'; checked?: boolean; error?: Record<string, unknown> };
    try {
      const test = { id: randomUUID(), tenantId: principal.tenantId, connector: row.name, version: row.version, connectionId: id, fields: row.fields };
      const result = await runTest(test, queue, rt);
      outcome = { ok: true, status: 'ok', checked: result.checked };
    } catch (error) {
      // No worker running: the service's problem, not the connection's; answered as such and not recorded.
      if (error instanceof ProblemError && !(error instanceof ExecutionFailed)) throw error;
      const data: ErrorData = error instanceof ExecutionFailed ? error.data : isConnectorError(error) ? toErrorData(error) : { code: 'INTERNAL', message: 'The connection test failed unexpectedly' };
      const status = data.code === 'AUTH_FAILED' || data.code === 'AUTH_EXPIRED' ? 'needs_reauth' : 'error';
      outcome = { ok: false, status, error: { code: data.code, message: data.message } };
    }
    await db.withTenant(principal.tenantId, (tx) =>
      tx.query(`UPDATE connectors.connections SET status = $2, status_detail = $3, last_tested_at = now(), updated_at = now() WHERE id = $1`, [
        id,
        outcome.status,
        outcome.error ? String(outcome.error.message).slice(0, 1000) : null,
      ]),
    );
    return outcome;
  },
});

/** Runs the connector's test request on a worker (with Redis) or in this process's runtime. */
async function runTest(test: ConnectionTestJob, queue: ExecutionQueue | undefined, rt: ServiceRuntime | undefined): Promise<{ checked: boolean }> {
  if (queue) return queue.testConnection(test);
  const local = requireRuntime(rt);
  const result = await local.asTenant(test.tenantId, () =>
    local.runtime.authenticate({ tenant: test.tenantId, connector: test.connector, version: test.version, connection: { id: test.connectionId, fields: test.fields } }),
  );
  return result.data;
}
