/**
 * Declarative auth. Connector code never reads a secret: it declares how the host must authenticate
 * requests, and the host applies the stored credentials on its side of the sandbox boundary.
 */

/** A non-secret or secret value the tenant enters when connecting (e.g. Shopify's shop domain). */
export interface ConnectionField {
  type: 'string';
  label: string;
  description?: string;
  /** Secret fields are encrypted in the vault, shown as password inputs and never handed to connector code. */
  secret?: boolean;
  required?: boolean;
  pattern?: string;
  placeholder?: string;
  default?: string;
}

export type ConnectionFields = Record<string, ConnectionField>;

export interface NoAuthSpec { type: 'none'; fields?: ConnectionFields }

export interface ApiKeyAuthSpec {
  type: 'api_key';
  /** Where the key goes. */
  in: 'header' | 'query';
  /** Header or query parameter name, e.g. `X-Api-Key` or `api_key`. */
  name: string;
  /** Prepended to the key, e.g. `Token ` (note the space). */
  prefix?: string;
  label?: string;
  fields?: ConnectionFields;
}

export interface BasicAuthSpec {
  type: 'basic';
  usernameLabel?: string;
  passwordLabel?: string;
  fields?: ConnectionFields;
}

export interface BearerTokenAuthSpec {
  type: 'bearer';
  label?: string;
  fields?: ConnectionFields;
}

export interface OAuth2AuthSpec {
  type: 'oauth2';
  grant: 'authorization_code' | 'client_credentials';
  /** May contain `{field}` placeholders resolved from connection fields. */
  authorizationUrl?: string;
  tokenUrl: string;
  refreshUrl?: string;
  revokeUrl?: string;
  /** A literal client id, or a reference to platform config such as `config.client_id`. */
  clientId: string;
  clientSecret?: string;
  scopes: string[];
  scopeSeparator: string;
  pkce: boolean;
  extraAuthorizeParams?: Record<string, string>;
  /** How the access token is sent; default `Authorization: Bearer <token>`. */
  tokenHeader?: { name: string; prefix: string };
  /** How the client authenticates at the token endpoint. */
  clientAuth?: 'body' | 'basic';
  fields?: ConnectionFields;
}

export type AuthSpec = NoAuthSpec | ApiKeyAuthSpec | BasicAuthSpec | BearerTokenAuthSpec | OAuth2AuthSpec;
export type AuthType = AuthSpec['type'];

/** Common shape of the auth handler classes: each is a typed factory for an {@link AuthSpec}. */
export abstract class AuthHandler<S extends AuthSpec = AuthSpec> {
  abstract toSpec(): S;
}

export interface OAuth2Options {
  grant?: 'authorization_code' | 'client_credentials';
  authorizationUrl?: string;
  tokenUrl?: string;
  refreshUrl?: string;
  revokeUrl?: string;
  clientId: string;
  clientSecret?: string;
  scopes?: string[];
  scopeSeparator?: string;
  /** Proof Key for Code Exchange (S256). On by default. */
  pkce?: boolean;
  extraAuthorizeParams?: Record<string, string>;
  tokenHeader?: { name: string; prefix: string };
  clientAuth?: 'body' | 'basic';
  fields?: ConnectionFields;
}

/**
 * OAuth 2.0: authorization code (with PKCE) or client credentials; the host refreshes tokens.
 * @example new OAuth2Auth({ clientId: 'config.client_id', scopes: ['read_orders'], authorizationUrl: 'https://{shop}.myshopify.com/admin/oauth/authorize', tokenUrl: 'https://{shop}.myshopify.com/admin/oauth/access_token' })
 */
export class OAuth2Auth extends AuthHandler<OAuth2AuthSpec> {
  readonly #options: OAuth2Options;
  constructor(options: OAuth2Options) {
    super();
    this.#options = options;
  }
  toSpec(): OAuth2AuthSpec {
    const o = this.#options;
    const spec: OAuth2AuthSpec = {
      type: 'oauth2',
      grant: o.grant ?? 'authorization_code',
      tokenUrl: o.tokenUrl ?? '',
      clientId: o.clientId,
      scopes: [...(o.scopes ?? [])],
      scopeSeparator: o.scopeSeparator ?? ' ',
      pkce: o.pkce ?? true,
    };
    if (o.authorizationUrl !== undefined) spec.authorizationUrl = o.authorizationUrl;
    if (o.refreshUrl !== undefined) spec.refreshUrl = o.refreshUrl;
    if (o.revokeUrl !== undefined) spec.revokeUrl = o.revokeUrl;
    if (o.clientSecret !== undefined) spec.clientSecret = o.clientSecret;
    if (o.extraAuthorizeParams !== undefined) spec.extraAuthorizeParams = { ...o.extraAuthorizeParams };
    if (o.tokenHeader !== undefined) spec.tokenHeader = { ...o.tokenHeader };
    if (o.clientAuth !== undefined) spec.clientAuth = o.clientAuth;
    if (o.fields !== undefined) spec.fields = { ...o.fields };
    return spec;
  }
}

/** HTTP Basic: the tenant enters a username and password. */
export class BasicAuth extends AuthHandler<BasicAuthSpec> {
  readonly #spec: BasicAuthSpec;
  constructor(options: Omit<BasicAuthSpec, 'type'> = {}) {
    super();
    this.#spec = { type: 'basic', ...options };
  }
  toSpec(): BasicAuthSpec { return { ...this.#spec }; }
}

/** An API key sent in a header or the query string. */
export class ApiKeyAuth extends AuthHandler<ApiKeyAuthSpec> {
  readonly #spec: ApiKeyAuthSpec;
  constructor(options: Omit<ApiKeyAuthSpec, 'type' | 'in'> & { in?: 'header' | 'query' }) {
    super();
    this.#spec = { type: 'api_key', ...options, in: options.in ?? 'header' };
  }
  toSpec(): ApiKeyAuthSpec { return { ...this.#spec }; }
}

/** A static token sent as `Authorization: Bearer <token>`. */
export class BearerTokenAuth extends AuthHandler<BearerTokenAuthSpec> {
  readonly #spec: BearerTokenAuthSpec;
  constructor(options: Omit<BearerTokenAuthSpec, 'type'> = {}) {
    super();
    this.#spec = { type: 'bearer', ...options };
  }
  toSpec(): BearerTokenAuthSpec { return { ...this.#spec }; }
}

/** No credentials (public APIs); connection fields may still be declared. */
export class NoAuth extends AuthHandler<NoAuthSpec> {
  readonly #spec: NoAuthSpec;
  constructor(options: Omit<NoAuthSpec, 'type'> = {}) {
    super();
    this.#spec = { type: 'none', ...options };
  }
  toSpec(): NoAuthSpec { return { ...this.#spec }; }
}

/** Accepts a handler instance or a plain spec and returns the plain spec. */
export function toAuthSpec(auth: AuthHandler | AuthSpec | undefined): AuthSpec {
  if (auth === undefined) return { type: 'none' };
  if (auth instanceof AuthHandler) return auth.toSpec();
  if (typeof (auth as { toSpec?: unknown }).toSpec === 'function') return (auth as unknown as AuthHandler).toSpec();
  return auth as AuthSpec;
}

/** Credentials as the host stores them (encrypted) and applies them. Never passed to connector code. */
export interface Credentials {
  apiKey?: string;
  username?: string;
  password?: string;
  token?: string;
  accessToken?: string;
  refreshToken?: string;
  tokenType?: string;
  /** Epoch milliseconds. */
  expiresAt?: number;
  scope?: string;
  /** Values of the auth's connection fields (secret ones included). */
  fields?: Record<string, string>;
}
