import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ProblemError } from './problem.ts';

type DoneParser = (request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void) => void;

/**
 * Why a body Fastify's JSON parser refused was refused. That parser answers one error for every failure, which told a
 * client who sent valid JSON with a `__proto__` key that the JSON was invalid; parsing again (only on this error
 * path) tells the two apart and names the syntax error's position.
 */
export function jsonBodyProblem(body: string): ProblemError {
  try {
    JSON.parse(body.charCodeAt(0) === 0xfeff ? body.slice(1) : body);
  } catch (error) {
    const reason = error instanceof SyntaxError ? error.message : 'parse error';
    return new ProblemError('INVALID_INPUT', `The request body is not valid JSON (${reason}); send a JSON document`, { type: 'malformed-json' });
  }
  return new ProblemError('INVALID_INPUT', 'The request body has a "__proto__" or "constructor": { "prototype" } key, which this service refuses; rename or remove that key', {
    type: 'forbidden-json-key',
  });
}

/**
 * Replaces the `application/json` parser with Fastify's own (same limits, prototype-poisoning refused, byte-order mark
 * allowed) whose refusals say what was wrong.
 */
export function installJsonBodyParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error') as DoneParser;
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    parse(request, body as string, (error, value) => {
      if (error && (error as { code?: string }).code === 'FST_ERR_CTP_INVALID_JSON_BODY') done(jsonBodyProblem(body as string), undefined);
      else done(error, value);
    });
  });
}
