import { ProblemError } from '../../http/problem.ts';
import { defineRoute, principalOf } from '../../http/route.ts';

interface Query {
  from?: string;
  to?: string;
  groupBy?: 'connector' | 'action' | 'day';
}

const GROUP_SQL = {
  connector: 'connector_name',
  action: "connector_name || '.' || action",
  day: "to_char(date_trunc('day', created_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD')",
} as const;

/** Metered executions of the caller's tenant, grouped by connector, action or UTC day. */
export default defineRoute<{ Querystring: Query }>({
  method: 'GET',
  url: '/usage',
  access: { roles: [] },
  schema: {
    summary: "Your tenant's usage",
    tags: ['usage'],
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        from: { type: 'string', format: 'date-time', description: 'Inclusive; default 30 days ago' },
        to: { type: 'string', format: 'date-time', description: 'Exclusive; default now' },
        groupBy: { type: 'string', enum: ['connector', 'action', 'day'], default: 'connector' },
      },
    },
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['from', 'to', 'groupBy', 'items'],
        properties: {
          from: { type: 'string', format: 'date-time' },
          to: { type: 'string', format: 'date-time' },
          groupBy: { type: 'string' },
          items: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['key', 'executions', 'errors', 'totalDurationMs', 'avgDurationMs'],
              properties: {
                key: { type: 'string' },
                executions: { type: 'integer' },
                errors: { type: 'integer' },
                totalDurationMs: { type: 'integer' },
                avgDurationMs: { type: 'number' },
              },
            },
          },
        },
      },
    },
  },
  async handler(request, _reply, { db }) {
    const principal = principalOf(request);
    const to = request.query.to ? new Date(request.query.to) : new Date();
    const from = request.query.from ? new Date(request.query.from) : new Date(to.getTime() - 30 * 86_400_000);
    if (from >= to) throw new ProblemError('INVALID_INPUT', '`from` must be before `to`', { errors: [{ path: '/from', in: 'querystring', message: 'must be before to' }] });
    const groupBy = request.query.groupBy ?? 'connector';
    const { rows } = await db.withTenant(principal.tenantId, (tx) =>
      tx.query<{ key: string; executions: number; errors: number; total: number; avg: number }>(
        `SELECT ${GROUP_SQL[groupBy]} AS key, count(*)::int AS executions, count(*) FILTER (WHERE status = 'error')::int AS errors,
                coalesce(sum(duration_ms), 0)::int AS total, coalesce(avg(duration_ms), 0)::float8 AS avg
         FROM connectors.usage_records
         WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3
         GROUP BY 1 ORDER BY 1`,
        [principal.tenantId, from, to],
      ),
    );
    return {
      from: from.toISOString(),
      to: to.toISOString(),
      groupBy,
      items: rows.map((r) => ({ key: r.key, executions: r.executions, errors: r.errors, totalDurationMs: r.total, avgDurationMs: Math.round(r.avg * 100) / 100 })),
    };
  },
});
