import type { AuthSpec, Credentials } from '../auth.ts';
import { ConnectorError } from '../errors.ts';

/** The parts of an outgoing request that auth may change. */
export interface OutgoingRequest {
  url: URL;
  headers: Record<string, string>;
}

function need(value: string | undefined, what: string): string {
  if (value === undefined || value === '') {
    throw new ConnectorError('AUTH_FAILED', `The connection has no ${what}; reconnect the account or set the credential`);
  }
  return value;
}

/**
 * Adds credentials to a request on the host's side of the boundary (header, query, basic, bearer, OAuth2 token).
 * Header names that connector code set are replaced, never merged, so a connector cannot smuggle its own.
 */
export function applyAuth(request: OutgoingRequest, auth: AuthSpec, credentials: Credentials | undefined): OutgoingRequest {
  const headers = { ...request.headers };
  const url = new URL(request.url);
  const setHeader = (name: string, value: string) => {
    for (const k of Object.keys(headers)) if (k.toLowerCase() === name.toLowerCase()) delete headers[k];
    headers[name] = value;
  };
  const c = credentials ?? {};
  switch (auth.type) {
    case 'none':
      break;
    case 'api_key': {
      const value = `${auth.prefix ?? ''}${need(c.apiKey, 'API key')}`;
      if (auth.in === 'query') url.searchParams.set(auth.name, value);
      else setHeader(auth.name, value);
      break;
    }
    case 'basic': {
      const user = need(c.username, 'username');
      const pass = c.password ?? '';
      setHeader('Authorization', `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`);
      break;
    }
    case 'bearer':
      setHeader('Authorization', `Bearer ${need(c.token ?? c.accessToken, 'token')}`);
      break;
    case 'oauth2': {
      const token = need(c.accessToken, 'OAuth2 access token');
      const h = auth.tokenHeader ?? { name: 'Authorization', prefix: 'Bearer ' };
      setHeader(h.name, `${h.prefix}${token}`);
      break;
    }
    default:
      // Never send a request without the credentials its manifest asked for.
      throw new ConnectorError('NOT_IMPLEMENTED', `Unknown auth type "${(auth as { type?: unknown }).type}"; this host cannot authenticate the request`);
  }
  return { url, headers };
}

/** The header an auth spec writes its credential into, if any (so a host can drop it on a cross-host redirect). */
export function authHeaderName(auth: AuthSpec): string | undefined {
  switch (auth.type) {
    case 'api_key': return auth.in === 'header' ? auth.name : undefined;
    case 'basic':
    case 'bearer': return 'Authorization';
    case 'oauth2': return auth.tokenHeader?.name ?? 'Authorization';
    default: return undefined;
  }
}

/** The secret strings of a credential set, for redaction. */
export function secretValues(credentials: Credentials | undefined, secretFieldNames: string[] = []): string[] {
  if (!credentials) return [];
  const out = [credentials.apiKey, credentials.password, credentials.token, credentials.accessToken, credentials.refreshToken];
  for (const name of secretFieldNames) out.push(credentials.fields?.[name]);
  return out.filter((v): v is string => typeof v === 'string' && v.length >= 4);
}
