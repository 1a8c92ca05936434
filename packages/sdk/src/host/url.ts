import { ConnectorError } from '../errors.ts';
import type { ConnectorManifest } from '../connector.ts';

const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * Fills `{field}` placeholders of a URL template from connection fields. A value placed in the host part must
 * be a single DNS label (so `evil.com/` cannot redirect requests); elsewhere it is URL-encoded.
 */
export function fillTemplate(template: string, fields: Record<string, string>, what = 'URL'): string {
  const schemeEnd = template.indexOf('://');
  const hostEnd = schemeEnd < 0 ? -1 : template.indexOf('/', schemeEnd + 3);
  return template.replace(/\{([a-zA-Z_][a-zA-Z0-9_]*)\}/g, (_m, name: string, offset: number) => {
    const value = fields[name];
    if (value === undefined || value === '') {
      throw new ConnectorError('INVALID_INPUT', `The ${what} needs the connection field "${name}"; set it on the connection`, { path: `/fields/${name}` });
    }
    const inHost = schemeEnd >= 0 && offset > schemeEnd && (hostEnd < 0 || offset < hostEnd);
    if (inHost) {
      if (!LABEL.test(value)) {
        throw new ConnectorError('INVALID_INPUT', `Connection field "${name}" must be a single host label (letters, digits, dashes), got ${JSON.stringify(value)}`, { path: `/fields/${name}` });
      }
      return value.toLowerCase();
    }
    // `.` and `..` survive URL encoding and would walk up the base URL's path.
    if (value === '.' || value === '..') {
      throw new ConnectorError('INVALID_INPUT', `Connection field "${name}" may not be "${value}"`, { path: `/fields/${name}` });
    }
    return encodeURIComponent(value);
  });
}

/** The manifest's declared hosts with placeholders filled: exact names and `*.suffix` wildcards, each with an optional `:port`. */
export function allowedHosts(manifest: Pick<ConnectorManifest, 'hosts'>, fields: Record<string, string>): string[] {
  return manifest.hosts.map((h) => {
    if (!h.includes('{')) return h.toLowerCase();
    try {
      const url = new URL(fillTemplate(`https://${h}/`, fields, `host ${h}`));
      return url.port ? `${url.hostname}:${url.port}` : url.hostname;
    } catch {
      return '';
    }
  }).filter(Boolean);
}

/**
 * True when `host` (a hostname, or `hostname:port` for a non-default port) is one of `allowed`. A `*.` wildcard
 * stands for exactly one label, as in TLS certificates; a declared host without a port admits only the default port.
 */
export function isHostAllowed(host: string, allowed: string[]): boolean {
  const wanted = host.toLowerCase().replace(/\.(?=:|$)/, '');
  const [name = '', port = ''] = wanted.split(/:(?=\d+$)/);
  return allowed.some((entry) => {
    const [pattern = '', allowedPort = ''] = entry.toLowerCase().split(/:(?=\d+$)/);
    if (port !== allowedPort) return false;
    if (!pattern.startsWith('*.')) return name === pattern;
    const suffix = pattern.slice(1);
    return name.endsWith(suffix) && !name.slice(0, -suffix.length).includes('.') && name.length > suffix.length;
  });
}

/**
 * Resolves what connector code asked for (a path or an absolute URL) into a full URL, and refuses hosts the
 * manifest does not declare.
 */
export function resolveUrl(manifest: Pick<ConnectorManifest, 'baseUrl' | 'hosts' | 'name'>, fields: Record<string, string>, url: string): URL {
  let resolved: URL;
  if (/^[a-z][a-z0-9+.-]*:/i.test(url)) {
    try {
      resolved = new URL(url);
    } catch {
      throw new ConnectorError('INVALID_INPUT', `Connector ${manifest.name} asked for a malformed URL: ${url}`);
    }
  } else {
    if (!manifest.baseUrl) throw new ConnectorError('INVALID_INPUT', `Connector ${manifest.name} sent a relative path (${url}) but declares no baseUrl`);
    const base = fillTemplate(manifest.baseUrl, fields, 'baseUrl').replace(/\/+$/, '');
    resolved = new URL(base + (url.startsWith('/') ? url : `/${url}`));
  }
  if (resolved.protocol !== 'https:' && resolved.protocol !== 'http:') {
    throw new ConnectorError('EGRESS_DENIED', `Only http(s) is allowed, not ${resolved.protocol}`);
  }
  if (resolved.username || resolved.password) throw new ConnectorError('EGRESS_DENIED', 'URLs with embedded credentials are not allowed');
  // URL drops the port when it is the scheme's default, so `resolved.host` carries a port only when it matters.
  if (!isHostAllowed(resolved.host, allowedHosts(manifest, fields))) {
    throw new ConnectorError('EGRESS_DENIED', `Connector ${manifest.name} may not call ${resolved.host}: it is not among the hosts its manifest declares (${manifest.hosts.join(', ') || 'none'})`);
  }
  return resolved;
}
