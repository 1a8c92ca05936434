import { ConnectorError, type AuthSpec, type Credentials } from '@businessos/connector-sdk';
import { applyAuth as sdkApplyAuth } from '@businessos/connector-sdk/host';

/** A request on its way out, before credentials are added. */
export interface OutgoingTarget {
  url: URL;
  headers: Record<string, string>;
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(['none', 'api_key', 'basic', 'bearer', 'oauth2']);

/** The header an auth spec writes, if any (an API key in the query writes none). */
export function authHeaderName(spec: AuthSpec): string | undefined {
  switch (spec.type) {
    case 'api_key':
      return spec.in === 'query' ? undefined : spec.name;
    case 'basic':
    case 'bearer':
      return 'Authorization';
    case 'oauth2':
      return spec.tokenHeader?.name ?? 'Authorization';
    default:
      return undefined;
  }
}

/**
 * Adds the connection's credentials to an outgoing request on the host side, in place, using the SDK's
 * `applyAuth` (API key in a header or the query, basic, bearer, OAuth2 token in `tokenHeader`). Overrides
 * any header of the same name the connector set. Refuses auth types it does not know (the SDK helper would
 * send such a request without credentials). Answers the header names it set.
 */
export function applyAuth(target: OutgoingTarget, spec: AuthSpec, credentials: Credentials | undefined): string[] {
  if (!KNOWN_TYPES.has(spec.type)) {
    throw new ConnectorError('NOT_IMPLEMENTED', `Auth type "${(spec as { type: string }).type}" is not supported by this runtime`);
  }
  const out = sdkApplyAuth(target, spec, credentials);
  if (out.url.search !== target.url.search) target.url.search = out.url.search;
  for (const k of Object.keys(target.headers)) if (!(k in out.headers)) delete target.headers[k];
  Object.assign(target.headers, out.headers);
  const name = authHeaderName(spec);
  return name ? [name] : [];
}
