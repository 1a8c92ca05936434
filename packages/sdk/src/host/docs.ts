import type { ActionManifest, ConnectorManifest, TriggerManifest } from '../connector.ts';
import type { JsonSchema } from '../schema.ts';

const cell = (s: unknown) => String(s ?? '').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

function typeOf(schema: Record<string, unknown>): string {
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if ('const' in schema) return JSON.stringify(schema.const);
  const t = schema.type;
  if (t === 'array') {
    const items = schema.items as Record<string, unknown> | undefined;
    return `array of ${items ? typeOf(items) : 'any'}`;
  }
  if (Array.isArray(t)) return t.join(' \\| ');
  if (typeof t === 'string') return typeof schema.format === 'string' ? `${t} (${schema.format})` : t;
  if (Array.isArray(schema.anyOf) || Array.isArray(schema.oneOf)) return ((schema.anyOf ?? schema.oneOf) as Record<string, unknown>[]).map(typeOf).join(' \\| ');
  return 'any';
}

function schemaTable(schema: JsonSchema | undefined, emptyText: string): string {
  const props = (schema?.properties ?? {}) as Record<string, Record<string, unknown>>;
  const names = Object.keys(props);
  if (names.length === 0) return `${emptyText}\n`;
  const required = new Set((schema?.required as string[] | undefined) ?? []);
  const rows = names.map((name) => {
    const p = props[name] ?? {};
    const extra = [p.description, 'default' in p ? `Default: \`${JSON.stringify(p.default)}\`` : ''].filter(Boolean).join(' ');
    return `| \`${name}\` | ${cell(typeOf(p))} | ${required.has(name) ? 'yes' : 'no'} | ${cell(extra)} |`;
  });
  return ['| Name | Type | Required | Description |', '| --- | --- | --- | --- |', ...rows, ''].join('\n');
}

function authSection(m: ConnectorManifest): string {
  const a = m.auth;
  const lines: string[] = ['## Authentication', ''];
  switch (a.type) {
    case 'none': lines.push('No credentials are needed.'); break;
    case 'api_key': lines.push(`API key, sent by the platform in the ${a.in === 'header' ? `\`${a.name}\` header` : `\`${a.name}\` query parameter`}${a.prefix ? ` with the prefix \`${a.prefix.trim()}\`` : ''}.`); break;
    case 'basic': lines.push('HTTP Basic authentication: a username and a password.'); break;
    case 'bearer': lines.push('A bearer token, sent as `Authorization: Bearer <token>`.'); break;
    case 'oauth2':
      lines.push(`OAuth 2.0 (${a.grant === 'authorization_code' ? `authorization code${a.pkce ? ' with PKCE' : ''}` : 'client credentials'}).`);
      if (a.scopes.length) lines.push('', `Scopes: ${a.scopes.map((s) => `\`${s}\``).join(', ')}.`);
      break;
  }
  const fields = Object.entries(a.fields ?? {});
  if (fields.length) {
    lines.push('', 'Connection fields:', '');
    for (const [name, f] of fields) lines.push(`- \`${name}\` — ${f.label}${f.description ? `: ${f.description}` : ''}${f.secret ? ' (secret)' : ''}`);
  }
  lines.push('', 'Credentials are stored encrypted by the platform and applied to requests by the host; connector code never sees them.', '');
  return lines.join('\n');
}

function actionSection(a: ActionManifest): string {
  const out = [`### ${a.displayName} (\`${a.name}\`)`, '', a.description, ''];
  if (a.idempotent) out.push('_Safe to retry (idempotent)._', '');
  out.push('**Parameters**', '', schemaTable(a.params, 'None.'));
  if (a.output) out.push('**Output**', '', schemaTable(a.output, `Type: ${typeOf(a.output as Record<string, unknown>)}.`));
  for (const ex of a.examples) {
    out.push(`**Example${ex.description ? `: ${ex.description}` : ''}**`, '', '```json', JSON.stringify(ex.params, null, 2), '```', '');
    if (ex.output !== undefined) out.push('Result:', '', '```json', JSON.stringify(ex.output, null, 2), '```', '');
  }
  return out.join('\n');
}

function triggerSection(t: TriggerManifest): string {
  const out = [`### ${t.displayName} (\`${t.name}\`)`, '', t.description, ''];
  if (t.type === 'polling' && t.polling) out.push(`Polling every ${t.polling.intervalSeconds} s; new items are told apart by ${t.polling.dedupe.by} at \`${t.polling.dedupe.path}\`.`, '');
  if (t.type === 'webhook' && t.webhook) {
    out.push(`Webhook${t.webhook.topic ? ` for \`${t.webhook.topic}\`` : ''}${t.webhook.subscribe ? ', registered with the provider automatically when enabled' : ', registered in the provider\'s settings by hand'}.`);
    if (t.webhook.verify) out.push(`Deliveries are verified with the ${t.webhook.verify.scheme} signature scheme.`);
    out.push('');
  }
  if (t.output) out.push('**Event**', '', schemaTable(t.output, ''));
  if (t.sample !== undefined) out.push('**Sample event**', '', '```json', JSON.stringify(t.sample, null, 2), '```', '');
  return out.join('\n');
}

/** Markdown documentation generated from a manifest: auth, every action and trigger with params, outputs and examples. */
export function generateDocs(m: ConnectorManifest): string {
  const parts = [
    `# ${m.displayName}`,
    '',
    m.description || '_No description._',
    '',
    `| | |\n| --- | --- |\n| Name | \`${m.name}\` |\n| Version | ${m.version} |\n| Category | ${m.category} |\n| Runtime | ${m.runtime} |\n| Hosts | ${m.hosts.map((h) => `\`${h}\``).join(', ') || 'none'} |`,
    '',
  ];
  if (m.permissions.length) parts.push('## Permissions', '', ...m.permissions.map((p) => `- ${p}`), '');
  parts.push(authSection(m));
  parts.push('## Actions', '');
  if (m.actions.length === 0) parts.push('None.', '');
  for (const a of m.actions) parts.push(actionSection(a));
  parts.push('## Triggers', '');
  if (m.triggers.length === 0) parts.push('None.', '');
  for (const t of m.triggers) parts.push(triggerSection(t));
  return `${parts.join('\n').replace(/\n{3,}/g, '\n\n').trim()}\n`;
}
