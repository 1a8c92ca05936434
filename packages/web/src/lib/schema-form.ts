import type { JsonSchema } from '../api/types.ts';

// Turns an action's parameter JSON Schema into form fields, and the form's values back into parameters.

/** How a parameter is edited. Anything richer than these (objects, arrays of objects, anyOf) is a JSON textarea. */
export type FieldKind = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'string-list' | 'json';

export interface FormField {
  /** Property name, also the key of the value. */
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  description?: string;
  /** For `enum`: the allowed values (any JSON), shown by their JSON text unless they are strings. */
  options?: unknown[];
  /** `email`, `uri`, `date-time`, ... picks the input type. */
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  /** Value to start with (as the form holds it). */
  initial: string | boolean;
}

/** What the form holds for each field: text for everything but checkboxes. */
export type FormValues = Record<string, string | boolean>;

export interface FieldError {
  field: string;
  message: string;
}

function mainType(schema: JsonSchema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== 'null');
  return schema.type;
}

function humanize(name: string): string {
  const spaced = name.replace(/[_-]+/g, ' ').replace(/([a-z0-9])([A-Z])/g, '$1 $2').trim();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/** Which editor fits `schema`. */
export function fieldKind(schema: JsonSchema): FieldKind {
  if (schema.enum && schema.enum.length > 0) return 'enum';
  if (schema.anyOf || schema.oneOf) return 'json';
  const type = mainType(schema);
  if (type === 'string') return 'string';
  if (type === 'number') return 'number';
  if (type === 'integer') return 'integer';
  if (type === 'boolean') return 'boolean';
  if (type === 'array') {
    const item = schema.items ?? {};
    return mainType(item) === 'string' && !item.anyOf && !item.oneOf ? 'string-list' : 'json';
  }
  return 'json';
}

function initialOf(kind: FieldKind, schema: JsonSchema): string | boolean {
  const d = schema.default;
  if (kind === 'boolean') return d === true;
  if (d === undefined) return '';
  if (kind === 'string-list' && Array.isArray(d)) return d.join('\n');
  if (kind === 'enum') return JSON.stringify(d);
  if (kind === 'json') return JSON.stringify(d, null, 2);
  return String(d);
}

/**
 * The form fields of an object schema, required ones first, in declaration order otherwise.
 * @example schemaToFields({ type: 'object', required: ['text'], properties: { text: { type: 'string' } } })
 */
export function schemaToFields(schema: JsonSchema | undefined): FormField[] {
  if (!schema || !schema.properties) return [];
  const required = new Set(schema.required ?? []);
  const fields = Object.entries(schema.properties).map(([name, prop]): FormField => {
    const kind = fieldKind(prop);
    const field: FormField = { name, label: prop.title ?? humanize(name), kind, required: required.has(name), initial: initialOf(kind, prop) };
    if (prop.description) field.description = prop.description;
    if (kind === 'enum') field.options = prop.enum;
    if (prop.format) field.format = prop.format;
    if (prop.pattern) field.pattern = prop.pattern;
    if (prop.minimum !== undefined) field.minimum = prop.minimum;
    if (prop.maximum !== undefined) field.maximum = prop.maximum;
    return field;
  });
  return [...fields.filter((f) => f.required), ...fields.filter((f) => !f.required)];
}

/** The starting values of a form built by {@link schemaToFields}. */
export function initialValues(fields: readonly FormField[]): FormValues {
  return Object.fromEntries(fields.map((f) => [f.name, f.initial]));
}

/** How an enum option is shown and stored in a `<select>`. */
export function optionValue(option: unknown): string {
  return JSON.stringify(option);
}

export function optionLabel(option: unknown): string {
  return typeof option === 'string' ? option : JSON.stringify(option);
}

function convert(field: FormField, raw: string | boolean): { value?: unknown; error?: string } {
  if (field.kind === 'boolean') return { value: raw === true };
  const text = typeof raw === 'string' ? raw : String(raw);
  switch (field.kind) {
    case 'string':
      if (field.pattern && !new RegExp(field.pattern, 'u').test(text)) return { error: `must match ${field.pattern}` };
      return { value: text };
    case 'number':
    case 'integer': {
      const n = Number(text.trim());
      if (!Number.isFinite(n)) return { error: 'must be a number' };
      if (field.kind === 'integer' && !Number.isInteger(n)) return { error: 'must be a whole number' };
      if (field.minimum !== undefined && n < field.minimum) return { error: `must be at least ${field.minimum}` };
      if (field.maximum !== undefined && n > field.maximum) return { error: `must be at most ${field.maximum}` };
      return { value: n };
    }
    case 'enum': {
      const match = (field.options ?? []).find((o) => optionValue(o) === text);
      return match === undefined ? { error: 'pick one of the listed values' } : { value: match };
    }
    case 'string-list':
      return { value: text.split('\n').map((s) => s.trim()).filter((s) => s.length > 0) };
    case 'json':
      try {
        return { value: JSON.parse(text) };
      } catch (err) {
        return { error: `is not valid JSON (${(err as Error).message})` };
      }
  }
}

/**
 * Converts form values to action parameters: numbers parsed, enums mapped back to their JSON values, lists split
 * by line, JSON parsed. Empty optional fields are left out; empty required ones are errors naming the field.
 */
export function valuesToParams(fields: readonly FormField[], values: FormValues): { ok: true; params: Record<string, unknown> } | { ok: false; errors: FieldError[] } {
  const params: Record<string, unknown> = {};
  const errors: FieldError[] = [];
  for (const field of fields) {
    const raw = values[field.name] ?? field.initial;
    const empty = field.kind !== 'boolean' && (typeof raw !== 'string' || raw.trim() === '');
    if (empty) {
      if (field.required) errors.push({ field: field.name, message: `${field.label} is required` });
      continue;
    }
    // An unchecked optional checkbox that was never touched says nothing: leave it out.
    if (field.kind === 'boolean' && !field.required && raw === false && field.initial === false) continue;
    const { value, error } = convert(field, raw);
    if (error) errors.push({ field: field.name, message: `${field.label} ${error}` });
    else params[field.name] = value;
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, params };
}
