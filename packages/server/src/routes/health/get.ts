import { defineRoute } from '../../http/route.ts';

/** Liveness: the process answers. Does not touch the database. */
export default defineRoute({
  method: 'GET',
  url: '/health',
  access: 'public',
  schema: {
    summary: 'Liveness probe',
    tags: ['operations'],
    response: { 200: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } }, additionalProperties: false } },
  },
  async handler() {
    return { status: 'ok' };
  },
});
