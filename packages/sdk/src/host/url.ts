// URL policy shared by every host that runs connector code (the runtime, the CLI's local transport, OAuth2
// helpers): filling `{field}` templates from connection fields without letting a value move the request to
// another host, resolving a connector's request URL against its base URL, and checking the declared hosts.
import { ConnectorError } from '../errors.ts';
import type { ConnectorManifest } from '../connector.ts';
import type { QueryValue } from '../http.ts';

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i;
const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
// What resolveRequestUrl takes as an absolute URL (anything else is joined to the base URL).
const ABSOLUTE_URL = /^[a-z][a-z0-9+.-]*:/i;

function fieldValue(fields: Record<string, string>, name: string, where: string): string {
  const value = fields[name];
  if (typeof value !== 'string' || value === '') {
    throw new ConnectorError('INVALID_INPUT', `The ${where} needs the connection field "${name}"; edit the connection and fill it in`, { path: `/fields/${name}` });
  }
  return value;
}

/**
 * Fills `{field}` placeholders of a host template. A placeholder that is one label of the host must be a
 * single DNS label (no '.', '/', '@', ':'), so a field value cannot move the request to another host;
 * a placeholder that is the whole host must be a plain host name.
 */
export function fillHostTemplate(template: string, fields: Record<string, string>): string {
  const whole = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(template);
  if (whole?.[1]) {
    const value = fieldValue(fields, whole[1], `host "${template}"`).toLowerCase();
    const labels = value.split('.');
    if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) {
      throw new ConnectorError('INVALID_INPUT', `Connection field "${whole[1]}" must be a host name like api.example.com, got "${value}"`, { path: `/fields/${whole[1]}` });
    }
    return value;
  }
  return template.replace(PLACEHOLDER, (_m, name: string) => {
    const value = fieldValue(fields, name, `host "${template}"`);
    if (!LABEL.test(value)) {
      throw new ConnectorError(
        'INVALID_INPUT',
        `Connection field "${name}" must be a single host label (letters, digits and '-', no '.', '/', '@' or ':'), got "${value}"; for ${template} enter only the part in braces`,
        { path: `/fields/${name}` },
      );
    }
    return value.toLowerCase();
  });
}

function fillPathTemplate(template: string, fields: Record<string, string>): string {
  return template.replace(PLACEHOLDER, (_m, name: string) => {
    const value = fieldValue(fields, name, `URL "${template}"`);
    if (value === '.' || value === '..') throw new ConnectorError('INVALID_INPUT', `Connection field "${name}" cannot be "${value}" in a URL path`, { path: `/fields/${name}` });
    return encodeURIComponent(value);
  });
}

/**
 * Fills the `{field}` placeholders of an absolute URL template: host parts as single labels, the rest
 * URI-encoded. `https://{shop}.myshopify.com/admin/oauth/access_token` → `https://acme.myshopify.com/...`.
 */
export function fillUrlTemplate(template: string, fields: Record<string, string>): string {
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/i.exec(template);
  if (!m) throw new ConnectorError('INVALID_INPUT', `"${template}" is not an absolute URL`);
  const [, scheme, authority = '', rest = ''] = m;
  if (authority.includes('@')) throw new ConnectorError('EGRESS_DENIED', `URL "${template}" carries user info; credentials are applied by the host`);
  const portMatch = /^(.*?)(:\d+)?$/.exec(authority);
  const host = fillHostTemplate(portMatch?.[1] ?? authority, fields);
  return `${scheme}://${host}${portMatch?.[2] ?? ''}${fillPathTemplate(rest, fields)}`;
}

function appendQuery(url: URL, query: Record<string, QueryValue> | undefined): void {
  if (!query) return;
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const v of value) url.searchParams.append(key, String(v));
    else url.searchParams.append(key, String(value));
  }
}

/**
 * Turns a connector's request URL into an absolute URL: paths are joined to `manifest.baseUrl` (with its
 * `{field}` placeholders filled), absolute URLs are taken as they are (the host check comes after).
 * `urlFields` (default `fields`): the fields a placeholder in the request's own absolute URL may use. A host passes
 * only the non-secret ones, so connector code cannot have a secret field written into a URL of its choosing;
 * the reviewed manifest's baseUrl may use every field.
 */
export function resolveRequestUrl(
  manifest: Pick<ConnectorManifest, 'name' | 'baseUrl'>,
  fields: Record<string, string>,
  url: string,
  query?: Record<string, QueryValue>,
  baseUrlOverride?: string,
  urlFields: Record<string, string> = fields,
): URL {
  if (typeof url !== 'string' || url.length === 0) throw new ConnectorError('INVALID_INPUT', 'The request has no URL; pass a path such as /orders or an absolute https URL', { path: '/url' });
  let text: string;
  if (ABSOLUTE_URL.test(url)) {
    text = url.includes('{') ? fillUrlTemplate(url, urlFields) : url;
  } else {
    const base = baseUrlOverride ?? manifest.baseUrl;
    if (!base) throw new ConnectorError('INVALID_INPUT', `Connector ${manifest.name} has no baseUrl, so the relative URL "${url}" cannot be resolved; use an absolute URL`, { path: '/url' });
    // Most base URLs have no placeholder: then only the URL parser below checks them (user info, syntax).
    text = `${(base.includes('{') ? fillUrlTemplate(base, fields) : base).replace(/\/+$/, '')}/${url.replace(/^\/+/, '')}`;
  }
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new ConnectorError('INVALID_INPUT', `"${url}" is not a valid URL`, { path: '/url' });
  }
  if (parsed.username || parsed.password) throw new ConnectorError('EGRESS_DENIED', `URL ${parsed.host} carries user info; credentials are applied by the host`);
  parsed.hash = '';
  appendQuery(parsed, query);
  return parsed;
}

/** A host pattern of the manifest with placeholders filled; undefined when a field it needs is missing or invalid. */
function compilePattern(pattern: string, fields: Record<string, string>): { host: string; port?: string } | undefined {
  const m = /^(.*?)(?::(\d+))?$/.exec(pattern.trim().toLowerCase());
  if (!m?.[1]) return undefined;
  if (!m[1].includes('{')) return m[2] ? { host: m[1], port: m[2] } : { host: m[1] };
  try {
    const host = fillHostTemplate(m[1], fields);
    return m[2] ? { host, port: m[2] } : { host };
  } catch {
    return undefined;
  }
}

function hostMatches(pattern: string, hostname: string): boolean {
  if (pattern.startsWith('*.')) {
    // `*` stands for exactly one label: *.slack.com matches files.slack.com, not slack.com or a.b.slack.com.
    const suffix = pattern.slice(1);
    if (!hostname.endsWith(suffix)) return false;
    return LABEL.test(hostname.slice(0, -suffix.length));
  }
  return pattern === hostname;
}

export interface HostCheckOptions {
  /** Accept any port on a declared host (test mode, for loopback mock servers on random ports). */
  anyPort?: boolean;
  /** Accept plain http (test mode; the connect step still requires a loopback address for it). */
  allowHttp?: boolean;
}

/**
 * Throws EGRESS_DENIED unless `url` is https (or allowed http) on a host the manifest declares:
 * exact names, `*.example.com` wildcards (one label) and `{field}` templates filled from the connection.
 * A declared host without a port admits only the scheme's default port.
 */
export function assertUrlAllowed(manifest: Pick<ConnectorManifest, 'name' | 'hosts'>, fields: Record<string, string>, url: URL, options: HostCheckOptions = {}): void {
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && options.allowHttp)) {
    const allowed = options.allowHttp ? 'http(s)' : 'https';
    throw new ConnectorError('EGRESS_DENIED', `Connector ${manifest.name} may only call ${allowed} URLs, not ${url.protocol}//${url.host}`);
  }
  const hostname = url.hostname.toLowerCase().replace(/\.$/, '');
  for (const raw of manifest.hosts) {
    const pattern = compilePattern(raw, fields);
    if (!pattern || !hostMatches(pattern.host, hostname)) continue;
    if (options.anyPort || (pattern.port ? url.port === pattern.port : url.port === '')) return;
  }
  const declared = manifest.hosts.join(', ') || 'none';
  throw new ConnectorError('EGRESS_DENIED', `Connector ${manifest.name} may not call ${url.host}: it is not among the hosts its manifest declares (${declared})`);
}

/**
 * Fills `{field}` placeholders of an absolute URL template (see {@link fillUrlTemplate}); `what` names the
 * template in error messages (`baseUrl`, `tokenUrl`).
 */
export function fillTemplate(template: string, fields: Record<string, string>, what = 'URL'): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(template)) throw new ConnectorError('INVALID_INPUT', `The ${what} "${template}" is not an absolute URL`);
  return fillUrlTemplate(template, fields);
}

/** The manifest's declared hosts with placeholders filled: exact names and `*.suffix` wildcards, each with an optional `:port`. */
export function allowedHosts(manifest: Pick<ConnectorManifest, 'hosts'>, fields: Record<string, string>): string[] {
  return manifest.hosts.map((h) => compilePattern(h, fields)).filter((p) => p !== undefined).map((p) => (p.port ? `${p.host}:${p.port}` : p.host));
}

export interface CredentialHostOptions {
  /** The base URL requests were resolved against when it is not the manifest's (an operator's or simulator's override). */
  baseUrl?: string;
  /** Accept any port on a declared host (test mode, as in {@link HostCheckOptions}). */
  anyPort?: boolean;
}

/**
 * Whether the connection's credentials may be added to a request for `url`, which connector code asked for as
 * `requestUrl` (a path or an absolute URL). Credentials go only to the connector's own API hosts: the baseUrl's host
 * (an override's, when given) and hosts the manifest declares exactly, templated ones once filled from the connection
 * fields (`{shop}.myshopify.com` is then one exact host). A host matched only by a `*.` wildcard gets the request
 * without credentials: a wildcard admits names the provider does not control (on `*.cloudfront.net` or
 * `*.herokuapp.com` anyone can register one), and it is there for content URLs (files, CDNs), not for the API.
 * Declare a host exactly to send it credentials. The one rule of every host: the runtime's egress client and the
 * local transport of the CLI and the test harness.
 */
export function mayCarryCredentials(
  manifest: Pick<ConnectorManifest, 'baseUrl' | 'hosts'>,
  fields: Record<string, string>,
  requestUrl: string,
  url: URL,
  options: CredentialHostOptions = {},
): boolean {
  // A relative URL was joined to the base URL, so it is on the base URL's host.
  if (!ABSOLUTE_URL.test(requestUrl)) return true;
  const hostname = url.hostname.toLowerCase().replace(/\.$/, '');
  const baseText = options.baseUrl ?? manifest.baseUrl;
  let base: URL | undefined;
  try {
    base = baseText ? new URL(baseText.includes('{') ? fillTemplate(baseText, fields, 'baseUrl') : baseText) : undefined;
  } catch {
    base = undefined;
  }
  if (base && base.hostname.toLowerCase().replace(/\.$/, '') === hostname && base.port === url.port) return true;
  for (const entry of allowedHosts(manifest, fields)) {
    if (entry.startsWith('*.')) continue;
    const [name = '', port = ''] = entry.split(/:(?=\d+$)/);
    if (name.replace(/\.$/, '') === hostname && (options.anyPort || port === url.port)) return true;
  }
  return false;
}

/**
 * True when `host` (a hostname, or `hostname:port` for a non-default port) is one of `allowed`. A `*.` wildcard
 * stands for exactly one label, as in TLS certificates; a declared host without a port admits only the default port.
 */
export function isHostAllowed(host: string, allowed: string[]): boolean {
  const [name = '', port = ''] = host.toLowerCase().split(/:(?=\d+$)/);
  const hostname = name.replace(/\.$/, '');
  return allowed.some((entry) => {
    const [pattern = '', allowedPort = ''] = entry.toLowerCase().split(/:(?=\d+$)/);
    return port === allowedPort && hostMatches(pattern, hostname);
  });
}

/**
 * Resolves what connector code asked for (a path or an absolute URL) into a full URL and refuses hosts the
 * manifest does not declare. Plain http is accepted, for local development against mock servers; the
 * runtime uses {@link resolveRequestUrl} and {@link assertUrlAllowed} with its own options.
 */
export function resolveUrl(manifest: Pick<ConnectorManifest, 'baseUrl' | 'hosts' | 'name'>, fields: Record<string, string>, url: string): URL {
  const resolved = resolveRequestUrl(manifest, fields, url);
  assertUrlAllowed(manifest, fields, resolved, { allowHttp: true });
  return resolved;
}
