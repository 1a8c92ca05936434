import type { FastifyRequest } from 'fastify';
import type { Db } from '../db/db.ts';
import { hashApiKey, readApiKey, type Principal, type Role } from './api-key.ts';
import { ProblemError } from './problem.ts';
import type { RouteAccess } from './route.ts';

interface KeyRow {
  id: string;
  tenant_id: string;
  prefix: string;
  roles: Role[];
  revoked_at: Date | null;
  is_platform: boolean;
}

/** Resolves the request's API key to a principal, or throws a 401 problem saying what to do. */
export async function authenticate(db: Db, request: FastifyRequest): Promise<Principal> {
  const secret = readApiKey(request.headers);
  if (!secret) {
    throw new ProblemError('AUTH_FAILED', 'This route needs an API key: send `Authorization: Bearer <key>` or `X-Api-Key: <key>`', { type: 'api-key-missing' });
  }
  // The key decides the tenant, so this lookup cannot run under a tenant's RLS. resolve_api_key (SECURITY DEFINER)
  // returns one key by its hash and nothing else, so it is called as one statement on the owner connection: one
  // round trip instead of a four-statement bos_app transaction in front of every keyed request.
  const { rows } = await db.query<KeyRow>('SELECT * FROM connectors.resolve_api_key($1)', [hashApiKey(secret)]);
  const key = rows[0];
  if (!key) throw new ProblemError('AUTH_FAILED', 'The API key is not valid; check it was copied whole, or ask your tenant admin for a new one', { type: 'api-key-invalid' });
  if (key.revoked_at) {
    throw new ProblemError('AUTH_EXPIRED', `The API key ${key.prefix}… was revoked at ${new Date(key.revoked_at).toISOString()}; use or create another key`, { type: 'api-key-revoked' });
  }
  return { keyId: key.id, tenantId: key.tenant_id, roles: key.roles, isPlatform: key.is_platform, prefix: key.prefix };
}

/** Throws 403 unless the principal holds one of the route's roles. */
export function authorize(principal: Principal, access: Exclude<RouteAccess, 'public' | 'optional'>, routeLabel: string): void {
  if (access.roles.length === 0) return;
  if (access.roles.some((role) => principal.roles.includes(role))) return;
  throw new ProblemError(
    'FORBIDDEN',
    `${routeLabel} needs a key with role ${access.roles.join(' or ')}; key ${principal.prefix}… has ${principal.roles.join(', ')}`,
    { type: 'missing-role' },
  );
}
