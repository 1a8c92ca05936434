import { toAuthSpec, type AuthHandler, type AuthSpec } from './auth.ts';
import { ConnectorError, InvalidInputError, NotFoundError } from './errors.ts';
import { createHttpClient, type HttpClient, type HttpMethod, type Transport } from './http.ts';
import { normalizeSchema, type Infer, type InferOutput, type JsonSchema, type SchemaInput, type SchemaLike } from './schema.ts';
import { createMemoryStore, type KeyValueStore } from './store.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(message: string, data?: unknown): void;
  info(message: string, data?: unknown): void;
  warn(message: string, data?: unknown): void;
  error(message: string, data?: unknown): void;
}

/**
 * What a host hands the connector for one execution. This is the whole boundary:
 * a transport for HTTP (credentials are added on the host side), a log sink, the connection's
 * non-secret fields and a key/value store. All of it carries JSON only.
 */
export interface ExecutionEnv {
  transport: Transport;
  log?: (level: LogLevel, message: string, data?: unknown) => void;
  connection?: { fields?: Record<string, string> };
  store?: KeyValueStore;
}

/** Passed to every action, trigger step and poll. */
export interface ActionContext {
  http: HttpClient;
  log: Logger;
  connection: { fields: Record<string, string> };
  store: KeyValueStore;
}

export interface ActionExample<P = Record<string, unknown>> {
  description?: string;
  params: P;
  output?: unknown;
}

/** An action with typed params and output, as {@link defineAction} returns it. */
export interface ActionDefinition<P extends SchemaLike | undefined = SchemaLike | undefined, O extends SchemaLike | undefined = SchemaLike | undefined> {
  /** camelCase identifier, unique in the connector: `createOrder`. */
  name: string;
  displayName?: string;
  description: string;
  /** Groups actions into a resource (e.g. `order`, `customer`) for catalogs and n8n export. */
  group?: string;
  params?: P;
  output?: O;
  /** Safe to retry: the runtime retries 429/5xx/network errors only for idempotent actions. */
  idempotent?: boolean;
  examples?: ActionExample<Infer<NoInfer<P>>>[];
  // NoInfer: the schemas decide the types; execute's body must not widen them.
  execute(params: Infer<NoInfer<P>>, ctx: ActionContext): Promise<InferOutput<NoInfer<O>>>;
}

/**
 * An action as a connector holds it (types erased). Declared with method syntax so any
 * {@link ActionDefinition} is assignable, and inline actions get params as a plain record.
 */
export interface AnyActionDefinition {
  name: string;
  displayName?: string;
  description: string;
  group?: string;
  params?: SchemaInput;
  output?: SchemaInput;
  idempotent?: boolean;
  examples?: ActionExample<unknown>[];
  execute(params: Record<string, unknown>, ctx: ActionContext): Promise<unknown>;
}

/** Built-in signature schemes of real providers, plus a configurable HMAC. */
export type SignatureSpec =
  | { scheme: 'shopify' | 'stripe' | 'slack' | 'github'; secret: SecretSource; toleranceSeconds?: number }
  | {
      scheme: 'hmac';
      secret: SecretSource;
      algorithm: 'sha1' | 'sha256' | 'sha512';
      header: string;
      encoding: 'hex' | 'base64';
      /** Stripped from the header value before comparing, e.g. `sha256=`. */
      prefix?: string;
      /** What is signed: the raw body, or `{timestamp}.{body}` style templates. */
      payload?: string;
      timestampHeader?: string;
      toleranceSeconds?: number;
    };

/**
 * Where the signing secret comes from: `subscription` (returned by subscribe), `field:<name>` (a connection field),
 * or `config:<key>` (platform config, e.g. an OAuth app's client secret).
 */
export type SecretSource = 'subscription' | `field:${string}` | `config:${string}`;

export interface WebhookSubscription {
  /** The provider's id for the registered hook, needed to unsubscribe. */
  externalId: string;
  /** A signing secret the provider generated, stored encrypted by the host. */
  secret?: string;
  /** When the provider lets the subscription lapse (epoch ms); the host renews before then. */
  expiresAt?: number;
}

export interface WebhookDelivery {
  headers: Record<string, string>;
  query: Record<string, string>;
  /** Parsed JSON body (or the raw text when it was not JSON). */
  body: unknown;
  rawBody: string;
}

export interface WebhookTriggerSpec {
  /** The provider topic, e.g. `orders/create` or `/webhooks/orders/create`. */
  topic?: string;
  subscribe?(ctx: ActionContext, input: { webhookUrl: string; topic: string | undefined }): Promise<WebhookSubscription>;
  unsubscribe?(ctx: ActionContext, subscription: WebhookSubscription): Promise<void>;
  verify?: SignatureSpec;
  /** Where the provider's event id is: `header:X-Shopify-Webhook-Id` or a JSON pointer into the body (`/id`). */
  eventId?: string;
  /** Turns a delivery into zero or more events; default: the parsed body as one event. */
  transform?(delivery: WebhookDelivery, ctx: ActionContext): Promise<unknown[]> | unknown[];
}

export interface PollingTriggerSpec<S = unknown> {
  intervalSeconds: number;
  /** How items are told apart: by an id, or by a timestamp that only grows. JSON pointer into each item. */
  dedupe: { by: 'id' | 'timestamp'; path: string };
  poll(ctx: ActionContext, state: S | undefined): Promise<{ items: unknown[]; state: S }>;
}

export interface TriggerDefinition<O extends SchemaLike | undefined = SchemaLike | undefined> {
  name: string;
  displayName?: string;
  description: string;
  group?: string;
  output?: O;
  /** A sample event for "test trigger" and docs. */
  sample?: unknown;
  /** A topic string (the design document's form) or a full webhook spec. */
  webhook?: string | WebhookTriggerSpec;
  polling?: PollingTriggerSpec;
}

export interface ConnectorDefinition {
  /** Lower-case identifier, unique in the marketplace: `shopify`. */
  name: string;
  /** Semantic version. */
  version: string;
  displayName?: string;
  description?: string;
  category?: string;
  /** URL, data URI or package-relative path of an SVG/PNG icon. */
  icon?: string;
  author?: string;
  homepage?: string;
  auth?: AuthHandler | AuthSpec;
  /** Base URL for relative request paths; may contain `{field}` placeholders. */
  baseUrl?: string;
  /** Hosts the connector may call besides the base URL's (`*.example.com` allowed, `{field}` placeholders too). */
  hosts?: string[];
  /** Human-readable permissions the tenant grants (scopes, data touched). */
  permissions?: string[];
  /** `process` for connectors that need Node APIs (own isolation tier); default `sandbox`. */
  runtime?: 'sandbox' | 'process';
  /** A cheap request that proves the credentials work, used by "Test connection". */
  test?: { method?: HttpMethod; path: string };
  actions: AnyActionDefinition[];
  triggers?: TriggerDefinition[];
}

export interface ActionManifest {
  name: string;
  displayName: string;
  description: string;
  group?: string;
  params: JsonSchema;
  output?: JsonSchema;
  idempotent: boolean;
  examples: ActionExample<unknown>[];
}

export interface TriggerManifest {
  name: string;
  displayName: string;
  description: string;
  group?: string;
  type: 'webhook' | 'polling';
  output?: JsonSchema;
  sample?: unknown;
  webhook?: { topic?: string; verify?: SignatureSpec; eventId?: string; subscribe: boolean; unsubscribe: boolean; transform: boolean };
  polling?: { intervalSeconds: number; dedupe: { by: 'id' | 'timestamp'; path: string } };
}

/** Everything about a connector that can be read without running its code. */
export interface ConnectorManifest {
  manifestVersion: 1;
  name: string;
  version: string;
  displayName: string;
  description: string;
  category: string;
  icon?: string;
  author?: string;
  homepage?: string;
  auth: AuthSpec;
  baseUrl?: string;
  hosts: string[];
  permissions: string[];
  runtime: 'sandbox' | 'process';
  test?: { method: HttpMethod; path: string };
  actions: ActionManifest[];
  triggers: TriggerManifest[];
}

/** `createOrder` → `Create Order`, `new_order` → `New Order`. */
export function humanize(name: string): string {
  return name
    .replace(/[_-]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/\b\w/g, (c) => c.toUpperCase());
}

/** The host (`{shop}.myshopify.com`, or `host:port` for a non-default port) of an absolute URL, placeholders kept. */
export function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]+)/i.exec(url);
  if (!m?.[2]) return undefined;
  const scheme = (m[1] ?? '').toLowerCase();
  const authority = m[2].replace(/^[^@]*@/, '').toLowerCase();
  const defaultPort = scheme === 'https' ? ':443' : scheme === 'http' ? ':80' : '';
  return defaultPort && authority.endsWith(defaultPort) ? authority.slice(0, -defaultPort.length) : authority;
}

function buildManifest(def: ConnectorDefinition): ConnectorManifest {
  const auth = toAuthSpec(def.auth);
  const hosts = new Set<string>();
  for (const h of def.hosts ?? []) hosts.add(h.toLowerCase());
  const baseHost = hostOf(def.baseUrl);
  if (baseHost) hosts.add(baseHost);
  if (auth.type === 'oauth2') {
    for (const u of [auth.tokenUrl, auth.refreshUrl, auth.revokeUrl]) {
      const h = hostOf(u);
      if (h) hosts.add(h);
    }
  }
  const manifest: ConnectorManifest = {
    manifestVersion: 1,
    name: def.name,
    version: def.version,
    displayName: def.displayName ?? humanize(def.name),
    description: def.description ?? '',
    category: def.category ?? 'other',
    auth,
    hosts: [...hosts],
    permissions: [...(def.permissions ?? [])],
    runtime: def.runtime ?? 'sandbox',
    actions: def.actions.map((a) => {
      const m: ActionManifest = {
        name: a.name,
        displayName: a.displayName ?? humanize(a.name),
        description: a.description,
        params: normalizeSchema(a.params),
        idempotent: a.idempotent ?? false,
        examples: a.examples ? structuredClone(a.examples) : [],
      };
      if (a.group !== undefined) m.group = a.group;
      if (a.output !== undefined) m.output = normalizeSchema(a.output);
      return m;
    }),
    triggers: (def.triggers ?? []).map((t) => {
      const m: TriggerManifest = {
        name: t.name,
        displayName: t.displayName ?? humanize(t.name),
        description: t.description,
        type: t.polling ? 'polling' : 'webhook',
      };
      if (t.group !== undefined) m.group = t.group;
      if (t.output !== undefined) m.output = normalizeSchema(t.output);
      if (t.sample !== undefined) m.sample = structuredClone(t.sample);
      if (t.polling) m.polling = { intervalSeconds: t.polling.intervalSeconds, dedupe: { ...t.polling.dedupe } };
      else {
        const w: WebhookTriggerSpec = typeof t.webhook === 'string' ? { topic: t.webhook } : (t.webhook ?? {});
        const wm: NonNullable<TriggerManifest['webhook']> = {
          subscribe: typeof w.subscribe === 'function',
          unsubscribe: typeof w.unsubscribe === 'function',
          transform: typeof w.transform === 'function',
        };
        if (w.topic !== undefined) wm.topic = w.topic;
        if (w.verify !== undefined) wm.verify = structuredClone(w.verify);
        if (w.eventId !== undefined) wm.eventId = w.eventId;
        m.webhook = wm;
      }
      return m;
    }),
  };
  if (def.icon !== undefined) manifest.icon = def.icon;
  if (def.author !== undefined) manifest.author = def.author;
  if (def.homepage !== undefined) manifest.homepage = def.homepage;
  if (def.baseUrl !== undefined) manifest.baseUrl = def.baseUrl;
  if (def.test !== undefined) manifest.test = { method: def.test.method ?? 'GET', path: def.test.path };
  return manifest;
}

function createLogger(sink: ExecutionEnv['log']): Logger {
  const emit = (level: LogLevel) => (message: string, data?: unknown) => sink?.(level, String(message), data);
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

export type TriggerOperation = 'subscribe' | 'unsubscribe' | 'transform' | 'poll';

/**
 * A connector: its manifest (pure data) plus the functions behind it. Subclass it (the design document's
 * class form) or call {@link defineConnector}; both end up here.
 */
export class Connector {
  readonly definition: ConnectorDefinition;
  #manifest: ConnectorManifest | undefined;
  readonly #active: ActionContext[] = [];

  constructor(definition: ConnectorDefinition) {
    if (!definition || typeof definition !== 'object') throw new TypeError('Connector needs a definition object');
    this.definition = definition;
  }

  /** The connector's manifest: name, version, auth, hosts, actions and triggers with normalised JSON Schemas. */
  get manifest(): ConnectorManifest {
    this.#manifest ??= buildManifest(this.definition);
    return this.#manifest;
  }

  /**
   * The HTTP client of the execution in progress, for class-form connectors (`this.api.post(...)`).
   * The runtime runs one execution at a time per connector instance; with several at once use `ctx.http`.
   */
  get api(): HttpClient {
    const [only, ...rest] = this.#active;
    if (!only) throw new ConnectorError('INTERNAL', 'this.api is only available while an action or trigger step runs');
    if (rest.length > 0) throw new ConnectorError('INTERNAL', 'this.api is ambiguous while several executions run on one instance; use the ctx.http argument');
    return only.http;
  }

  /** Builds the context connector functions receive. */
  createContext(env: ExecutionEnv): ActionContext {
    if (!env || typeof env.transport !== 'function') throw new TypeError('ExecutionEnv.transport must be a function');
    return {
      http: createHttpClient(env.transport),
      log: createLogger(env.log),
      connection: { fields: { ...(env.connection?.fields ?? {}) } },
      store: env.store ?? createMemoryStore(),
    };
  }

  async #within<T>(env: ExecutionEnv, run: (ctx: ActionContext) => Promise<T>): Promise<T> {
    const ctx = this.createContext(env);
    this.#active.push(ctx);
    try {
      return await run(ctx);
    } finally {
      this.#active.splice(this.#active.indexOf(ctx), 1);
    }
  }

  /**
   * Proves the connection's credentials work by sending the manifest's `test` request (or, without one,
   * reports that nothing can be checked). Throws AUTH_FAILED when the provider refuses them.
   */
  async authenticate(env: ExecutionEnv): Promise<{ ok: true; checked: boolean; status?: number }> {
    const test = this.manifest.test;
    if (!test) return { ok: true, checked: false };
    return this.#within(env, async (ctx) => {
      const res = await ctx.http.request({ method: test.method, url: test.path });
      return { ok: true as const, checked: true, status: res.status };
    });
  }

  /** Runs one action. Params are validated by the host before this is called. */
  async executeAction(action: string, params: unknown, env: ExecutionEnv): Promise<unknown> {
    const def = this.definition.actions.find((a) => a.name === action);
    if (!def) {
      const known = this.definition.actions.map((a) => a.name).join(', ') || 'none';
      throw new NotFoundError(`Connector ${this.definition.name} has no action "${action}" (actions: ${known})`);
    }
    if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) {
      throw new InvalidInputError(`Params of ${this.definition.name}.${action} must be a JSON object`, '');
    }
    return this.#within(env, (ctx) => def.execute((params ?? {}) as Record<string, unknown>, ctx));
  }

  /** Runs one step of a trigger: subscribe, unsubscribe, transform (a webhook delivery) or poll. */
  async executeTrigger(trigger: string, operation: TriggerOperation, input: unknown, env: ExecutionEnv): Promise<unknown> {
    const def = (this.definition.triggers ?? []).find((t) => t.name === trigger);
    if (!def) throw new NotFoundError(`Connector ${this.definition.name} has no trigger "${trigger}"`);
    const webhook: WebhookTriggerSpec | undefined = typeof def.webhook === 'string' ? { topic: def.webhook } : def.webhook;
    return this.#within(env, async (ctx) => {
      switch (operation) {
        case 'poll': {
          if (!def.polling) throw new InvalidInputError(`Trigger ${trigger} is not a polling trigger`);
          const out = await def.polling.poll(ctx, input as never);
          if (!out || !Array.isArray(out.items)) throw new ConnectorError('INVALID_OUTPUT', `poll() of ${trigger} must return { items: [], state }`);
          return out;
        }
        case 'subscribe': {
          if (!webhook?.subscribe) throw new ConnectorError('NOT_IMPLEMENTED', `Trigger ${trigger} has no subscribe step; register the webhook URL at the provider by hand`);
          const { webhookUrl } = (input ?? {}) as { webhookUrl?: string };
          if (typeof webhookUrl !== 'string') throw new InvalidInputError('subscribe needs { webhookUrl }', '/webhookUrl');
          const sub = await webhook.subscribe(ctx, { webhookUrl, topic: webhook.topic });
          if (!sub || typeof sub.externalId !== 'string') throw new ConnectorError('INVALID_OUTPUT', `subscribe() of ${trigger} must return { externalId }`);
          return sub;
        }
        case 'unsubscribe': {
          if (!webhook?.unsubscribe) return null;
          await webhook.unsubscribe(ctx, input as WebhookSubscription);
          return null;
        }
        case 'transform': {
          const delivery = input as WebhookDelivery;
          if (!webhook?.transform) return [delivery.body];
          const events = await webhook.transform(delivery, ctx);
          if (!Array.isArray(events)) throw new ConnectorError('INVALID_OUTPUT', `transform() of ${trigger} must return an array of events`);
          return events;
        }
        default:
          throw new InvalidInputError(`Unknown trigger operation "${String(operation)}"`);
      }
    });
  }
}

/** Recognises a connector from any bundle or realm: a Connector instance or something shaped like one. */
export function isConnector(value: unknown): value is Connector {
  if (value instanceof Connector) return true;
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Connector>;
  return typeof v.executeAction === 'function' && typeof v.manifest === 'object' && v.manifest !== null;
}
