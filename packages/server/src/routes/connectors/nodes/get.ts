import type { ConnectorManifest } from '@businessos/connector-sdk';
import { defineRoute, principalOf } from '../../../http/route.ts';

const nodeSchema = {
  type: 'object',
  required: ['id', 'kind', 'connector', 'version', 'name', 'label', 'description'],
  properties: {
    id: { type: 'string', description: '`<connector>.<action>` or `<connector>.trigger.<trigger>`' },
    kind: { type: 'string', enum: ['action', 'trigger'] },
    connector: { type: 'string' },
    version: { type: 'string' },
    name: { type: 'string' },
    label: { type: 'string', description: 'e.g. "Shopify: Create Order"' },
    description: { type: 'string' },
    group: { type: 'string' },
    triggerType: { type: 'string', enum: ['webhook', 'polling'] },
    params: { type: 'object', additionalProperties: true },
    output: { type: 'object', additionalProperties: true },
  },
} as const;

/** The node catalogue for workflow editors: every action and trigger of the tenant's installed connectors. */
export default defineRoute({
  method: 'GET',
  url: '/connectors/nodes',
  access: { roles: ['tenant_admin'] },
  schema: {
    summary: 'List installed actions and triggers as workflow nodes',
    tags: ['execution'],
    response: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: nodeSchema } } } },
  },
  async handler(request, _reply, { db }) {
    const principal = principalOf(request);
    const { rows } = await db.withTenant(principal.tenantId, (tx) =>
      tx.query<{ name: string; version: string; manifest: ConnectorManifest }>(
        `SELECT m.name, i.version, v.manifest
         FROM connectors.installations i
         JOIN connectors.marketplace m ON m.id = i.connector_id
         JOIN connectors.connector_versions v ON v.connector_id = i.connector_id AND v.version = i.version
         WHERE i.tenant_id = $1
         ORDER BY m.name`,
        [principal.tenantId],
      ),
    );
    const items: Record<string, unknown>[] = [];
    for (const { name, version, manifest } of rows) {
      const title = manifest.displayName || name;
      for (const a of manifest.actions ?? []) {
        items.push({
          id: `${name}.${a.name}`, kind: 'action', connector: name, version, name: a.name, label: `${title}: ${a.displayName || a.name}`,
          description: a.description ?? '', ...(a.group ? { group: a.group } : {}), params: a.params ?? {}, ...(a.output ? { output: a.output } : {}),
        });
      }
      for (const t of manifest.triggers ?? []) {
        items.push({
          id: `${name}.trigger.${t.name}`, kind: 'trigger', connector: name, version, name: t.name, label: `${title}: ${t.displayName || t.name}`,
          description: t.description ?? '', ...(t.group ? { group: t.group } : {}), triggerType: t.type, ...(t.output ? { output: t.output } : {}),
        });
      }
    }
    return { items };
  },
});
