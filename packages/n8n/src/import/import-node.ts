import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InvalidInputError, type JsonSchema } from '@businessos/connector-sdk';
import { camelCase, pascalCase } from '../export/naming.ts';
import { ROUTE_HELPER, type Route, type Send } from './route-helper.ts';

/** Something the import could not carry over, located by a JSON pointer into the input. */
export interface UnsupportedFeature {
  path: string;
  reason: string;
}

export interface ImportReport {
  /** What became part of the connector: `action createContact (contact/create)`, `auth api_key header Authorization`, ... */
  converted: string[];
  unsupported: UnsupportedFeature[];
}

export interface ImportN8nOptions {
  /** An n8n INodeTypeDescription in the declarative style (JSON), or `{ node, credentials }`. */
  nodeDescription: unknown;
  /** The ICredentialType objects (JSON) the node references. */
  credentialTypes?: unknown[];
  /** Parent folder: the connector package is written to `<outDir>/<connector name>`. */
  outDir: string;
  /** Connector name; default the node name in kebab case. */
  name?: string;
}

export interface ImportN8nResult {
  dir: string;
  /** Files written, relative to `dir`. */
  files: string[];
  /** The connector's name. */
  name: string;
  report: ImportReport;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const esc = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']);

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/[^A-Za-z0-9]+/g, '-').replace(/^-+|-+$/g, '').toLowerCase();
}

/** `=/contacts/{{$parameter.contactId}}` or `={{"/deals/" + $parameter["dealId"]}}` → `/contacts/{contactId}`; undefined when not that simple. */
export function urlTemplate(url: string): string | undefined {
  if (!url.startsWith('=')) return url.includes('{{') ? undefined : url;
  const body = url.slice(1);
  const param = String.raw`\$parameter(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[["']([A-Za-z_][A-Za-z0-9_]*)["']\])`;
  const whole = new RegExp(String.raw`^\{\{\s*(.*?)\s*\}\}$`).exec(body);
  if (whole?.[1] && /^["']/.test(whole[1])) {
    // A string concatenation: "lit" + $parameter.x + "lit"
    let out = '';
    for (const part of whole[1].split('+').map((p) => p.trim())) {
      const lit = /^"([^"]*)"$|^'([^']*)'$/.exec(part);
      if (lit) { out += lit[1] ?? lit[2] ?? ''; continue; }
      const m = new RegExp(`^${param}$`).exec(part);
      if (!m) return undefined;
      out += `{${m[1] ?? m[2]}}`;
    }
    return out;
  }
  let ok = true;
  const out = body.replace(/\{\{\s*(.*?)\s*\}\}/g, (_m, expr: string) => {
    const m = new RegExp(`^${param}$`).exec(expr);
    if (!m) { ok = false; return ''; }
    return `{${m[1] ?? m[2]}}`;
  });
  return ok ? out : undefined;
}

/** `=https://{{$credentials.subdomain}}.acme.example/api` → `https://{subdomain}.acme.example/api` plus the field names. */
function baseUrlTemplate(url: string): { url: string; fields: string[] } | undefined {
  if (!url.startsWith('=')) return url.includes('{{') ? undefined : { url, fields: [] };
  const fields: string[] = [];
  let ok = true;
  const out = url.slice(1).replace(/\{\{\s*(.*?)\s*\}\}/g, (_m, expr: string) => {
    const m = /^\$credentials(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[["']([A-Za-z_][A-Za-z0-9_]*)["']\])$/.exec(expr);
    if (!m) { ok = false; return ''; }
    const f = (m[1] ?? m[2]) as string;
    fields.push(f);
    return `{${f}}`;
  });
  return ok && /^https?:\/\//.test(out) ? { url: out, fields } : undefined;
}

function shownFor(prop: Obj, resource: string | undefined, operation: string): boolean {
  const show = isObj(prop.displayOptions) && isObj(prop.displayOptions.show) ? prop.displayOptions.show : {};
  const ok = (key: string, value: string | undefined) => {
    const list = show[key];
    return !Array.isArray(list) || value === undefined || list.includes(value);
  };
  return ok('resource', resource) && ok('operation', operation);
}

interface Ctx {
  report: ImportReport;
}

/** The JSON Schema of one n8n property (reports what does not carry over). */
function propertySchema(prop: Obj, path: string, ctx: Ctx): JsonSchema | undefined {
  const type = String(prop.type);
  const out: Record<string, unknown> = {};
  const typeOptions = isObj(prop.typeOptions) ? prop.typeOptions : {};
  const dynamic = typeOptions.loadOptionsMethod ?? typeOptions.loadOptions ?? typeOptions.loadOptionsDependsOn;
  if (dynamic !== undefined) ctx.report.unsupported.push({ path: `${path}/typeOptions`, reason: 'loadOptions (values fetched at design time) cannot be converted; the parameter accepts a plain value' });
  switch (type) {
    case 'string':
    case 'color':
      out.type = 'string';
      if (prop.placeholder === 'name@email.com') out.format = 'email';
      break;
    case 'dateTime':
      out.type = 'string';
      out.format = 'date-time';
      break;
    case 'number':
      out.type = 'number';
      if (typeof typeOptions.minValue === 'number') out.minimum = typeOptions.minValue;
      if (typeof typeOptions.maxValue === 'number') out.maximum = typeOptions.maxValue;
      if (typeOptions.numberPrecision === 0) out.type = 'integer';
      break;
    case 'boolean':
      out.type = 'boolean';
      break;
    case 'options':
    case 'multiOptions': {
      const values = Array.isArray(prop.options) ? prop.options.filter(isObj).map((o) => o.value).filter((v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') : [];
      const item: Record<string, unknown> = dynamic !== undefined || values.length === 0 ? { type: 'string' } : { enum: values };
      if (type === 'multiOptions') { out.type = 'array'; out.items = item; } else Object.assign(out, item);
      break;
    }
    case 'json':
      break;
    case 'collection': {
      const props: Record<string, JsonSchema> = {};
      (Array.isArray(prop.options) ? prop.options : []).forEach((o, i) => {
        if (!isObj(o) || typeof o.name !== 'string') return;
        const s = propertySchema(o, `${path}/options/${i}`, ctx);
        if (s) props[o.name] = s;
      });
      Object.assign(out, { type: 'object', properties: props, additionalProperties: false });
      break;
    }
    case 'fixedCollection': {
      const props: Record<string, JsonSchema> = {};
      const many = typeOptions.multipleValues === true;
      (Array.isArray(prop.options) ? prop.options : []).forEach((group, i) => {
        if (!isObj(group) || typeof group.name !== 'string') return;
        const inner: Record<string, JsonSchema> = {};
        (Array.isArray(group.values) ? group.values : []).forEach((v, j) => {
          if (!isObj(v) || typeof v.name !== 'string') return;
          const s = propertySchema(v, `${path}/options/${i}/values/${j}`, ctx);
          if (s) inner[v.name] = s;
        });
        const obj = { type: 'object', properties: inner, additionalProperties: false };
        props[group.name] = many ? { type: 'array', items: obj } : obj;
      });
      Object.assign(out, { type: 'object', properties: props, additionalProperties: false });
      break;
    }
    case 'notice':
    case 'hidden':
      return undefined;
    default:
      ctx.report.unsupported.push({ path: `${path}/type`, reason: `property type "${type}" has no JSON Schema equivalent; the parameter accepts any JSON value` });
  }
  if (typeof prop.description === 'string' && prop.description) out.description = prop.description;
  const d = prop.default;
  const empty = d === '' || d === undefined || d === null || (isObj(d) && Object.keys(d).length === 0) || (Array.isArray(d) && d.length === 0);
  if (!empty && type !== 'json' && type !== 'collection' && type !== 'fixedCollection' && !(typeof d === 'string' && d.startsWith('='))) out.default = d;
  return out as JsonSchema;
}

/** Reads a property's `routing.send` (and reports what it cannot express). */
function sendOf(prop: Obj, path: string, ctx: Ctx): Send | 'skip' | undefined {
  const routing = prop.routing;
  if (!isObj(routing)) return undefined;
  for (const key of Object.keys(routing)) {
    if (key !== 'send') ctx.report.unsupported.push({ path: `${path}/routing/${key}`, reason: `routing.${key} on a parameter is not converted` });
  }
  const send = routing.send;
  if (!isObj(send)) return undefined;
  if (send.preSend !== undefined) {
    ctx.report.unsupported.push({ path: `${path}/routing/send/preSend`, reason: 'preSend functions are code inside the n8n node and cannot be converted; the parameter is left out' });
    return 'skip';
  }
  if (send.value !== undefined && send.value !== '={{$value}}' && send.value !== '={{ $value }}') {
    ctx.report.unsupported.push({ path: `${path}/routing/send/value`, reason: `the value expression ${JSON.stringify(send.value)} cannot be converted; the parameter is left out` });
    return 'skip';
  }
  if (send.type !== 'body' && send.type !== 'query') {
    ctx.report.unsupported.push({ path: `${path}/routing/send/type`, reason: `send.type ${JSON.stringify(send.type)} is not supported (body and query are); the parameter is left out` });
    return 'skip';
  }
  const name = String(prop.name);
  return { param: name, to: send.type, property: typeof send.property === 'string' && send.property ? send.property : name };
}

interface ActionPlan {
  name: string;
  displayName: string;
  description: string;
  group: string | undefined;
  params: JsonSchema;
  route: Route;
}

/** Credentials: the auth class call and connection fields for the generated connector. */
interface AuthPlan {
  cls: 'NoAuth' | 'ApiKeyAuth' | 'BearerTokenAuth' | 'BasicAuth' | 'OAuth2Auth';
  options: Obj;
  fields: Record<string, { type: 'string'; label: string; required?: boolean; secret?: boolean; placeholder?: string; description?: string }>;
  test?: { method: string; path: string };
}

function credentialPlan(credential: Obj | undefined, credIndex: number, baseFields: string[], baseUrl: string | undefined, ctx: Ctx): AuthPlan {
  const plan: AuthPlan = { cls: 'NoAuth', options: {}, fields: {} };
  if (!credential) {
    for (const f of baseFields) plan.fields[f] = { type: 'string', label: f, required: true };
    return plan;
  }
  const base = `/credentials/${credIndex}`;
  const properties = (Array.isArray(credential.properties) ? credential.properties : []).filter(isObj);
  const used = new Set<string>();
  const credRef = (value: unknown): { prefix: string; field: string; suffix: string } | undefined => {
    if (typeof value !== 'string') return undefined;
    const m = /^=(.*?)\{\{\s*\$credentials(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[["']([A-Za-z_][A-Za-z0-9_]*)["']\])\s*\}\}(.*)$/.exec(value);
    if (!m) return undefined;
    return { prefix: m[1] ?? '', field: (m[2] ?? m[3]) as string, suffix: m[4] ?? '' };
  };
  const authenticate = isObj(credential.authenticate) ? credential.authenticate : undefined;
  const extendsList = Array.isArray(credential.extends) ? credential.extends : [];
  if (extendsList.includes('oAuth2Api')) {
    const get = (n: string) => properties.find((p) => p.name === n)?.default;
    const grant = String(get('grantType') ?? 'authorizationCode');
    const toTemplate = (v: unknown) => (typeof v === 'string' ? v.replace(/^=/, '').replace(/\{\{\s*\$self\[["']([A-Za-z0-9_]+)["']\]\s*\}\}/g, '{$1}') : '');
    const opts: Obj = {
      clientId: 'config.client_id',
      clientSecret: 'config.client_secret',
      tokenUrl: toTemplate(get('accessTokenUrl')),
      scopes: String(get('scope') ?? '').split(/[ ,]+/).filter(Boolean),
      pkce: grant === 'pkce',
    };
    if (grant === 'clientCredentials') opts.grant = 'client_credentials';
    else opts.authorizationUrl = toTemplate(get('authUrl'));
    plan.cls = 'OAuth2Auth';
    plan.options = opts;
    for (const n of ['grantType', 'authUrl', 'accessTokenUrl', 'scope', 'authQueryParameters', 'authentication']) used.add(n);
    ctx.report.converted.push(`auth oauth2 (${grant}) from ${String(credential.name)}`);
  } else if (authenticate) {
    if (authenticate.type !== 'generic') {
      ctx.report.unsupported.push({ path: `${base}/authenticate`, reason: 'a programmatic authenticate function cannot be converted; the connector sends no credentials' });
    } else {
      const props = isObj(authenticate.properties) ? authenticate.properties : {};
      const candidates: Array<{ path: string; cls: AuthPlan['cls']; options: Obj; field: string[]; label: string }> = [];
      for (const [where, entries] of Object.entries(props)) {
        if (where === 'auth' && isObj(entries)) {
          const u = credRef(entries.username);
          const p = credRef(entries.password);
          if (u && p) candidates.push({ path: `${base}/authenticate/properties/auth`, cls: 'BasicAuth', options: {}, field: [u.field, p.field], label: 'basic' });
          else ctx.report.unsupported.push({ path: `${base}/authenticate/properties/auth`, reason: 'basic auth values must be plain {{$credentials.x}} references' });
          continue;
        }
        if ((where === 'headers' || where === 'qs') && isObj(entries)) {
          for (const [key, value] of Object.entries(entries)) {
            const ref = credRef(value);
            const p = `${base}/authenticate/properties/${where}/${esc(key)}`;
            if (!ref || ref.suffix) { ctx.report.unsupported.push({ path: p, reason: `the value ${JSON.stringify(value)} is not a prefix + {{$credentials.x}} template` }); continue; }
            if (where === 'headers' && key.toLowerCase() === 'authorization' && ref.prefix === 'Bearer ') {
              candidates.push({ path: p, cls: 'BearerTokenAuth', options: {}, field: [ref.field], label: 'bearer' });
            } else {
              const o: Obj = { name: key };
              if (where === 'qs') o.in = 'query';
              if (ref.prefix) o.prefix = ref.prefix;
              candidates.push({ path: p, cls: 'ApiKeyAuth', options: o, field: [ref.field], label: `api_key ${where === 'qs' ? 'query' : 'header'} ${key}` });
            }
          }
          continue;
        }
        ctx.report.unsupported.push({ path: `${base}/authenticate/properties/${esc(where)}`, reason: `credentials sent in "${where}" are not supported (headers, qs and auth are)` });
      }
      const chosen = candidates[0];
      for (const extra of candidates.slice(1)) ctx.report.unsupported.push({ path: extra.path, reason: 'only one credential can be applied per request in the SDK; this one is dropped' });
      if (chosen) {
        plan.cls = chosen.cls;
        plan.options = chosen.options;
        for (const f of chosen.field) used.add(f);
        ctx.report.converted.push(`auth ${chosen.label} from ${String(credential.name)}`);
      }
    }
  }
  // Everything else the credential asks for becomes a connection field.
  for (const p of properties) {
    const name = String(p.name);
    if (used.has(name)) continue;
    const secret = isObj(p.typeOptions) && p.typeOptions.password === true;
    const field: AuthPlan['fields'][string] = { type: 'string', label: String(p.displayName ?? name) };
    if (p.required === true || baseFields.includes(name)) field.required = true;
    if (secret) field.secret = true;
    if (typeof p.placeholder === 'string') field.placeholder = p.placeholder;
    if (typeof p.description === 'string') field.description = p.description;
    plan.fields[name] = field;
    if (secret) ctx.report.unsupported.push({ path: `${base}/properties/${properties.indexOf(p)}`, reason: `secret credential field "${name}" is kept as a connection field, but the connector never sees secrets, so no request uses it` });
  }
  const test = isObj(credential.test) && isObj(credential.test.request) ? credential.test.request : undefined;
  if (test && typeof test.url === 'string') {
    const testBase = typeof test.baseURL === 'string' ? baseUrlTemplate(test.baseURL)?.url : baseUrl;
    if (testBase === baseUrl && !test.url.includes('{{')) plan.test = { method: typeof test.method === 'string' ? test.method.toUpperCase() : 'GET', path: test.url };
    else ctx.report.unsupported.push({ path: `${base}/test/request`, reason: 'the credential test uses another base URL or an expression; no connection test is declared' });
  }
  return plan;
}

function planActions(node: Obj, ctx: Ctx): ActionPlan[] {
  const properties = (Array.isArray(node.properties) ? node.properties : []).filter(isObj);
  const resourceProp = properties.find((p) => p.name === 'resource' && p.type === 'options');
  const resources: Array<string | undefined> = resourceProp && Array.isArray(resourceProp.options) ? resourceProp.options.filter(isObj).map((o) => String(o.value)) : [undefined];
  const plans: ActionPlan[] = [];
  for (const resource of resources) {
    properties.forEach((opProp, opIndex) => {
      if (opProp.name !== 'operation' || !Array.isArray(opProp.options)) return;
      if (resource !== undefined && !shownFor(opProp, resource, '*')) {
        const show = isObj(opProp.displayOptions) && isObj(opProp.displayOptions.show) ? opProp.displayOptions.show : {};
        if (Array.isArray(show.resource) && !show.resource.includes(resource)) return;
      }
      opProp.options.forEach((option, optIndex) => {
        if (!isObj(option)) return;
        const operation = String(option.value);
        const where = `/properties/${opIndex}/options/${optIndex}`;
        const routing = isObj(option.routing) ? option.routing : undefined;
        const request = routing && isObj(routing.request) ? routing.request : undefined;
        const actionName = camelCase(`${operation} ${pascalCase(resource ?? '')}`);
        if (!request || typeof request.url !== 'string') {
          ctx.report.unsupported.push({ path: `${where}/routing`, reason: `operation ${resource ?? ''}/${operation} has no routing.request; it is not converted` });
          return;
        }
        const url = urlTemplate(request.url);
        if (url === undefined) {
          ctx.report.unsupported.push({ path: `${where}/routing/request/url`, reason: `the URL expression ${JSON.stringify(request.url)} is not a simple {{$parameter.x}} template; operation ${actionName} is not converted` });
          return;
        }
        const send = routing && isObj(routing.send) ? routing.send : {};
        if (send.preSend !== undefined) {
          ctx.report.unsupported.push({ path: `${where}/routing/send/preSend`, reason: `preSend functions are code inside the n8n node; operation ${actionName} is not converted` });
          return;
        }
        if (send.paginate !== undefined) ctx.report.unsupported.push({ path: `${where}/routing/send/paginate`, reason: `pagination is not converted; ${actionName} returns the first page only` });
        if (routing && routing.operations !== undefined) ctx.report.unsupported.push({ path: `${where}/routing/operations`, reason: `routing.operations (custom pagination) is not converted; ${actionName} returns the first page only` });
        const method = String(request.method ?? 'GET').toUpperCase();
        if (!METHODS.has(method)) {
          ctx.report.unsupported.push({ path: `${where}/routing/request/method`, reason: `method ${method} is not supported; operation ${actionName} is not converted` });
          return;
        }
        const route: Route = { method: method as Route['method'], url, sends: [] };
        for (const key of ['qs', 'body'] as const) {
          const value = request[key];
          if (!isObj(value)) continue;
          const literal: Obj = {};
          for (const [k, v] of Object.entries(value)) {
            if (typeof v === 'string' && v.startsWith('=')) ctx.report.unsupported.push({ path: `${where}/routing/request/${key}/${esc(k)}`, reason: `expression ${JSON.stringify(v)} is not converted; the value is not sent` });
            else literal[k] = v;
          }
          if (key === 'qs') route.query = literal as Route['query'];
          else route.body = literal;
        }
        for (const k of Object.keys(request)) {
          if (!['method', 'url', 'qs', 'body'].includes(k)) ctx.report.unsupported.push({ path: `${where}/routing/request/${esc(k)}`, reason: `request option "${k}" is not converted` });
        }
        const output = routing && isObj(routing.output) ? routing.output : undefined;
        if (output && Array.isArray(output.postReceive)) {
          output.postReceive.forEach((step, i) => {
            if (isObj(step) && step.type === 'rootProperty' && isObj(step.properties) && typeof step.properties.property === 'string') route.rootProperty = step.properties.property;
            else ctx.report.unsupported.push({ path: `${where}/routing/output/postReceive/${i}`, reason: `postReceive step ${isObj(step) ? JSON.stringify(step.type) : 'function'} is not converted (only rootProperty is); the raw response is returned` });
          });
        }
        const schemaProps: Record<string, JsonSchema> = {};
        const required: string[] = [];
        const urlParams = [...url.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1] as string);
        properties.forEach((prop, pIndex) => {
          if (prop.name === 'resource' || prop.name === 'operation' || typeof prop.name !== 'string') return;
          if (!shownFor(prop, resource, operation)) return;
          if (!isObj(prop.displayOptions)) return;
          const path = `/properties/${pIndex}`;
          const name = prop.name;
          if (prop.type === 'collection' && !isObj(prop.routing)) {
            const children: Send[] = [];
            (Array.isArray(prop.options) ? prop.options : []).forEach((o, i) => {
              if (!isObj(o)) return;
              const s = sendOf(o, `${path}/options/${i}`, ctx);
              if (s && s !== 'skip') children.push(s);
              else if (!s) ctx.report.unsupported.push({ path: `${path}/options/${i}`, reason: `option ${String(o.name)} has no routing.send; it is left out` });
            });
            if (children.length === 0) return;
            const kept = { ...prop, options: (prop.options as unknown[]).filter((o) => isObj(o) && children.some((c) => c.param === o.name)) };
            const schema = propertySchema(kept, path, ctx);
            if (schema) schemaProps[name] = schema;
            route.sends.push({ param: name, to: 'body', property: '', children });
            return;
          }
          const s = sendOf(prop, path, ctx);
          if (s === 'skip') return;
          if (!s && !urlParams.includes(name)) {
            ctx.report.unsupported.push({ path, reason: `parameter ${name} has no routing.send and is not in the URL (used only by expressions or pagination); it is left out of ${actionName}` });
            return;
          }
          const schema = propertySchema(prop, path, ctx);
          if (!schema) return;
          schemaProps[name] = schema;
          if (prop.required === true || urlParams.includes(name)) required.push(name);
          if (s) route.sends.push(s);
        });
        for (const p of urlParams) {
          if (!schemaProps[p]) {
            ctx.report.unsupported.push({ path: `${where}/routing/request/url`, reason: `the URL uses parameter ${p}, which is not shown for this operation; ${actionName} is not converted` });
            return;
          }
        }
        const label = typeof option.action === 'string' ? option.action : String(option.name ?? operation);
        plans.push({
          name: actionName,
          displayName: label,
          description: typeof option.description === 'string' && option.description ? option.description : label,
          group: resource,
          params: { type: 'object', properties: schemaProps, required, additionalProperties: false },
          route,
        });
        ctx.report.converted.push(`action ${actionName} (${resource ?? '-'}/${operation}): ${method} ${url}`);
      });
    });
  }
  return plans;
}

function actionFile(plan: ActionPlan): string {
  const group = plan.group === undefined ? '' : `\n  group: ${JSON.stringify(plan.group)},`;
  return `import { defineAction } from '@businessos/connector-sdk';
import { sendRoute, type Route } from '../route.ts';

const route: Route = ${JSON.stringify(plan.route, null, 2)};

/** ${plan.displayName} (imported from an n8n declarative node). */
export const ${plan.name} = defineAction({
  name: ${JSON.stringify(plan.name)},
  displayName: ${JSON.stringify(plan.displayName)},
  description: ${JSON.stringify(plan.description)},${group}
  params: ${JSON.stringify(plan.params, null, 2).replace(/\n/g, '\n  ')},
  async execute(params, ctx) {
    return sendRoute(ctx, route, params);
  },
});
`;
}

/** Accepts `{ node, credentials }` files as well as a bare node description. */
function unwrap(options: ImportN8nOptions): { node: Obj; credentials: Obj[] } {
  let node = options.nodeDescription;
  let credentials = options.credentialTypes ?? [];
  if (isObj(node) && isObj(node.node)) {
    credentials = credentials.length > 0 ? credentials : Array.isArray(node.credentials) ? node.credentials : [];
    node = node.node;
  }
  if (isObj(node) && isObj(node.description) && !Array.isArray(node.properties)) node = { ...node.description, ...(typeof node.execute === 'function' ? { execute: node.execute } : {}) };
  if (!isObj(node) || !Array.isArray(node.properties)) throw new InvalidInputError('importN8nNode needs an n8n node description with a properties array (INodeTypeDescription)', '/nodeDescription');
  return { node, credentials: credentials.filter(isObj) };
}

/**
 * Converts an n8n node in the declarative style (requestDefaults + routing) and its credential type into a
 * connector package for the SDK: one action per resource × operation, params from the properties shown for it,
 * auth from the credential's generic `authenticate`. Whatever cannot be converted is listed in
 * `report.unsupported` with its JSON pointer into the input (`/properties/3/routing/send/preSend`).
 */
export async function importN8nNode(options: ImportN8nOptions): Promise<ImportN8nResult> {
  const { node, credentials } = unwrap(options);
  const ctx: Ctx = { report: { converted: [], unsupported: [] } };
  if (node.execute !== undefined) ctx.report.unsupported.push({ path: '/execute', reason: 'the node has a programmatic execute(); only its declarative routing is converted' });
  for (const key of ['methods', 'webhooks', 'polling']) {
    if (node[key] !== undefined) ctx.report.unsupported.push({ path: `/${key}`, reason: `${key} (code or trigger behaviour of the n8n node) is not converted` });
  }
  const nodeName = typeof node.name === 'string' ? node.name : 'imported';
  const name = options.name ?? kebab(nodeName);
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(name)) throw new InvalidInputError(`Connector name ${JSON.stringify(name)} must be lower-case letters, digits and dashes; pass { name }`, '/name');
  const defaults = isObj(node.requestDefaults) ? node.requestDefaults : {};
  let baseUrl: string | undefined;
  let baseFields: string[] = [];
  if (typeof defaults.baseURL === 'string') {
    const t = baseUrlTemplate(defaults.baseURL);
    if (t) { baseUrl = t.url; baseFields = t.fields; ctx.report.converted.push(`baseUrl ${t.url}`); }
    else ctx.report.unsupported.push({ path: '/requestDefaults/baseURL', reason: `the base URL ${JSON.stringify(defaults.baseURL)} is not a URL with {{$credentials.x}} host labels; requests have no base URL` });
  }
  const headers: Record<string, string> = {};
  if (isObj(defaults.headers)) {
    for (const [k, v] of Object.entries(defaults.headers)) {
      if (typeof v === 'string' && !v.startsWith('=')) headers[k] = v;
      else ctx.report.unsupported.push({ path: `/requestDefaults/headers/${esc(k)}`, reason: 'header expressions are not converted' });
    }
  }
  const defaultQuery: Obj = {};
  if (isObj(defaults.qs)) for (const [k, v] of Object.entries(defaults.qs)) {
    if (typeof v === 'string' && v.startsWith('=')) ctx.report.unsupported.push({ path: `/requestDefaults/qs/${esc(k)}`, reason: 'query expressions are not converted' });
    else defaultQuery[k] = v;
  }
  for (const k of Object.keys(defaults)) if (!['baseURL', 'headers', 'qs'].includes(k)) ctx.report.unsupported.push({ path: `/requestDefaults/${esc(k)}`, reason: `request default "${k}" is not converted` });

  const credRefs = (Array.isArray(node.credentials) ? node.credentials : []).filter(isObj);
  const credName = credRefs[0]?.name;
  const credIndex = credentials.findIndex((c) => c.name === credName);
  if (credName !== undefined && credIndex < 0) ctx.report.unsupported.push({ path: '/credentials/0', reason: `credential type ${String(credName)} was not given; the connector sends no credentials` });
  credRefs.slice(1).forEach((c, i) => ctx.report.unsupported.push({ path: `/credentials/${i + 1}`, reason: `only the first credential type is converted; ${String(c.name)} is dropped` }));
  const auth = credentialPlan(credIndex >= 0 ? credentials[credIndex] : undefined, Math.max(credIndex, 0), baseFields, baseUrl, ctx);

  const plans = planActions(node, ctx);
  if (plans.length === 0) throw new InvalidInputError(`No operation of ${nodeName} could be converted: ${ctx.report.unsupported.map((u) => `${u.path}: ${u.reason}`).join('; ') || 'no routing found'}`, '/properties');

  const dir = resolve(options.outDir, name);
  rmSync(dir, { recursive: true, force: true });
  if (Object.keys(auth.fields).length > 0) auth.options.fields = auth.fields;
  const authCode = `new ${auth.cls}(${Object.keys(auth.options).length > 0 ? JSON.stringify(auth.options, null, 2).replace(/\n/g, '\n  ') : ''})`;
  const sdkImports = ['defineConnector', auth.cls].sort();
  const connectorOptions = [
    `name: ${JSON.stringify(name)}`,
    `version: '0.1.0'`,
    `displayName: ${JSON.stringify(String(node.displayName ?? name))}`,
    `description: ${JSON.stringify(String(node.description ?? ''))}`,
    `auth: ${authCode}`,
    ...(baseUrl ? [`baseUrl: ${JSON.stringify(baseUrl)}`] : []),
    ...(auth.test ? [`test: ${JSON.stringify(auth.test)}`] : []),
    `actions: [${plans.map((p) => p.name).join(', ')}]`,
  ];
  const index = `// Imported from the n8n node ${nodeName} by bos-connector import-n8n. See README.md for what was not converted.
import { ${sdkImports.join(', ')} } from '@businessos/connector-sdk';
${plans.map((p) => `import { ${p.name} } from './actions/${kebab(p.name)}.ts';`).join('\n')}

export default defineConnector({
  ${connectorOptions.join(',\n  ')},
});
`;
  const out: Record<string, string> = {
    'package.json': `${JSON.stringify({ name: `@businessos/connector-${name}`, version: '0.1.0', type: 'module', private: true, license: 'Apache-2.0', exports: { '.': './src/index.ts' }, businessos: { entry: 'src/index.ts' }, dependencies: { '@businessos/connector-sdk': '^0.1.0' } }, null, 2)}\n`,
    'src/index.ts': index,
    'src/route.ts': ROUTE_HELPER.replace('__HEADERS__', JSON.stringify(headers)).replace('__QUERY__', JSON.stringify(defaultQuery)),
    'README.md': importReadme(String(node.displayName ?? name), nodeName, plans, ctx.report),
  };
  for (const p of plans) out[`src/actions/${kebab(p.name)}.ts`] = actionFile(p);
  for (const [rel, text] of Object.entries(out)) {
    const full = join(dir, rel);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, text);
  }
  return { dir, files: Object.keys(out).sort(), name, report: ctx.report };
}

function importReadme(display: string, nodeName: string, plans: ActionPlan[], report: ImportReport): string {
  const lines = [`# ${display}`, '', `Imported from the n8n declarative node \`${nodeName}\` by \`bos-connector import-n8n\`.`, '', '## Actions', ''];
  for (const p of plans) lines.push(`- \`${p.name}\`: ${p.route.method} ${p.route.url}${p.description !== p.displayName ? ` (${p.description})` : ''}`);
  lines.push('', '## Converted', '', ...report.converted.map((c) => `- ${c}`), '', '## Not converted', '');
  if (report.unsupported.length === 0) lines.push('Nothing: every feature of the node was converted.');
  for (const u of report.unsupported) lines.push(`- \`${u.path}\`: ${u.reason}`);
  lines.push('');
  return lines.join('\n');
}
