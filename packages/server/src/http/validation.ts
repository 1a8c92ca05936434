import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

// ajv and ajv-formats are CommonJS: under NodeNext the class and the plugin are on `.default`.
const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;
type Ajv = InstanceType<typeof Ajv>;

function createAjv(coerceTypes: boolean | 'array'): Ajv {
  const ajv = new Ajv({
    // Unknown fields are an error, never silently dropped: schemas say additionalProperties: false.
    removeAdditional: false,
    useDefaults: true,
    coerceTypes,
    allErrors: false,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

interface NulError {
  instancePath: string;
  keyword: 'nul';
  message: string;
  params: Record<string, never>;
}

/** JSON pointer token: `~` and `/` escaped as RFC 6901 says. */
const pointerToken = (key: string | number) => String(key).replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Where the first NUL character (U+0000) sits in a parsed request part, as a JSON pointer, or undefined. PostgreSQL
 * stores no NUL in text or jsonb, so such input would otherwise fail deep in a query as a 500. The walk is iterative
 * (a body may nest thousands of levels) and builds the pointer only for the value it reports.
 */
export function findNul(data: unknown): string | undefined {
  interface Entry {
    value: unknown;
    key: string | number | undefined;
    parent: Entry | undefined;
  }
  const pointer = (entry: Entry, lastKey?: string): string => {
    const tokens: string[] = lastKey === undefined ? [] : [pointerToken(lastKey)];
    for (let e: Entry | undefined = entry; e?.key !== undefined; e = e.parent) tokens.push(pointerToken(e.key));
    return tokens.length === 0 ? '' : `/${tokens.reverse().join('/')}`;
  };
  const stack: Entry[] = [{ value: data, key: undefined, parent: undefined }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    const { value } = entry;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return pointer(entry);
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key: i, parent: entry });
    } else if (value !== null && typeof value === 'object') {
      // A raw body (Buffer) is bytes, not text. (Query objects have a prototype of their own, so no plain-object test.)
      if (ArrayBuffer.isView(value)) continue;
      for (const [key, item] of Object.entries(value)) {
        if (key.includes('\u0000')) return pointer(entry, key);
        stack.push({ value: item, key, parent: entry });
      }
    }
  }
  return undefined;
}

type Validate = ((data: unknown) => boolean) & { errors?: unknown };

/** Runs `validate`, then refuses a NUL anywhere in what passed, with its path, the way a schema error reads. */
function refusingNul(validate: Validate): Validate {
  const check = (data: unknown): boolean => {
    const ok = validate(data);
    check.errors = validate.errors ?? null;
    if (!ok) return false;
    const at = findNul(data);
    if (at === undefined) return true;
    const error: NulError = { instancePath: at, keyword: 'nul', message: 'must not contain a NUL character (\\u0000); remove it', params: {} };
    check.errors = [error];
    return false;
  };
  check.errors = null as unknown;
  return check;
}

/**
 * Validator compiler: request bodies are checked strictly (a string is not a number), while querystring,
 * params and headers, which are always text on the wire, are coerced to the schema's types. Body, querystring
 * and params are also refused when they carry a NUL character, which no text column can store.
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = createAjv(false);
  const coercing = createAjv('array');
  return ({ schema, httpPart }) => {
    const compiled = (httpPart === 'body' ? strict : coercing).compile(schema as object) as Validate;
    const validate = httpPart === 'headers' ? compiled : refusingNul(compiled);
    const required = (schema as { required?: unknown[] }).required ?? [];
    if (httpPart !== 'body' || required.length > 0) return validate as ReturnType<FastifySchemaCompiler<unknown>>;
    // A body whose every field is optional may be left out entirely.
    const optional = (data: unknown): boolean => {
      if (data === undefined || data === null) {
        optional.errors = null;
        return true;
      }
      const ok = validate(data);
      optional.errors = validate.errors ?? null;
      return ok;
    };
    optional.errors = null as unknown;
    return optional as unknown as ReturnType<FastifySchemaCompiler<unknown>>;
  };
}
