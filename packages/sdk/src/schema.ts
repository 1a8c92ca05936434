/** A JSON Schema object (draft-07 / 2020-12 keywords, as ajv understands them). */
export interface JsonSchema {
  readonly [keyword: string]: unknown;
}

/** JSON Schema's primitive type names, accepted alone as a shorthand property: `{ id: 'string' }`. */
export type TypeName = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array' | 'null';

/**
 * A property in the shorthand form: a schema (which may say `required: true`; it moves into the object's
 * `required` list) or just a type name.
 */
export type ShorthandProperty = TypeName | (JsonSchema & { readonly required?: boolean | readonly string[] });

/** `{ line_items: { type: 'array' } }`: a map of property name to schema, normalised to an object schema. */
export type SchemaShorthand = { readonly [property: string]: ShorthandProperty };

/** The loose constraint generics use (a precise one makes TypeScript's inference blow up). */
export type SchemaLike = { readonly [key: string]: unknown };

/** What `params` and `output` accept: a full JSON Schema, or the property-map shorthand. */
export type SchemaInput = JsonSchema | SchemaShorthand;

type FullSchemaMarker =
  | { readonly type: string | readonly string[] }
  | { readonly $ref: string }
  | { readonly anyOf: readonly unknown[] }
  | { readonly oneOf: readonly unknown[] }
  | { readonly allOf: readonly unknown[] }
  | { readonly enum: readonly unknown[] }
  | { readonly const: unknown };

type RequiredKeys<S> = { [K in keyof S]: S[K] extends { readonly required: true } ? K : never }[keyof S];
type StripRequired<P> = P extends string ? { readonly type: P } : P extends { readonly required: boolean } ? Omit<P, 'required'> : P;

/** The full object schema a shorthand stands for, at the type level. */
export type NormalizedShorthand<S> = {
  readonly type: 'object';
  readonly properties: { readonly [K in keyof S]: StripRequired<S[K]> };
  readonly required: readonly RequiredKeys<S>[];
  readonly additionalProperties: false;
};

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type RequiredOf<S> = S extends { readonly required: readonly (infer R)[] } ? R : never;
type InferByType<T, S> = T extends 'string'
  ? string
  : T extends 'number' | 'integer'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends 'null'
        ? null
        : T extends 'array'
          ? S extends { readonly items: infer I } ? InferSchema<I>[] : unknown[]
          : T extends 'object'
            ? InferObject<S>
            : unknown;
type InferObject<S> = S extends { readonly properties: infer P }
  ? Simplify<
      { -readonly [K in keyof P as K extends RequiredOf<S> ? K : never]: InferSchema<P[K]> } & {
        -readonly [K in keyof P as K extends RequiredOf<S> ? never : K]?: InferSchema<P[K]>;
      } & (S extends { readonly additionalProperties: false } ? unknown : { [key: string]: unknown })
    >
  : Record<string, unknown>;

/** The TypeScript type of values a full JSON Schema accepts (the subset connectors use: type, properties, required, items, enum, const, anyOf, oneOf). */
export type InferSchema<S> = S extends { readonly const: infer C }
  ? C
  : S extends { readonly enum: readonly (infer E)[] }
    ? E
    : S extends { readonly anyOf: readonly (infer U)[] }
      ? InferSchema<U>
      : S extends { readonly oneOf: readonly (infer U)[] }
        ? InferSchema<U>
        : S extends { readonly type: readonly (infer T)[] }
          ? InferByType<T, S>
          : S extends { readonly type: infer T }
            ? InferByType<T, S>
            : unknown;

/** The TypeScript type of values that a schema (full or shorthand) accepts. */
export type Infer<S> = [S] extends [undefined]
  ? Record<string, unknown>
  : S extends FullSchemaMarker
    ? InferSchema<S>
    : InferSchema<NormalizedShorthand<S>>;

/** The output type of an action: inferred from its output schema, or whatever `execute` returns. */
export type InferOutput<S> = [S] extends [undefined] ? unknown : Infer<S>;

const FULL_SCHEMA_KEYS = ['$ref', '$schema', 'anyOf', 'oneOf', 'allOf', 'enum', 'const', 'not'];

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when the value reads as a complete JSON Schema rather than a property map. */
export function isFullSchema(input: unknown): input is JsonSchema {
  if (!isPlainObject(input)) return false;
  // A real `type` keyword holds a string or a list; a shorthand property called `type` holds a schema object.
  if ('type' in input) return typeof input.type === 'string' || Array.isArray(input.type);
  if (FULL_SCHEMA_KEYS.some((key) => key in input)) return true;
  // `properties` as a keyword maps names to schemas; as a shorthand property it is itself a schema.
  if (isPlainObject(input.properties)) return Object.values(input.properties).every(isPlainObject);
  return false;
}

/**
 * Normalises `params`/`output` to a full JSON Schema: a property map becomes
 * `{ type: 'object', properties, required, additionalProperties: false }`; a full schema is copied as is.
 * `undefined` means "no parameters": an empty object schema that rejects unknown fields.
 */
export function normalizeSchema(input: SchemaInput | undefined): JsonSchema {
  if (input === undefined) return { type: 'object', properties: {}, additionalProperties: false };
  if (isFullSchema(input)) return structuredClone(input) as JsonSchema;
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [name, raw] of Object.entries(input as SchemaShorthand)) {
    if (typeof raw === 'string') {
      properties[name] = { type: raw };
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new TypeError(`Schema shorthand property "${name}" must be a JSON Schema object or a type name such as 'string', got ${JSON.stringify(raw)}`);
    }
    const { required: isRequired, ...schema } = raw as JsonSchema & Record<string, unknown>;
    if (isRequired === true) required.push(name);
    // `required` given as an array is the ordinary keyword of a nested object schema: keep it.
    properties[name] = (Array.isArray(isRequired) ? { ...schema, required: isRequired } : schema) as JsonSchema;
  }
  return { type: 'object', properties, required, additionalProperties: false } as JsonSchema;
}
