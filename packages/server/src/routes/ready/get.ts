import { migrationsApplied } from '../../db/migrate.ts';
import { ProblemError } from '../../http/problem.ts';
import { defineRoute } from '../../http/route.ts';

/** Readiness: the database answers and every migration is applied. 503 (problem) otherwise. */
export default defineRoute({
  method: 'GET',
  url: '/ready',
  access: 'public',
  schema: {
    summary: 'Readiness probe',
    tags: ['operations'],
    response: {
      200: {
        type: 'object',
        required: ['status', 'checks'],
        additionalProperties: false,
        properties: {
          status: { type: 'string', enum: ['ready'] },
          checks: {
            type: 'object',
            additionalProperties: false,
            properties: { database: { type: 'string' }, migrations: { type: 'string' } },
          },
        },
      },
    },
  },
  async handler(_request, _reply, { db, startupState }) {
    const state = startupState();
    if (state !== 'ok') {
      throw new ProblemError('INTERNAL', state === 'running' ? 'The service is still starting (migrations and seeding)' : 'Start-up failed; see the service log', { status: 503, type: 'not-ready' });
    }
    try {
      await db.query('SELECT 1');
    } catch (error) {
      throw new ProblemError('INTERNAL', `Database unreachable: ${(error as Error).message}`, { status: 503, type: 'not-ready' });
    }
    if (!(await migrationsApplied(db))) {
      throw new ProblemError('INTERNAL', 'Database migrations are not applied yet; the service applies them at start', { status: 503, type: 'not-ready' });
    }
    return { status: 'ready', checks: { database: 'ok', migrations: 'ok' } };
  },
});
