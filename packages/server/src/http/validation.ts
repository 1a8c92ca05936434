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

/**
 * Validator compiler: request bodies are checked strictly (a string is not a number), while querystring,
 * params and headers, which are always text on the wire, are coerced to the schema's types.
 */
export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = createAjv(false);
  const coercing = createAjv('array');
  return ({ schema, httpPart }) => {
    const validate = (httpPart === 'body' ? strict : coercing).compile(schema as object);
    const required = (schema as { required?: unknown[] }).required ?? [];
    if (httpPart !== 'body' || required.length > 0) return validate as ReturnType<FastifySchemaCompiler<unknown>>;
    // A body whose every field is optional may be left out entirely.
    const optional = (data: unknown): boolean => {
      if (data === undefined || data === null) {
        optional.errors = null;
        return true;
      }
      const ok = validate(data) as boolean;
      optional.errors = validate.errors ?? null;
      return ok;
    };
    optional.errors = null as unknown;
    return optional as unknown as ReturnType<FastifySchemaCompiler<unknown>>;
  };
}
