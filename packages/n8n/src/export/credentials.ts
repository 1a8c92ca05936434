import type { AuthSpec, ConnectorManifest } from '@businessos/connector-sdk';
import { configSecretProperty } from '../runtime/n8n-runtime.ts';
import { displayName, iconRef, lintSafeDescription, type ExportNames } from './naming.ts';
import type { N8nProperty } from './properties.ts';
import { tsLiteral } from './ts-literal.ts';

/** `https://{shop}.myshopify.com/x` → `=https://{{$self["shop"]}}.myshopify.com/x` (an n8n credential expression). */
export function selfExpression(template: string): string {
  if (!/\{[A-Za-z_][A-Za-z0-9_]*\}/.test(template)) return template;
  return `=${template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, f: string) => `{{$self["${f}"]}}`)}`;
}

/** An expression for the credential test's base URL: the Base URL field with `{field}` placeholders filled. */
function baseUrlExpression(manifest: ConnectorManifest): string {
  const fields = [...(manifest.baseUrl ?? '').matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1] as string);
  const base = `($credentials.baseUrl || ${JSON.stringify(manifest.baseUrl ?? '')})`;
  return `={{${base}${fields.map((f) => `.replace("{${f}}", $credentials.${f})`).join('')}}}`;
}

/** The webhook signing secrets that come from platform config (`config:<key>`): they become credential fields. */
export function configSecrets(manifest: ConnectorManifest): string[] {
  const out = new Set<string>();
  for (const t of manifest.triggers) {
    const source = t.webhook?.verify?.secret;
    if (source?.startsWith('config:')) out.add(source);
  }
  return [...out];
}

function connectionFieldProperties(auth: AuthSpec): N8nProperty[] {
  return Object.entries(auth.fields ?? {}).map(([name, f]) => {
    const p: N8nProperty = { displayName: f.label, name, type: 'string' };
    if (f.secret) p.typeOptions = { password: true };
    p.default = f.default ?? '';
    if (f.required) p.required = true;
    if (f.placeholder) p.placeholder = f.placeholder;
    const d = lintSafeDescription(f.description, { displayName: f.label });
    if (d) p.description = d;
    return p;
  });
}

interface CredentialParts {
  properties: N8nProperty[];
  authenticate?: Record<string, unknown>;
  extendsOAuth2: boolean;
}

function credentialParts(manifest: ConnectorManifest): CredentialParts {
  const auth = manifest.auth;
  const props: N8nProperty[] = connectionFieldProperties(auth);
  const secret = (displayNameText: string, name: string): N8nProperty => ({ displayName: displayNameText, name, type: 'string', typeOptions: { password: true }, default: '', required: true });
  let authenticate: Record<string, unknown> | undefined;
  let extendsOAuth2 = false;
  switch (auth.type) {
    case 'api_key': {
      props.unshift(secret('API Key', 'apiKey'));
      const value = `=${auth.prefix ?? ''}{{$credentials.apiKey}}`;
      authenticate = { type: 'generic', properties: auth.in === 'query' ? { qs: { [auth.name]: value } } : { headers: { [auth.name]: value } } };
      break;
    }
    case 'basic':
      props.unshift({ displayName: auth.usernameLabel ?? 'Username', name: 'username', type: 'string', default: '', required: true }, secret(auth.passwordLabel ?? 'Password', 'password'));
      authenticate = { type: 'generic', properties: { auth: { username: '={{$credentials.username}}', password: '={{$credentials.password}}' } } };
      break;
    case 'bearer':
      props.unshift(secret('Access Token', 'token'));
      authenticate = { type: 'generic', properties: { headers: { Authorization: '=Bearer {{$credentials.token}}' } } };
      break;
    case 'oauth2': {
      extendsOAuth2 = true;
      const grantType = auth.grant === 'client_credentials' ? 'clientCredentials' : auth.pkce ? 'pkce' : 'authorizationCode';
      const hidden = (label: string, name: string, value: string): N8nProperty => ({ displayName: label, name, type: 'hidden', default: value });
      props.push(hidden('Grant Type', 'grantType', grantType));
      if (auth.grant !== 'client_credentials') props.push({ ...hidden('Authorization URL', 'authUrl', selfExpression(auth.authorizationUrl ?? '')), required: true });
      props.push({ ...hidden('Access Token URL', 'accessTokenUrl', selfExpression(auth.tokenUrl)), required: true });
      props.push(hidden('Scope', 'scope', auth.scopes.join(auth.scopeSeparator)));
      props.push(hidden('Auth URI Query Parameters', 'authQueryParameters', new URLSearchParams(auth.extraAuthorizeParams ?? {}).toString()));
      props.push(hidden('Authentication', 'authentication', auth.clientAuth === 'basic' ? 'header' : 'body'));
      break;
    }
    case 'none':
      break;
  }
  for (const source of configSecrets(manifest)) {
    const name = configSecretProperty(source);
    // An OAuth2 app's client secret (Shopify signs webhooks with it) is already a field of n8n's oAuth2Api.
    if (extendsOAuth2 && (name === 'clientSecret' || name === 'clientId')) continue;
    props.push({ displayName: displayName(source.slice('config:'.length)), name, type: 'string', typeOptions: { password: true }, default: '', description: 'Checks the signature of incoming webhooks' });
  }
  if (manifest.baseUrl) {
    props.push({
      displayName: 'Base URL',
      name: 'baseUrl',
      type: 'string',
      default: manifest.baseUrl,
      description: 'Where the API is. Change it only for a proxy, a sandbox or a test server; {field} placeholders are filled from the fields above.',
    });
  }
  return authenticate ? { properties: props, authenticate, extendsOAuth2 } : { properties: props, extendsOAuth2 };
}

/** True when the connector needs a credential type in n8n (it authenticates, or has connection fields or a base URL). */
export function needsCredential(manifest: ConnectorManifest): boolean {
  return manifest.auth.type !== 'none' || Object.keys(manifest.auth.fields ?? {}).length > 0 || !!manifest.baseUrl;
}

/** The TypeScript source of the credential type. */
export function credentialSource(manifest: ConnectorManifest, names: ExportNames): string {
  const parts = credentialParts(manifest);
  const imports = ['Icon', 'ICredentialType', 'INodeProperties'];
  const body: string[] = [];
  body.push(`\tname = '${names.credentialName}';`);
  if (parts.extendsOAuth2) body.push(`\textends = ['oAuth2Api'];`);
  body.push(`\tdisplayName = ${tsLiteral(names.credentialDisplayName)};`);
  body.push(`\ticon: Icon = ${tsLiteral(iconRef(names, '../icons'), 1)};`);
  body.push(`\tdocumentationUrl = ${tsLiteral(manifest.homepage && /^https?:\/\//.test(manifest.homepage) ? manifest.homepage : `https://www.npmjs.com/package/${names.packageName}`)};`);
  body.push(`\tproperties: INodeProperties[] = ${tsLiteral(parts.properties, 1)};`);
  if (parts.authenticate) {
    imports.push('IAuthenticateGeneric');
    body.push(`\tauthenticate: IAuthenticateGeneric = ${tsLiteral(parts.authenticate, 1)};`);
  }
  if (manifest.test && !parts.extendsOAuth2 && manifest.baseUrl) {
    imports.push('ICredentialTestRequest');
    body.push(`\ttest: ICredentialTestRequest = ${tsLiteral({ request: { baseURL: baseUrlExpression(manifest), url: manifest.test.path, method: manifest.test.method } }, 1)};`);
  }
  imports.sort((a, b) => a.localeCompare(b));
  return `import type {\n${imports.map((i) => `\t${i},`).join('\n')}\n} from 'n8n-workflow';\n\n/** Credential of the ${manifest.displayName} connector (generated by bos-connector export-n8n). */\nexport class ${names.credentialClass} implements ICredentialType {\n${body.join('\n\n')}\n}\n`;
}
