import { iso } from '../../http/schemas.ts';

/** A connection as the API shows it: never its credentials. */
export const connectionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'installationId', 'connector', 'name', 'fields', 'status', 'statusDetail', 'hasCredentials', 'createdAt'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    installationId: { type: 'string', format: 'uuid' },
    connector: { type: 'string' },
    name: { type: 'string' },
    fields: { type: 'object', additionalProperties: { type: 'string' }, description: 'Non-secret connection fields' },
    status: { type: 'string', enum: ['ok', 'needs_reauth', 'error'] },
    statusDetail: { type: ['string', 'null'] },
    hasCredentials: { type: 'boolean', description: 'Secrets are stored (encrypted) for this connection' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

export interface ConnectionRow {
  id: string;
  installation_id: string;
  connector: string;
  name: string;
  fields: Record<string, string>;
  status: string;
  status_detail: string | null;
  has_credentials: boolean;
  created_at: Date;
}

export const CONNECTION_SELECT = `
  SELECT c.id, c.installation_id, m.name AS connector, c.name, c.fields, c.status, c.status_detail, c.created_at,
         EXISTS (SELECT 1 FROM connectors.vault_secrets s WHERE s.connection_id = c.id) AS has_credentials
  FROM connectors.connections c
  JOIN connectors.installations i ON i.id = c.installation_id
  JOIN connectors.marketplace m ON m.id = i.connector_id`;

export function connectionView(r: ConnectionRow): Record<string, unknown> {
  return {
    id: r.id,
    installationId: r.installation_id,
    connector: r.connector,
    name: r.name,
    fields: r.fields,
    status: r.status,
    statusDetail: r.status_detail,
    hasCredentials: r.has_credentials,
    createdAt: iso(r.created_at),
  };
}
