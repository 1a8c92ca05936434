import { ROLES } from '../../http/api-key.ts';
import { iso, nullableTimestampSchema, timestampSchema, uuidSchema } from '../../http/schemas.ts';

/** An API key as the API shows it: never the secret, never the hash. */
export const apiKeySchema = {
  type: 'object',
  required: ['id', 'name', 'prefix', 'roles', 'createdAt', 'revokedAt'],
  additionalProperties: false,
  properties: {
    id: uuidSchema,
    name: { type: 'string' },
    prefix: { type: 'string', description: 'First characters of the key, to recognise it' },
    roles: { type: 'array', items: { type: 'string', enum: [...ROLES] } },
    createdAt: timestampSchema,
    revokedAt: nullableTimestampSchema,
  },
} as const;

/** A freshly created key: the only response that carries the secret. */
export const createdApiKeySchema = {
  ...apiKeySchema,
  required: [...apiKeySchema.required, 'secret'],
  properties: { ...apiKeySchema.properties, secret: { type: 'string', description: 'The key itself. Shown once; store it now.' } },
} as const;

export interface ApiKeyRow {
  id: string;
  name: string;
  prefix: string;
  roles: string[];
  created_at: Date;
  revoked_at: Date | null;
}

export function apiKeyView(row: ApiKeyRow): Record<string, unknown> {
  return { id: row.id, name: row.name, prefix: row.prefix, roles: row.roles, createdAt: iso(row.created_at), revokedAt: iso(row.revoked_at) };
}

export const API_KEY_COLUMNS = 'id, name, prefix, roles, created_at, revoked_at';
