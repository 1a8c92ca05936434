import { createRequire } from 'node:module';
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { ConnectorError, InvalidInputError, type ErrorCode } from '../errors.ts';
import type { ConnectorManifest } from '../connector.ts';
import type { JsonSchema } from '../schema.ts';

const require = createRequire(import.meta.url);
const manifestSchema = require('../../schema/manifest.schema.json') as JsonSchema;
// ajv and ajv-formats are CommonJS: under NodeNext both the types and Node see the class/function on `.default`.
const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;
type Ajv = InstanceType<typeof Ajv>;

/** One problem found by a validator, located by a JSON pointer. */
export interface ValidationIssue {
  /** JSON pointer into the validated value (`/actions/0/params/properties/email/type`); '' is the root. */
  path: string;
  message: string;
  /** The JSON Schema keyword or check that failed (`type`, `required`, `duplicate-name`, ...). */
  rule: string;
}

export interface ValidationResult {
  ok: boolean;
  issues: ValidationIssue[];
}

function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, validateFormats: true });
  addFormats(ajv);
  return ajv;
}

// Value validation: strict about schemas, tolerant of the annotation keywords connector authors use.
const valueAjv = createAjv();
for (const keyword of ['example', 'x-display', 'x-placeholder', 'x-secret']) valueAjv.addKeyword(keyword);
const manifestAjv = createAjv();
const validateManifestShape = manifestAjv.compile(manifestSchema);

const escape = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

/** Turns ajv's errors into issues whose path points at the offending value itself. */
export function toIssues(errors: ErrorObject[] | null | undefined, base = ''): ValidationIssue[] {
  if (!errors) return [];
  const issues: ValidationIssue[] = [];
  for (const e of errors) {
    // `if`/`then` wrappers repeat what the inner error already said.
    if (e.keyword === 'if') continue;
    let path = base + e.instancePath;
    let message = e.message ?? 'is invalid';
    const p = e.params as Record<string, unknown>;
    if (e.keyword === 'required' && typeof p.missingProperty === 'string') {
      path += `/${escape(p.missingProperty)}`;
      message = 'is required';
    } else if (e.keyword === 'additionalProperties' && typeof p.additionalProperty === 'string') {
      path += `/${escape(p.additionalProperty)}`;
      message = 'is not an allowed field (unknown property)';
    } else if (e.keyword === 'enum' && Array.isArray(p.allowedValues)) {
      message = `must be one of ${p.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    } else if (e.keyword === 'const') {
      message = `must be ${JSON.stringify(p.allowedValue)}`;
    }
    const dup = issues.find((i) => i.path === path && i.message === message);
    if (!dup) issues.push({ path, message, rule: e.keyword });
  }
  return issues;
}

const compiled = new Map<string, ValidateFunction>();

/** Compiles a JSON Schema once (cached by its JSON text). Throws INVALID_INPUT when the schema itself is broken. */
export function compileSchema(schema: JsonSchema): ValidateFunction {
  const key = JSON.stringify(schema);
  let fn = compiled.get(key);
  if (!fn) {
    try {
      fn = valueAjv.compile(schema);
    } catch (error) {
      throw new ConnectorError('INVALID_INPUT', `Invalid JSON Schema: ${(error as Error).message}`);
    }
    if (compiled.size > 2000) compiled.clear();
    compiled.set(key, fn);
  }
  return fn;
}

/** Validates a value against a JSON Schema and lists every problem with its JSON pointer. */
export function validateValue(schema: JsonSchema, value: unknown): ValidationResult {
  const fn = compileSchema(schema);
  const ok = fn(value) as boolean;
  return { ok, issues: ok ? [] : toIssues(fn.errors) };
}

/** Formats issues as `path: message` lines (root shown as `(root)`). */
export function formatIssues(issues: ValidationIssue[]): string {
  return issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ');
}

/**
 * Validates a value and throws a typed error naming the first failing JSON path.
 * @param what  human label for the message, e.g. `params of stripe.createCustomer`.
 */
export function assertValid(schema: JsonSchema, value: unknown, what: string, code: ErrorCode = 'INVALID_INPUT'): void {
  const { ok, issues } = validateValue(schema, value);
  if (ok) return;
  const first = issues[0];
  const message = `Invalid ${what}: ${formatIssues(issues.slice(0, 5))}${issues.length > 5 ? ` (and ${issues.length - 5} more)` : ''}`;
  if (code === 'INVALID_INPUT') throw new InvalidInputError(message, first?.path, { issues });
  throw new ConnectorError(code, message, { path: first?.path, details: { issues } });
}

/** Checks that a value is itself a valid JSON Schema (meta-schema + compilation in strict mode). */
export function validateSchemaDefinition(schema: unknown, base: string): ValidationIssue[] {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    return [{ path: base, message: 'must be a JSON Schema object', rule: 'schema' }];
  }
  const metaOk = valueAjv.validateSchema(schema) as boolean;
  if (!metaOk) return toIssues(valueAjv.errors, base);
  try {
    compileSchema(schema as JsonSchema);
  } catch (error) {
    const text = (error as Error).message.replace(/^Invalid JSON Schema: /, '');
    const m = /keyword "([^"]+)"|keyword: "?([\w$-]+)"?/.exec(text);
    return [{ path: base, message: text, rule: m?.[1] ?? m?.[2] ?? 'schema' }];
  }
  return [];
}

const PLACEHOLDER = /\{([a-zA-Z_][a-zA-Z0-9_]*)\}/g;

/**
 * Validates a connector manifest: its shape against the shipped manifest JSON Schema, every params/output
 * schema against the JSON Schema meta-schema, and the cross-field rules a schema cannot express
 * (unique names, placeholders that name declared connection fields).
 */
export function validateManifest(manifest: unknown): ValidationResult {
  const issues: ValidationIssue[] = [];
  if (!validateManifestShape(manifest)) issues.push(...toIssues(validateManifestShape.errors));
  if (typeof manifest !== 'object' || manifest === null) return { ok: false, issues };
  const m = manifest as Partial<ConnectorManifest>;

  const checkNames = (list: { name?: unknown }[] | undefined, kind: 'actions' | 'triggers') => {
    const seen = new Map<unknown, number>();
    (list ?? []).forEach((item, i) => {
      const prev = seen.get(item?.name);
      if (prev !== undefined) issues.push({ path: `/${kind}/${i}/name`, message: `duplicates ${kind}[${prev}].name "${String(item.name)}"`, rule: 'duplicate-name' });
      else seen.set(item?.name, i);
    });
  };
  checkNames(m.actions, 'actions');
  checkNames(m.triggers, 'triggers');

  (m.actions ?? []).forEach((a, i) => {
    if (a && typeof a === 'object') {
      if ('params' in a) issues.push(...validateSchemaDefinition(a.params, `/actions/${i}/params`));
      if ('output' in a && a.output !== undefined) issues.push(...validateSchemaDefinition(a.output, `/actions/${i}/output`));
    }
  });
  (m.triggers ?? []).forEach((t, i) => {
    if (t && typeof t === 'object' && 'output' in t && t.output !== undefined) issues.push(...validateSchemaDefinition(t.output, `/triggers/${i}/output`));
  });

  const fields = new Set(Object.keys((m.auth as { fields?: object } | undefined)?.fields ?? {}));
  const checkPlaceholders = (value: unknown, path: string) => {
    if (typeof value !== 'string') return;
    for (const match of value.matchAll(PLACEHOLDER)) {
      if (!fields.has(match[1] ?? '')) {
        issues.push({ path, message: `uses {${match[1]}} but auth.fields declares no such connection field`, rule: 'unknown-placeholder' });
      }
    }
  };
  checkPlaceholders(m.baseUrl, '/baseUrl');
  (m.hosts ?? []).forEach((h, i) => checkPlaceholders(h, `/hosts/${i}`));
  const auth = m.auth as Record<string, unknown> | undefined;
  for (const key of ['authorizationUrl', 'tokenUrl', 'refreshUrl', 'revokeUrl']) checkPlaceholders(auth?.[key], `/auth/${key}`);

  return { ok: issues.length === 0, issues };
}
