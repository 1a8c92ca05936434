import type { FastifyReply, FastifyRequest, FastifySchema, RouteGenericInterface } from 'fastify';
import type { ServerConfig } from '../config.ts';
import type { Vault } from '@businessos/connector-runtime';
import type { Db } from '../db/db.ts';
import type { Principal, Role } from './api-key.ts';
import type { TriggerService } from '../triggers/trigger-service.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, set by authentication on non-public routes; null on public ones. */
    principal: Principal | null;
  }
}

/** Whether start-up work (migrations, bootstrap, seeding) has finished. */
export type StartupState = 'running' | 'ok' | 'failed';

/** What every route handler receives besides the request. */
export interface RouteDeps {
  config: ServerConfig;
  db: Db;
  /** Encrypts connection credentials; undefined when no master key is configured (connections then refuse secrets). */
  vault: Vault | undefined;
  /** Trigger subscriptions, webhook ingress and the events outbox; undefined without a runtime (no master key). */
  triggers: TriggerService | undefined;
  startupState(): StartupState;
  /**
   * The fetch for the service's own calls to URLs a connector's manifest names (OAuth2 code exchange and token
   * revocation): the runtime's egress address policy after DNS resolution (no private, loopback, link-local or
   * metadata address; loopback only in test mode), https only, no redirect followed, a timeout and a response cap.
   * A published connector chooses these URLs: plain fetch would let its tokenUrl make the service POST into its own network.
   */
  providerFetch: typeof fetch;
}

/**
 * Who may call a route: anyone (`public`); anyone, but a key when sent is checked and identifies the tenant
 * (`optional`, the public catalogue); or a valid key holding at least one of `roles` (any key when empty).
 */
export type RouteAccess = 'public' | 'optional' | { roles: readonly Role[] };

/** One HTTP route, declared in its own file under src/routes/ mirroring its URL. */
export interface RouteDefinition<G extends RouteGenericInterface = RouteGenericInterface> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  access: RouteAccess;
  /** Request and response JSON schemas; the 4xx/5xx error envelope is added for every route. */
  schema: FastifySchema & { summary: string; tags: string[] };
  /**
   * Keep the body as the exact bytes received (`request.body` is a Buffer, whatever the content type), up to
   * `maxBytes`: webhook signatures are computed over the raw body. The parser is scoped to this route.
   */
  rawBody?: { maxBytes: number };
  handler(request: FastifyRequest<G>, reply: FastifyReply, deps: RouteDeps): Promise<unknown>;
}

/** Returns its argument, typed: the way every route file declares its route. */
export function defineRoute<G extends RouteGenericInterface = RouteGenericInterface>(route: RouteDefinition<G>): RouteDefinition<G> {
  return route;
}

/** The principal of an authenticated route (the hook guarantees it is set). */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new Error('principalOf() called on a public route');
  return request.principal;
}
