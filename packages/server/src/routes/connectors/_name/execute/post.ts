import type { FastifyReply } from 'fastify';
import { ProblemError } from '../../../../http/problem.ts';
import { defineRoute, principalOf } from '../../../../http/route.ts';
import { ExecutionFailed, prepareExecution, requireRuntime, runExecution } from '../../../../execution/executions.ts';

interface Body {
  action: string;
  params?: Record<string, unknown>;
  connection: string;
}

const metaSchema = {
  type: 'object',
  required: ['executionId', 'durationMs', 'attempts', 'httpCalls'],
  properties: {
    executionId: { type: 'string', format: 'uuid' },
    durationMs: { type: 'number' },
    attempts: { type: 'integer' },
    httpCalls: { type: 'integer' },
  },
} as const;

/**
 * Runs one action of an installed connector with one of the tenant's connections, at the installation's pinned
 * version. `?async=true` answers 202 with the execution id at once; poll `GET /executions/{id}`.
 */
export default defineRoute<{ Params: { name: string }; Body: Body; Querystring: { async?: boolean } }>({
  method: 'POST',
  url: '/connectors/:name/execute',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'Execute a connector action',
    description: 'Failures answer problem+json with the runtime catalogue `code` (e.g. RATE_LIMITED with a Retry-After header, UPSTREAM_ERROR, INVALID_INPUT with the parameter path).',
    tags: ['execution'],
    params: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string', minLength: 1, maxLength: 255 } } },
    querystring: { type: 'object', additionalProperties: false, properties: { async: { type: 'boolean', default: false } } },
    body: {
      type: 'object',
      required: ['action', 'connection'],
      additionalProperties: false,
      properties: {
        action: { type: 'string', minLength: 1, maxLength: 200 },
        params: { type: 'object' },
        connection: { type: 'string', format: 'uuid' },
      },
    },
    response: {
      200: { type: 'object', required: ['data', 'meta'], properties: { data: {}, meta: metaSchema } },
      202: { type: 'object', required: ['executionId', 'status'], properties: { executionId: { type: 'string', format: 'uuid' }, status: { type: 'string' } } },
    },
  },
  async handler(request, reply, { db }) {
    const principal = principalOf(request);
    // With Redis the queue's workers run it; otherwise this process's runtime does.
    const queue = request.server.executionQueue;
    const rt = queue ? undefined : requireRuntime(request.server.connectorRuntime);
    const prepared = await prepareExecution(db, {
      tenantId: principal.tenantId,
      connector: request.params.name,
      action: request.body.action,
      params: request.body.params ?? {},
      connectionId: request.body.connection,
    });
    if (request.query.async === true && queue) {
      try {
        await queue.submit(prepared);
      } catch (error) {
        throw executionProblem(error, request.params.name, request.body.action, reply);
      }
      return reply.code(202).send({ executionId: prepared.id, status: 'queued' });
    }
    if (request.query.async === true && rt) {
      // The outcome is recorded on the execution row; nothing awaits this promise.
      rt.background(
        runExecution(db, rt, prepared).catch((error: unknown) => {
          if (!(error instanceof ExecutionFailed)) request.log.error({ err: error, executionId: prepared.id }, 'recording an async execution failed');
        }),
      );
      return reply.code(202).send({ executionId: prepared.id, status: 'queued' });
    }
    try {
      return await (queue ? queue.run(prepared) : runExecution(db, requireRuntime(rt), prepared));
    } catch (error) {
      throw executionProblem(error, request.params.name, request.body.action, reply);
    }
  },
});

/** The problem answered for a failed execution: its catalogue code, Retry-After when it has one, and its id. */
function executionProblem(error: unknown, connector: string, action: string, reply: FastifyReply): unknown {
  if (!(error instanceof ExecutionFailed)) return error;
  if (error.data.retryAfter !== undefined) void reply.header('retry-after', String(Math.max(0, Math.ceil(error.data.retryAfter))));
  void reply.header('x-execution-id', error.meta.executionId);
  return new ProblemError(error.data.code, `${connector}.${action} failed: ${error.data.message}`, error.data.path ? { errors: [{ path: error.data.path, in: 'body', message: error.data.message }] } : {});
}
