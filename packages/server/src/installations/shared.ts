import type { ConnectorManifest } from '@businessos/connector-sdk';
import type { Queryable } from '../db/db.ts';
import { ProblemError } from '../http/problem.ts';

/** An installation of the caller's tenant with its pinned version's manifest, or 404. */
export async function findInstallation(tx: Queryable, installationId: string): Promise<{ id: string; connector_id: string; name: string; version: string; manifest: ConnectorManifest }> {
  const { rows } = await tx.query<{ id: string; connector_id: string; name: string; version: string; manifest: ConnectorManifest }>(
    `SELECT i.id, i.connector_id, m.name, i.version, v.manifest
     FROM connectors.installations i
     JOIN connectors.marketplace m ON m.id = i.connector_id
     JOIN connectors.connector_versions v ON v.connector_id = i.connector_id AND v.version = i.version
     WHERE i.id = $1`,
    [installationId],
  );
  const row = rows[0];
  if (!row) throw new ProblemError('NOT_FOUND', `No installation ${installationId} in your tenant; list them with GET /installations`);
  return row;
}

export const formFieldSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'label', 'secret', 'required', 'in'],
  properties: {
    name: { type: 'string' },
    label: { type: 'string' },
    secret: { type: 'boolean' },
    required: { type: 'boolean' },
    in: { type: 'string', enum: ['credentials', 'fields'] },
    description: { type: 'string' },
    pattern: { type: 'string' },
    placeholder: { type: 'string' },
    default: { type: 'string' },
  },
} as const;
