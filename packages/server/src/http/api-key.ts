import { createHash, randomBytes } from 'node:crypto';

/** Roles an API key can carry. `reviewer` (platform admin) exists only on the platform tenant. */
export const ROLES = ['tenant_admin', 'publisher', 'reviewer'] as const;
export type Role = (typeof ROLES)[number];

/** The caller behind a valid API key. */
export interface Principal {
  keyId: string;
  tenantId: string;
  roles: Role[];
  /** The key belongs to the platform tenant. */
  isPlatform: boolean;
  /** The key's display prefix (`bos_Ab12Cd34`), safe to log. */
  prefix: string;
}

/** A new key: `secret` is shown once and never stored; `hash` and `prefix` are. */
export interface GeneratedApiKey {
  secret: string;
  hash: string;
  prefix: string;
}

/** sha256 of a key, hex; what the store keeps. */
export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/**
 * A random key `bos_` + 43 base64url characters (256 bits).
 * @example const { secret, hash, prefix } = generateApiKey();
 */
export function generateApiKey(): GeneratedApiKey {
  const secret = `bos_${randomBytes(32).toString('base64url')}`;
  return { secret, hash: hashApiKey(secret), prefix: secret.slice(0, 12) };
}

/** The key a request carries: `Authorization: Bearer <key>` or `X-Api-Key: <key>`. */
export function readApiKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
  }
  const header = headers['x-api-key'];
  if (typeof header === 'string' && header.trim() !== '') return header.trim();
  return undefined;
}
