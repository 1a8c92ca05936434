import { randomUUID } from 'node:crypto';
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { createPinnedFetch, type Vault } from '@businessos/connector-runtime';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import type { ServerConfig } from './config.ts';
import type { Db } from './db/db.ts';
import { installJsonBodyParser } from './http/json-body.ts';
import { mountRoute } from './http/mount-route.ts';
import { MAX_PARAM_LENGTH, PROBLEM_CONTENT_TYPE, problem, ProblemError, toProblem, transportProblem } from './http/problem.ts';
import type { RouteDefinition, RouteDeps, StartupState } from './http/route.ts';
import { createValidatorCompiler } from './http/validation.ts';
import type { ServiceRuntime } from './execution/service-runtime.ts';
import { registerPublishingRoutes, type PublishingDeps } from './publishing/index.ts';
import { ROUTES } from './routes/index.ts';
import type { TriggerService } from './triggers/trigger-service.ts';
import type { ExecutionQueue } from './scale/execution-queue.ts';
import { installResponseCache } from './scale/http-cache.ts';
import type { ResponseCache } from './scale/response-cache.ts';

/** What {@link buildApp} needs: everything is passed in, nothing is read from the environment. */
export interface AppOptions {
  config: ServerConfig;
  db: Db;
  /** Fastify logger options; `false` (default) for tests. */
  logger?: FastifyServerOptions['logger'];
  /** Routes to serve; defaults to every route of the service. */
  routes?: readonly RouteDefinition[];
  /**
   * Start-up work still running (migrations, bootstrap, seeding). Until it settles, requests other than liveness and
   * the API description wait for it (up to `startupWaitMs`), then get 503 if it failed or is still running.
   */
  startup?: Promise<void>;
  startupWaitMs?: number;
  /** Credential vault (runtime `createVault` over the store); without it, connections cannot hold secrets. */
  vault?: Vault;
  /** Publishing pipeline options (sandbox pool for dry loads, upload cap). */
  publishing?: Omit<PublishingDeps, 'db'>;
  /** The process's connector runtime (`createServiceRuntime`); without it execution routes answer 503. Closed by its owner. */
  runtime?: ServiceRuntime;
  /** With Redis: catalogue and installation reads are cached and invalidated on writes. Closed by its owner. */
  cache?: ResponseCache;
  /** With Redis: executions go to this queue instead of the process's runtime. Closed by its owner. */
  executionQueue?: ExecutionQueue;
  /** Trigger subscriptions, webhook ingress and the events outbox (`createTriggerService`); without it those routes answer 503. Closed by its owner. */
  triggers?: TriggerService;
  /**
   * Test and development only, like `BOS_EGRESS_ALLOW_LOOPBACK=1`: the service's own calls to a provider's OAuth2
   * endpoints (code exchange, revocation) may reach loopback mock providers over http. Defaults to the setting the
   * runtime was built with (`runtime.allowLoopback`), else false: private and loopback addresses are refused.
   */
  allowLoopbackEgress?: boolean;
}

// Routes that never need the store, answered while start-up is still running.
function needsStore(url: string | undefined): boolean {
  if (url === undefined) return true;
  return !(url === '/health' || url === '/ready' || url === '/openapi.json' || url.startsWith('/docs'));
}

const VERSION = '0.1.0';

/**
 * Builds the HTTP application without listening, ready for `app.inject()` in tests or `app.listen()` in main.
 * @example const app = await buildApp({ config, db }); const res = await app.inject({ url: '/health' });
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, db } = options;
  // Start-up state, tracked from the first tick (before any await) so a failed start-up is never unhandled.
  const startup = options.startup ?? Promise.resolve();
  let startupState: StartupState = options.startup ? 'running' : 'ok';
  startup.then(
    () => (startupState = 'ok'),
    () => (startupState = 'failed'),
  );
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: config.limits.bodyBytes,
    genReqId: () => randomUUID(),
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // Router refusals (a bad %-escape, an overlong path segment) get the envelope too, not Fastify's own JSON.
    frameworkErrors: (error, request, reply) => {
      const body = { ...toProblem(error), requestId: request.id };
      // The option is generic over route types it cannot know; this reply is a plain one.
      void (reply as FastifyReply).status(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
    },
    clientErrorHandler: answerClientError,
  });
  installJsonBodyParser(app);
  app.setValidatorCompiler(createValidatorCompiler());
  app.decorateRequest('principal', null);
  app.decorate('connectorRuntime', options.runtime);
  app.decorate('executionQueue', options.executionQueue);
  if (options.cache) installResponseCache(app, options.cache);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'BusinessOS Connectors API',
        version: VERSION,
        description: 'Marketplace, installations, connections and execution of BusinessOS connectors. Errors use application/problem+json with a stable `code`.',
      },
      servers: [{ url: config.publicUrl }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key (bos_...)' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.setErrorHandler((error, request, reply) => {
    const body = { ...toProblem(error), requestId: request.id };
    // Unexpected failures are logged with their stack (server side only); deliberate problems are not errors.
    if (body.status >= 500 && !(error instanceof ProblemError)) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: body.code, detail: body.detail }, 'request rejected');
    return reply.status(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    const body = { ...problem('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}; see /openapi.json for the routes`), requestId: request.id };
    return reply.status(404).type(PROBLEM_CONTENT_TYPE).send(body);
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  if (options.startup) {
    const waitMs = options.startupWaitMs ?? 120_000;
    app.addHook('onRequest', async (request) => {
      if (startupState === 'ok' || !needsStore(request.routeOptions.url)) return;
      if (startupState === 'running') {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([startup.catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
        clearTimeout(timer);
      }
      if (startupState === 'running') throw new ProblemError('INTERNAL', 'The service is still starting (store initialising); retry shortly', { status: 503, type: 'starting' });
      if (startupState === 'failed') throw new ProblemError('INTERNAL', 'The service failed to start; see its log', { status: 503, type: 'not-ready' });
    });
  }

  // The connections of the service's own provider calls; the same loopback setting as the runtime's egress.
  const providerFetch = createPinnedFetch({ allowLoopback: options.allowLoopbackEgress ?? options.runtime?.allowLoopback ?? false });
  app.addHook('onClose', () => providerFetch.close());
  const deps: RouteDeps = { config, db, vault: options.vault, triggers: options.triggers, startupState: () => startupState, providerFetch: providerFetch.fetch };
  for (const route of options.routes ?? ROUTES) registerRoute(app, route, deps);
  await registerPublishingRoutes(app, { db, npm: config.npm, ...options.publishing });
  return app;
}

/** Answers a request Node's HTTP parser refused with the envelope, then closes the connection (as Node would). */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    const envelope = transportProblem(error.code, maxHeaderSize);
    const body = JSON.stringify(envelope);
    socket.write(`HTTP/1.1 ${envelope.status} ${STATUS_CODES[envelope.status]}\r\nConnection: close\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }
  socket.destroy(error);
}

function registerRoute(app: FastifyInstance, route: RouteDefinition, deps: RouteDeps): void {
  const raw = route.rawBody;
  if (raw) {
    // An encapsulated scope, so the raw-bytes parser applies to this route only.
    void app.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: raw.maxBytes }, (_request, body, done) => done(null, body));
      mountRoute(scope, route, deps.db, deps);
    });
    return;
  }
  mountRoute(app, route, deps.db, deps);
}

