import { humanize } from '@businessos/connector-sdk';

/** `shopify-plus` → `ShopifyPlus`. */
export function pascalCase(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

/** `shopify-plus` → `shopifyPlus`. */
export function camelCase(name: string): string {
  const p = pascalCase(name);
  return p.charAt(0).toLowerCase() + p.slice(1);
}

const ACRONYMS: Record<string, string> = { id: 'ID', ids: 'IDs', url: 'URL', urls: 'URLs', json: 'JSON', api: 'API', html: 'HTML', http: 'HTTP', sms: 'SMS', pkce: 'PKCE' };

/** A display name as n8n's linter wants it: title case, acronyms upper-cased (`customer_id` → `Customer ID`). */
export function displayName(name: string): string {
  return humanize(name)
    .split(' ')
    .map((w) => ACRONYMS[w.toLowerCase()] ?? w)
    .join(' ');
}

/**
 * Rewrites a connector's free-text description into the form n8n's linter accepts: trimmed, single spaces,
 * no backticks or raw angle brackets, upper-case start, acronyms upper-cased, a final period only when the
 * text has more than one sentence, and `Whether ...` for booleans. Returns undefined when nothing useful is left.
 */
export function lintSafeDescription(text: string | undefined, options: { boolean?: boolean; displayName?: string } = {}): string | undefined {
  if (!text) return undefined;
  let t = text.replace(/\s+/g, ' ').trim();
  t = t.replace(/`/g, "'").replace(/</g, '&lt;').replace(/>/g, '&gt;');
  t = t.replace(/comma separated/gi, 'comma-separated');
  t = t.replace(/\b(id|ids|url|urls|json)\b/gi, (w) => ACRONYMS[w.toLowerCase()] ?? w);
  t = t.replace(/\.{2,}$/, '.').replace(/[,;:]+$/, '');
  if (!t) return undefined;
  if (options.boolean && !/^whether\b/i.test(t)) t = `Whether to ${t.charAt(0).toLowerCase()}${t.slice(1)}`;
  t = t.charAt(0).toUpperCase() + t.slice(1);
  const sentences = t.replace('e.g.', '').split('. ').length;
  if (sentences === 1) t = t.replace(/\.$/, '');
  else if (!t.endsWith('.')) t = `${t}.`;
  if (options.displayName && t.toLowerCase() === options.displayName.toLowerCase()) return undefined;
  return t || undefined;
}

/** A sentence-case action label for n8n's operation `action` field: `Create Customer` → `Create customer`. */
export function actionLabel(label: string): string {
  const words = label.split(' ');
  return words.map((w, i) => (i === 0 || /^[A-Z0-9]{2,}s?$/.test(w) ? w : w.toLowerCase())).join(' ');
}

/** Names of everything one exported package contains. */
export interface ExportNames {
  packageName: string;
  /** Folder under nodes/ and class-name stem: `Stripe`. */
  pascal: string;
  /** Node type name: `stripe`. */
  nodeName: string;
  credentialClass: string;
  credentialName: string;
  credentialDisplayName: string;
  /** Icon file stem under icons/: `<stem>.svg` (light) and `<stem>.dark.svg`. */
  iconFile: string;
}

/**
 * Names for a connector's package. Credential types are global in n8n (not package-scoped), so they carry a
 * `Bos` prefix to stay clear of n8n's built-in credentials of the same provider (`stripeApi`).
 */
export function exportNames(manifest: { name: string; displayName: string; auth: { type: string } }, packageName?: string): ExportNames {
  const pascal = pascalCase(manifest.name);
  const oauth = manifest.auth.type === 'oauth2';
  const credentialClass = `Bos${pascal}${oauth ? 'OAuth2Api' : 'Api'}`;
  return {
    packageName: packageName ?? `n8n-nodes-${manifest.name.toLowerCase().replace(/[^a-z0-9-]+/g, '-')}`,
    pascal,
    nodeName: camelCase(manifest.name),
    credentialClass,
    credentialName: credentialClass.charAt(0).toLowerCase() + credentialClass.slice(1),
    credentialDisplayName: `${manifest.displayName} (BusinessOS) ${oauth ? 'OAuth2 API' : 'API'}`,
    iconFile: manifest.name.toLowerCase().replace(/[^a-z0-9-]+/g, '-'),
  };
}

/** The themed icon pair of a node or credential, relative to the file that declares it. */
export function iconRef(names: ExportNames, base: string): { light: string; dark: string } {
  return { light: `file:${base}/${names.iconFile}.svg`, dark: `file:${base}/${names.iconFile}.dark.svg` };
}
