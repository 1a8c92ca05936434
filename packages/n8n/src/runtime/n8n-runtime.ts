// The glue between n8n and a BusinessOS connector bundle. This one file is copied into every exported
// community-node package (as nodes/<Name>/shared/runtime.ts), so it imports only node:crypto and the SDK's host
// helpers for URLs and form bodies; the export points that import at vendor/sdk-host (an esbuild bundle of the
// SDK's url.ts and form.ts, see export/sdk-host.ts). It has no n8n-workflow import (n8n's own types reach it
// structurally through the generated node files) and uses only the syntax and globals n8n's community-node
// linter and tsconfig (ES2019 library) accept.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { assertUrlAllowed, encodeForm, fillTemplate, resolveRequestUrl } from '@businessos/connector-sdk/host';

/** The part of a JSON Schema the bridge reads. */
export interface SchemaLike {
	type?: string | string[];
	properties?: Record<string, SchemaLike>;
	required?: string[];
	items?: SchemaLike;
	enum?: unknown[];
	const?: unknown;
	format?: string;
	description?: string;
	default?: unknown;
	anyOf?: unknown[];
	oneOf?: unknown[];
	additionalProperties?: unknown;
	minimum?: number;
	maximum?: number;
}

/** How one JSON-Schema parameter is shown in n8n and converted back. */
export type FieldKind =
	| { kind: 'string' | 'number' | 'boolean' | 'dateTime' | 'json' }
	| { kind: 'options' | 'multiOptions'; values: Array<string | number | boolean> }
	| { kind: 'list'; item: 'string' | 'number' }
	| { kind: 'collection'; properties: Record<string, SchemaLike>; required: string[] }
	| { kind: 'fixedCollection'; properties: Record<string, SchemaLike>; required: string[] };

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function singleType(schema: SchemaLike): string | undefined {
	if (typeof schema.type === 'string') return schema.type;
	if (Array.isArray(schema.type)) {
		const types = schema.type.filter((t) => t !== 'null');
		return types.length === 1 ? types[0] : undefined;
	}
	if (Array.isArray(schema.enum)) return 'enum';
	if (schema.const !== undefined) return 'enum';
	return undefined;
}

function enumValues(schema: SchemaLike): Array<string | number | boolean> | undefined {
	const raw = Array.isArray(schema.enum) ? schema.enum : schema.const !== undefined ? [schema.const] : undefined;
	if (!raw) return undefined;
	const values = raw.filter((v): v is string | number | boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean');
	return values.length > 0 ? values : undefined;
}

function hasProperties(schema: SchemaLike): schema is SchemaLike & { properties: Record<string, SchemaLike> } {
	return isRecord(schema.properties) && Object.keys(schema.properties).length > 0;
}

/**
 * Decides how a parameter schema becomes an n8n property. `depth` is 0 for an action's own parameters;
 * objects and lists of objects nest one level (collection / fixedCollection), deeper structures become JSON.
 */
export function fieldKind(schema: SchemaLike, depth = 0): FieldKind {
	if (!isRecord(schema) || schema.anyOf !== undefined || schema.oneOf !== undefined) return { kind: 'json' };
	const values = enumValues(schema);
	if (values) return { kind: 'options', values };
	const type = singleType(schema);
	if (type === 'string') return { kind: schema.format === 'date-time' ? 'dateTime' : 'string' };
	if (type === 'number' || type === 'integer') return { kind: 'number' };
	if (type === 'boolean') return { kind: 'boolean' };
	if (type === 'object') {
		if (depth === 0 && hasProperties(schema) && !isRecord(schema.additionalProperties)) {
			return { kind: 'collection', properties: schema.properties, required: schema.required ?? [] };
		}
		return { kind: 'json' };
	}
	if (type === 'array' && isRecord(schema.items)) {
		const items = schema.items;
		const itemValues = enumValues(items);
		if (itemValues) return { kind: 'multiOptions', values: itemValues };
		const itemType = singleType(items);
		if (itemType === 'string') return { kind: 'list', item: 'string' };
		if (itemType === 'number' || itemType === 'integer') return { kind: 'list', item: 'number' };
		if (itemType === 'object' && depth === 0 && hasProperties(items)) {
			const flat = Object.values(items.properties).every((p) => {
				const k = fieldKind(p, 1).kind;
				return k !== 'collection' && k !== 'fixedCollection';
			});
			if (flat) return { kind: 'fixedCollection', properties: items.properties, required: items.required ?? [] };
		}
	}
	return { kind: 'json' };
}

/** A conversion problem, located by a JSON pointer into the action's params. */
export class ParamError extends Error {
	readonly code = 'INVALID_INPUT';
	readonly path: string;
	constructor(message: string, path: string) {
		super(message);
		this.name = 'ParamError';
		this.path = path;
	}
}

/** Turns the value n8n holds for a property back into the JSON the connector expects; undefined means "omit". */
export function fromN8nValue(schema: SchemaLike, value: unknown, path: string, depth = 0): unknown {
	if (value === undefined || value === null) return undefined;
	const kind = fieldKind(schema, depth);
	switch (kind.kind) {
		case 'string':
		case 'dateTime':
			return value === '' ? undefined : String(value);
		case 'number':
			if (value === '') return undefined;
			if (typeof value !== 'number' || Number.isNaN(value)) throw new ParamError(`${path} must be a number`, path);
			return value;
		case 'boolean':
			return Boolean(value);
		case 'options':
			return value === '' ? undefined : value;
		case 'multiOptions':
			return Array.isArray(value) && value.length > 0 ? value : undefined;
		case 'list': {
			const list = (Array.isArray(value) ? value : [value]).filter((v) => v !== '' && v !== undefined && v !== null);
			return list.length > 0 ? list : undefined;
		}
		case 'json': {
			if (typeof value !== 'string') return value;
			if (value.trim() === '') return undefined;
			try {
				return JSON.parse(value) as unknown;
			} catch (error) {
				return jsonError(path, error);
			}
		}
		case 'collection': {
			if (!isRecord(value)) return undefined;
			const out = convertObject(kind.properties, value, path, depth + 1);
			return Object.keys(out).length > 0 ? out : undefined;
		}
		case 'fixedCollection': {
			if (!isRecord(value)) return undefined;
			const rows = value.item;
			const list = Array.isArray(rows) ? rows : isRecord(rows) ? [rows] : [];
			const out = list.filter(isRecord).map((row, i) => convertObject(kind.properties, row, `${path}/${i}`, depth + 1));
			return out.length > 0 ? out : undefined;
		}
	}
}

function jsonError(path: string, error: unknown): never {
	const reason = error instanceof Error ? error.message : String(error);
	throw new ParamError(`${path} must be valid JSON (${reason}); enter an object like {"key": "value"}`, path);
}

function convertObject(properties: Record<string, SchemaLike>, value: Record<string, unknown>, path: string, depth: number): Record<string, unknown> {
	const out: Record<string, unknown> = {};
	for (const [name, schema] of Object.entries(properties)) {
		const converted = fromN8nValue(schema, value[name], `${path}/${name}`, depth);
		if (converted !== undefined) out[name] = converted;
	}
	return out;
}

/** The n8n property names an action's parameters use: required ones on their own, the others in `additionalFields`. */
export function propertyName(param: string): string {
	return param === 'resource' || param === 'operation' || param === 'additionalFields' ? `param_${param}` : param;
}

/** The manifest fields the runtime reads. */
export interface ManifestLike {
	name: string;
	baseUrl?: string;
	hosts: string[];
	auth: { type: string; fields?: Record<string, { secret?: boolean }>; tokenHeader?: { name: string; prefix: string } };
	actions: Array<{ name: string; params: SchemaLike }>;
	triggers: Array<{
		name: string;
		type: string;
		sample?: unknown;
		webhook?: { verify?: SignatureSpecLike; subscribe: boolean };
		polling?: { dedupe: { by: string; path: string } };
	}>;
}

/** A connector bundle's default export, as the runtime calls it. */
export interface BundledConnector {
	manifest: ManifestLike;
	executeAction(action: string, params: unknown, env: unknown): Promise<unknown>;
	executeTrigger(trigger: string, operation: string, input: unknown, env: unknown): Promise<unknown>;
}

/** Reads one item's parameters for an action from the node and converts them to the action's params. */
export function readActionParams(
	getParameter: (name: string, fallback: unknown) => unknown,
	schema: SchemaLike,
): Record<string, unknown> {
	const properties = isRecord(schema.properties) ? (schema.properties as Record<string, SchemaLike>) : {};
	const required = new Set(Array.isArray(schema.required) ? schema.required : []);
	const additional = getParameter('additionalFields', {});
	const extra = isRecord(additional) ? additional : {};
	const params: Record<string, unknown> = {};
	for (const [name, propSchema] of Object.entries(properties)) {
		const raw = required.has(name) ? getParameter(propertyName(name), undefined) : extra[name];
		const value = fromN8nValue(propSchema, raw, `/${name}`);
		if (value !== undefined) params[name] = value;
	}
	return params;
}

// ---- HTTP: the connector's transport served by n8n's authenticated request helpers ----

/** What the connector asks the host to send (the SDK's HttpRequest). */
export interface ConnectorRequest {
	method: string;
	url: string;
	query?: Record<string, unknown>;
	headers?: Record<string, string>;
	body?: unknown;
	bodyType?: 'json' | 'form';
	timeoutMs?: number;
}

export interface ConnectorResponse {
	status: number;
	headers: Record<string, string>;
	data: unknown;
}

/** The n8n request options the runtime sends (a subset of IHttpRequestOptions). */
export interface N8nRequestOptions {
	method: string;
	url: string;
	qs?: Record<string, unknown>;
	headers?: Record<string, string>;
	body?: unknown;
	json?: boolean;
	arrayFormat?: 'repeat';
	returnFullResponse: true;
	ignoreHttpStatusErrors: true;
	disableFollowRedirect: true;
	timeout?: number;
}

/** The slice of n8n's function contexts (execute, poll, hook, webhook) the runtime uses. */
export interface N8nContextLike {
	getCredentials(type: string, itemIndex?: number): Promise<object>;
	getNode(): { name: string };
	getWorkflowStaticData?(type: string): Record<string, unknown>;
	logger?: { debug(message: string, meta?: object): void; info(message: string, meta?: object): void; warn(message: string, meta?: object): void; error(message: string, meta?: object): void };
	helpers: {
		httpRequest?(options: never): Promise<unknown>;
		httpRequestWithAuthentication(this: unknown, credentialsType: string, requestOptions: never, additionalCredentialOptions?: never): Promise<unknown>;
	};
}

function parseUrl(text: string): URL | undefined {
	try {
		return new URL(text);
	} catch {
		return undefined;
	}
}

/**
 * Resolves a connector's request URL by the SDK's rules (placeholders filled from the credential's connection
 * fields, https on the hosts the manifest declares). When the credential sets a Base URL (a proxy, a sandbox, a
 * test server), relative paths resolve against it instead, and its host (and scheme) is allowed too.
 */
export function connectorRequestUrl(manifest: ManifestLike, fields: Record<string, string>, baseUrl: string | undefined, url: string): string {
	const override = baseUrl !== undefined && baseUrl.trim() !== '' ? baseUrl.trim() : undefined;
	if (override === undefined) {
		const resolved = resolveRequestUrl(manifest, fields, url);
		assertUrlAllowed(manifest, fields, resolved);
		return resolved.toString();
	}
	const base = parseUrl(fillTemplate(override, fields, 'Base URL'));
	if (!base) throw new ParamError(`The credential's Base URL ${JSON.stringify(override)} is not a URL; enter one like https://api.example.com/v1 or leave it empty`, '/baseUrl');
	const resolved = resolveRequestUrl(manifest, fields, url, undefined, override);
	assertUrlAllowed({ name: manifest.name, hosts: manifest.hosts.concat([base.host]) }, fields, resolved, { allowHttp: base.protocol === 'http:' });
	return resolved.toString();
}

function flatHeaders(headers: unknown): Record<string, string> {
	const out: Record<string, string> = {};
	if (!isRecord(headers)) return out;
	for (const [k, v] of Object.entries(headers)) {
		if (v === undefined || v === null) continue;
		out[k.toLowerCase()] = Array.isArray(v) ? v.map(String).join(', ') : String(v);
	}
	return out;
}

function responseData(body: unknown, headers: Record<string, string>): unknown {
	let data: unknown = body;
	if (data !== null && typeof data === 'object' && typeof (data as { toString?: unknown }).toString === 'function' && Buffer.isBuffer(data)) {
		data = data.toString('utf8');
	}
	if (typeof data === 'string') {
		if (data === '') return null;
		if (/json/i.test(headers['content-type'] ?? '')) {
			try {
				return JSON.parse(data) as unknown;
			} catch {
				return data;
			}
		}
	}
	return data === undefined ? null : data;
}

/** The connection as the credential holds it: connection fields, the base URL override and secrets. */
export interface Connection {
	credentialName: string | undefined;
	data: Record<string, unknown>;
	fields: Record<string, string>;
	publicFields: Record<string, string>;
	baseUrl: string | undefined;
}

/** Reads the node's credential (when the connector has one) into the values the transport needs. */
export async function readConnection(ctx: N8nContextLike, manifest: ManifestLike, credentialName: string | undefined, itemIndex?: number): Promise<Connection> {
	const data = credentialName ? ((await ctx.getCredentials(credentialName, itemIndex)) as Record<string, unknown>) : {};
	const fields: Record<string, string> = {};
	const publicFields: Record<string, string> = {};
	for (const [name, spec] of Object.entries(manifest.auth.fields ?? {})) {
		const value = data[name];
		if (value === undefined || value === null || value === '') continue;
		fields[name] = String(value);
		if (!spec.secret) publicFields[name] = String(value);
	}
	const baseUrl = typeof data.baseUrl === 'string' && data.baseUrl !== '' ? data.baseUrl : undefined;
	return { credentialName, data, fields, publicFields, baseUrl };
}

/**
 * How n8n's OAuth2 helper signs the connector's requests. It signs by the stored token's `token_type` and puts any
 * type but "bearer" into the query string: Slack's token answer says "bot", Shopify's has none. Connectors send
 * the access token as a Bearer header (or in their `tokenHeader`), whatever the provider calls its type.
 */
export function oauth2Options(tokenHeader: { name: string; prefix: string } | undefined): { tokenType: 'Bearer'; keyToIncludeInAccessTokenHeader?: string; keepBearer?: false } {
	if (!tokenHeader || tokenHeader.name.toLowerCase() === 'authorization') return { tokenType: 'Bearer' };
	return { tokenType: 'Bearer', keyToIncludeInAccessTokenHeader: tokenHeader.name, keepBearer: false };
}

/** A connector transport that sends through n8n's `httpRequestWithAuthentication`, so n8n applies the credential. */
export function createTransport(ctx: N8nContextLike, manifest: ManifestLike, connection: Connection): (request: ConnectorRequest) => Promise<ConnectorResponse> {
	return async (request) => {
		const method = String(request.method || 'GET').toUpperCase();
		const options: N8nRequestOptions = {
			method,
			url: connectorRequestUrl(manifest, connection.fields, connection.baseUrl, request.url),
			headers: { accept: 'application/json', ...(request.headers ?? {}) },
			returnFullResponse: true,
			ignoreHttpStatusErrors: true,
			disableFollowRedirect: true,
			arrayFormat: 'repeat',
		};
		if (request.timeoutMs !== undefined) options.timeout = request.timeoutMs;
		if (request.query) {
			const qs: Record<string, unknown> = {};
			for (const [k, v] of Object.entries(request.query)) if (v !== undefined && v !== null) qs[k] = v;
			options.qs = qs;
		}
		if (request.body !== undefined && method !== 'GET' && method !== 'HEAD') {
			const headers = options.headers ?? {};
			if (request.bodyType === 'form') {
				options.body = encodeForm(request.body);
				headers['content-type'] = 'application/x-www-form-urlencoded';
			} else {
				options.body = request.body;
				options.json = true;
				if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
			}
			options.headers = headers;
		}
		const extra = manifest.auth.type === 'oauth2' ? { oauth2: oauth2Options(manifest.auth.tokenHeader) } : undefined;
		let raw: unknown;
		if (connection.credentialName) {
			raw = await ctx.helpers.httpRequestWithAuthentication.call(ctx, connection.credentialName, options as never, extra as never);
		} else if (ctx.helpers.httpRequest) {
			raw = await ctx.helpers.httpRequest(options as never);
		} else {
			throw new ParamError('This n8n context offers no HTTP helper', '/');
		}
		const full = isRecord(raw) ? raw : {};
		const headers = flatHeaders(full.headers);
		const status = typeof full.statusCode === 'number' ? full.statusCode : 200;
		return { status, headers, data: responseData(full.body, headers) };
	};
}

/** A key/value store kept in the node's workflow static data (trigger state survives between runs). */
export function staticStore(data: Record<string, unknown>, key: string) {
	const slot = (): Record<string, unknown> => {
		const current = data[key];
		if (isRecord(current)) return current;
		const fresh: Record<string, unknown> = {};
		data[key] = fresh;
		return fresh;
	};
	return {
		async get(name: string): Promise<unknown> {
			const value = slot()[name];
			return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown);
		},
		async set(name: string, value: unknown): Promise<void> {
			slot()[name] = JSON.parse(JSON.stringify(value)) as unknown;
		},
		async delete(name: string): Promise<void> {
			delete slot()[name];
		},
	};
}

/** The execution env a connector receives inside n8n. */
export function createEnv(ctx: N8nContextLike, manifest: ManifestLike, connection: Connection, store?: ReturnType<typeof staticStore>) {
	const memory: Record<string, unknown> = {};
	return {
		transport: createTransport(ctx, manifest, connection),
		log: (level: string, message: string, data?: unknown) => {
			const logger = ctx.logger;
			if (!logger) return;
			const meta = data === undefined ? {} : { data };
			if (level === 'error') logger.error(message, meta);
			else if (level === 'warn') logger.warn(message, meta);
			else if (level === 'info') logger.info(message, meta);
			else logger.debug(message, meta);
		},
		connection: { fields: connection.publicFields },
		store: store ?? staticStore(memory, 'store'),
	};
}

// ---- results and errors ----

/** One n8n item per result: an array gives one item per element; a non-object is wrapped as `{ value }`. */
export function toItems(result: unknown, itemIndex: number): Array<{ json: Record<string, unknown>; pairedItem: { item: number } }> {
	const list = Array.isArray(result) ? result : [result];
	return list.map((entry) => ({ json: isRecord(entry) ? entry : { value: entry === undefined ? null : entry }, pairedItem: { item: itemIndex } }));
}

/** What an error thrown by connector code or the transport says, as plain data. */
export interface ErrorInfo {
	message: string;
	code: string;
	path?: string;
	upstreamStatus?: number;
	details?: unknown;
}

export function errorInfo(error: unknown): ErrorInfo {
	if (isRecord(error) || error instanceof Error) {
		const e = error as unknown as Record<string, unknown>;
		const info: ErrorInfo = {
			message: typeof e.message === 'string' && e.message !== '' ? e.message : 'The connector failed',
			code: typeof e.code === 'string' ? e.code : 'INTERNAL',
		};
		if (typeof e.path === 'string') info.path = e.path;
		if (typeof e.upstreamStatus === 'number') info.upstreamStatus = e.upstreamStatus;
		if (e.details !== undefined) info.details = e.details;
		return info;
	}
	return { message: String(error), code: 'INTERNAL' };
}

// ---- actions ----

/** Runs one action for one input item: reads its parameters, calls the connector's own code through n8n's HTTP helpers. */
export async function runAction(
	ctx: N8nContextLike & { getNodeParameter(name: string, itemIndex: number, fallback?: unknown): unknown },
	connector: BundledConnector,
	credentialName: string | undefined,
	itemIndex: number,
): Promise<unknown> {
	const operation = String(ctx.getNodeParameter('operation', itemIndex));
	const action = connector.manifest.actions.find((a) => a.name === operation);
	if (!action) throw new ParamError(`Unknown operation "${operation}"; pick one of ${connector.manifest.actions.map((a) => a.name).join(', ')}`, '/operation');
	const params = readActionParams((name, fallback) => ctx.getNodeParameter(name, itemIndex, fallback), action.params);
	const connection = await readConnection(ctx, connector.manifest, credentialName, itemIndex);
	return connector.executeAction(action.name, params, createEnv(ctx, connector.manifest, connection));
}

// ---- webhook triggers ----

/** What the webhook node keeps in static data about its registration at the provider. */
export interface StoredSubscription {
	trigger: string;
	webhookUrl: string;
	externalId?: string;
	secret?: string;
	expiresAt?: number;
	manual?: boolean;
}

function findTrigger(connector: BundledConnector, name: string, type: string) {
	const trigger = connector.manifest.triggers.find((t) => t.name === name && t.type === type);
	if (!trigger) throw new ParamError(`Unknown ${type} trigger "${name}"; pick one of ${connector.manifest.triggers.filter((t) => t.type === type).map((t) => t.name).join(', ')}`, '/event');
	return trigger;
}

function readSubscription(data: Record<string, unknown>): StoredSubscription | undefined {
	const sub = data.subscription;
	return isRecord(sub) && typeof sub.trigger === 'string' && typeof sub.webhookUrl === 'string' ? (sub as unknown as StoredSubscription) : undefined;
}

/** True when this webhook URL is registered for this trigger (n8n's checkExists). */
export function webhookExists(staticData: Record<string, unknown>, trigger: string, webhookUrl: string): boolean {
	const sub = readSubscription(staticData);
	return !!sub && sub.trigger === trigger && sub.webhookUrl === webhookUrl;
}

/** Registers the webhook URL at the provider with the connector's subscribe step (n8n's create). */
export async function subscribeWebhook(ctx: N8nContextLike, connector: BundledConnector, credentialName: string | undefined, triggerName: string, webhookUrl: string, staticData: Record<string, unknown>): Promise<StoredSubscription> {
	const trigger = findTrigger(connector, triggerName, 'webhook');
	const connection = await readConnection(ctx, connector.manifest, credentialName);
	const env = createEnv(ctx, connector.manifest, connection, staticStore(staticData, 'store'));
	let stored: StoredSubscription = { trigger: triggerName, webhookUrl, manual: true };
	if (trigger.webhook?.subscribe) {
		const sub = (await connector.executeTrigger(triggerName, 'subscribe', { webhookUrl }, env)) as Record<string, unknown>;
		stored = { trigger: triggerName, webhookUrl, externalId: String(sub.externalId) };
		if (typeof sub.secret === 'string') stored.secret = sub.secret;
		if (typeof sub.expiresAt === 'number') stored.expiresAt = sub.expiresAt;
	}
	staticData.subscription = stored as unknown as Record<string, unknown>;
	return stored;
}

/** Removes the registration (n8n's delete); forgets it even when the provider no longer knows it. */
export async function unsubscribeWebhook(ctx: N8nContextLike, connector: BundledConnector, credentialName: string | undefined, staticData: Record<string, unknown>): Promise<void> {
	const sub = readSubscription(staticData);
	delete staticData.subscription;
	if (!sub || sub.manual || sub.externalId === undefined) return;
	const connection = await readConnection(ctx, connector.manifest, credentialName);
	const env = createEnv(ctx, connector.manifest, connection, staticStore(staticData, 'store'));
	const payload: Record<string, unknown> = { externalId: sub.externalId };
	if (sub.secret !== undefined) payload.secret = sub.secret;
	await connector.executeTrigger(sub.trigger, 'unsubscribe', payload, env);
}

/** A signature scheme as the manifest declares it. */
export interface SignatureSpecLike {
	scheme: string;
	secret: string;
	toleranceSeconds?: number;
	algorithm?: string;
	header?: string;
	encoding?: string;
	prefix?: string;
	payload?: string;
	timestampHeader?: string;
}

function hmac(algorithm: string, secret: string, payload: string, encoding: 'hex' | 'base64'): string {
	return createHmac(algorithm, secret).update(payload, 'utf8').digest(encoding);
}

function sameText(a: string, b: string): boolean {
	const x = Buffer.from(a);
	const y = Buffer.from(b);
	return x.length === y.length && timingSafeEqual(x, y);
}

function fresh(timestampSeconds: number, tolerance: number | undefined, nowMs: number): boolean {
	if (!Number.isFinite(timestampSeconds)) return false;
	return Math.abs(nowMs / 1000 - timestampSeconds) <= (tolerance ?? 300);
}

/**
 * Checks a delivery's signature by the manifest's scheme (shopify, stripe, slack, github or a configured hmac).
 * Returns undefined when it holds, else the reason it does not.
 */
export function verifySignature(spec: SignatureSpecLike, secret: string, headers: Record<string, string>, rawBody: string, nowMs: number): string | undefined {
	const h = (name: string) => headers[name.toLowerCase()];
	switch (spec.scheme) {
		case 'shopify': {
			const given = h('x-shopify-hmac-sha256');
			if (!given) return 'missing X-Shopify-Hmac-Sha256 header';
			return sameText(hmac('sha256', secret, rawBody, 'base64'), given) ? undefined : 'X-Shopify-Hmac-Sha256 does not match the body';
		}
		case 'github': {
			const given = h('x-hub-signature-256');
			if (!given) return 'missing X-Hub-Signature-256 header';
			return sameText(`sha256=${hmac('sha256', secret, rawBody, 'hex')}`, given) ? undefined : 'X-Hub-Signature-256 does not match the body';
		}
		case 'slack': {
			const given = h('x-slack-signature');
			const ts = h('x-slack-request-timestamp');
			if (!given || !ts) return 'missing X-Slack-Signature or X-Slack-Request-Timestamp header';
			if (!fresh(Number(ts), spec.toleranceSeconds, nowMs)) return 'X-Slack-Request-Timestamp is too old (possible replay)';
			return sameText(`v0=${hmac('sha256', secret, `v0:${ts}:${rawBody}`, 'hex')}`, given) ? undefined : 'X-Slack-Signature does not match the body';
		}
		case 'stripe': {
			const given = h('stripe-signature');
			if (!given) return 'missing Stripe-Signature header';
			let t = '';
			const v1: string[] = [];
			for (const part of given.split(',')) {
				const eq = part.indexOf('=');
				const k = part.slice(0, eq).trim();
				const v = part.slice(eq + 1).trim();
				if (k === 't') t = v;
				else if (k === 'v1') v1.push(v);
			}
			if (!t || v1.length === 0) return 'Stripe-Signature has no t= or v1= part';
			if (!fresh(Number(t), spec.toleranceSeconds, nowMs)) return 'Stripe-Signature timestamp is outside the tolerance (possible replay)';
			const expected = hmac('sha256', secret, `${t}.${rawBody}`, 'hex');
			return v1.some((sig) => sameText(expected, sig)) ? undefined : 'Stripe-Signature does not match the body';
		}
		case 'hmac': {
			const headerName = spec.header ?? '';
			let given = h(headerName);
			if (!given) return `missing ${headerName} header`;
			if (spec.prefix && given.indexOf(spec.prefix) === 0) given = given.slice(spec.prefix.length);
			const ts = spec.timestampHeader ? h(spec.timestampHeader) : undefined;
			if (spec.timestampHeader) {
				if (!ts) return `missing ${spec.timestampHeader} header`;
				if (!fresh(Number(ts), spec.toleranceSeconds, nowMs)) return `${spec.timestampHeader} is outside the tolerance (possible replay)`;
			}
			const payload = (spec.payload ?? '{body}').split('{timestamp}').join(ts ?? '').split('{body}').join(rawBody);
			const encoding = spec.encoding === 'base64' ? 'base64' : 'hex';
			return sameText(hmac(spec.algorithm ?? 'sha256', secret, payload, encoding), given) ? undefined : `${headerName} does not match the body`;
		}
		default:
			return `unknown signature scheme ${spec.scheme}`;
	}
}

/** The credential property that holds a `config:<key>` secret (`config:signing_secret` → `signingSecret`). */
export function configSecretProperty(source: string): string {
	const key = source.slice('config:'.length);
	return key.replace(/[^A-Za-z0-9]+(.)?/g, (_m: string, c: string | undefined) => (c ? c.toUpperCase() : '')).replace(/^[A-Z]/, (c) => c.toLowerCase());
}

function signingSecret(spec: SignatureSpecLike, sub: StoredSubscription | undefined, connection: Connection): string | undefined {
	if (spec.secret === 'subscription') return sub?.secret;
	if (spec.secret.indexOf('field:') === 0) return connection.fields[spec.secret.slice('field:'.length)];
	if (spec.secret.indexOf('config:') === 0) {
		const value = connection.data[configSecretProperty(spec.secret)];
		return typeof value === 'string' && value !== '' ? value : undefined;
	}
	return undefined;
}

/** One webhook delivery as n8n hands it over. */
export interface Delivery {
	headers: Record<string, string>;
	query: Record<string, string>;
	body: unknown;
	rawBody: string;
}

export type WebhookOutcome =
	| { kind: 'events'; events: unknown[] }
	| { kind: 'rejected'; status: number; reason: string }
	| { kind: 'challenge'; challenge: string };

/** Verifies a delivery's signature, answers provider handshakes, and turns the delivery into events with the connector's transform. */
export async function handleDelivery(ctx: N8nContextLike, connector: BundledConnector, credentialName: string | undefined, triggerName: string, delivery: Delivery, staticData: Record<string, unknown>, nowMs: number): Promise<WebhookOutcome> {
	const trigger = findTrigger(connector, triggerName, 'webhook');
	const connection = await readConnection(ctx, connector.manifest, credentialName);
	const verify = trigger.webhook?.verify;
	const body = delivery.body;
	if (verify) {
		const secret = signingSecret(verify, readSubscription(staticData), connection);
		if (!secret) return { kind: 'rejected', status: 401, reason: `no signing secret for the ${verify.scheme} signature check (source ${verify.secret}); set it in the credential or re-activate the workflow` };
		const problem = verifySignature(verify, secret, delivery.headers, delivery.rawBody, nowMs);
		if (problem) return { kind: 'rejected', status: 401, reason: problem };
		if (verify.scheme === 'slack' && isRecord(body) && body.type === 'url_verification' && typeof body.challenge === 'string') {
			return { kind: 'challenge', challenge: body.challenge };
		}
	}
	const env = createEnv(ctx, connector.manifest, connection, staticStore(staticData, 'store'));
	const events = await connector.executeTrigger(triggerName, 'transform', delivery, env);
	return { kind: 'events', events: Array.isArray(events) ? events : [] };
}

// ---- polling triggers ----

/** Reads a JSON pointer (`/id`, `/data/created`) from a value. */
export function pointer(value: unknown, path: string): unknown {
	if (path === '' || path === '/') return value;
	let current: unknown = value;
	for (const raw of path.replace(/^\//, '').split('/')) {
		const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
		if (Array.isArray(current)) current = current[Number(key)];
		else if (isRecord(current)) current = current[key];
		else return undefined;
	}
	return current;
}

const SEEN_LIMIT = 1000;

/**
 * One poll: runs the connector's poll with the state kept in static data, drops items already emitted (by the
 * manifest's dedupe id or timestamp), saves the new state. In a manual test run nothing is saved and, when the
 * poll finds nothing new, the trigger's sample event is returned so fields can be mapped.
 */
export async function pollOnce(ctx: N8nContextLike, connector: BundledConnector, credentialName: string | undefined, triggerName: string, staticData: Record<string, unknown>, manual: boolean): Promise<unknown[]> {
	const trigger = findTrigger(connector, triggerName, 'polling');
	const slot: Record<string, unknown> = isRecord(staticData[triggerName]) ? (staticData[triggerName] as Record<string, unknown>) : {};
	const working: Record<string, unknown> = manual ? (JSON.parse(JSON.stringify(slot)) as Record<string, unknown>) : slot;
	const connection = await readConnection(ctx, connector.manifest, credentialName);
	const env = createEnv(ctx, connector.manifest, connection, staticStore(working, 'store'));
	const out = (await connector.executeTrigger(triggerName, 'poll', working.state, env)) as { items?: unknown[]; state?: unknown };
	const items = Array.isArray(out.items) ? out.items : [];
	const dedupe = trigger.polling?.dedupe;
	let fresh = items;
	if (dedupe && dedupe.by === 'id') {
		const seen = Array.isArray(working.seen) ? (working.seen as unknown[]).map(String) : [];
		const known = new Set(seen);
		fresh = items.filter((item) => {
			const id = pointer(item, dedupe.path);
			if (id === undefined || id === null) return true;
			const key = String(id);
			if (known.has(key)) return false;
			known.add(key);
			seen.push(key);
			return true;
		});
		working.seen = seen.slice(-SEEN_LIMIT);
	} else if (dedupe && dedupe.by === 'timestamp') {
		const toNumber = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : Number.NaN);
		const last = typeof working.lastTimestamp === 'number' ? working.lastTimestamp : Number.NEGATIVE_INFINITY;
		fresh = items.filter((item) => {
			const ts = toNumber(pointer(item, dedupe.path));
			return Number.isNaN(ts) || ts > last;
		});
		const newest = fresh.reduce<number>((max, item) => {
			const ts = toNumber(pointer(item, dedupe.path));
			return Number.isNaN(ts) ? max : Math.max(max, ts);
		}, last);
		if (Number.isFinite(newest)) working.lastTimestamp = newest;
	}
	working.state = out.state === undefined ? null : (JSON.parse(JSON.stringify(out.state)) as unknown);
	if (!manual) staticData[triggerName] = working;
	if (manual && fresh.length === 0 && trigger.sample !== undefined) return [trigger.sample];
	return fresh;
}
