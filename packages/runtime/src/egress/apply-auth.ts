import { ConnectorError, type AuthSpec, type Credentials } from '@businessos/connector-sdk';

/** A request on its way out, before credentials are added. */
export interface OutgoingTarget {
  url: URL;
  headers: Record<string, string>;
}

function setHeader(headers: Record<string, string>, name: string, value: string): void {
  for (const key of Object.keys(headers)) if (key.toLowerCase() === name.toLowerCase()) delete headers[key];
  headers[name] = value;
}

function need(value: string | undefined, what: string, spec: AuthSpec): string {
  if (typeof value !== 'string' || value === '') {
    throw new ConnectorError('AUTH_FAILED', `The connection has no ${what}, which ${spec.type} auth needs; reconnect the account`);
  }
  return value;
}

/**
 * Adds the connection's credentials to an outgoing request on the host side, as the manifest's auth spec
 * says: API key in a header or the query (with its prefix), HTTP basic, a bearer token, or an OAuth2 access
 * token (in `tokenHeader`, by default `Authorization: Bearer`). Overrides any header of the same name the
 * connector set. Answers the header names it set, so a redirect to another host can drop them.
 */
export function applyAuth(target: OutgoingTarget, spec: AuthSpec, credentials: Credentials | undefined): string[] {
  const c = credentials ?? {};
  switch (spec.type) {
    case 'none':
      return [];
    case 'api_key': {
      const value = `${spec.prefix ?? ''}${need(c.apiKey, 'API key', spec)}`;
      if (spec.in === 'query') {
        target.url.searchParams.set(spec.name, value);
        return [];
      }
      setHeader(target.headers, spec.name, value);
      return [spec.name];
    }
    case 'basic': {
      const user = need(c.username, 'username', spec);
      const encoded = Buffer.from(`${user}:${c.password ?? ''}`, 'utf8').toString('base64');
      setHeader(target.headers, 'Authorization', `Basic ${encoded}`);
      return ['Authorization'];
    }
    case 'bearer': {
      setHeader(target.headers, 'Authorization', `Bearer ${need(c.token ?? c.accessToken, 'token', spec)}`);
      return ['Authorization'];
    }
    case 'oauth2': {
      const token = need(c.accessToken, 'OAuth2 access token', spec);
      const header = spec.tokenHeader ?? { name: 'Authorization', prefix: 'Bearer ' };
      setHeader(target.headers, header.name, `${header.prefix}${token}`);
      return [header.name];
    }
    default:
      throw new ConnectorError('NOT_IMPLEMENTED', `Auth type "${(spec as { type: string }).type}" is not supported by this runtime`);
  }
}
