import { describe, expect, expectTypeOf, it } from 'vitest';
import { defineAction } from './define.ts';
import { isFullSchema, normalizeSchema } from './schema.ts';

describe('normalizeSchema', () => {
  it('normalises the property-map shorthand, moving required: true into the required list', () => {
    expect(normalizeSchema({ line_items: { type: 'array' }, email: { type: 'string', required: true } })).toEqual({
      type: 'object',
      properties: { line_items: { type: 'array' }, email: { type: 'string' } },
      required: ['email'],
      additionalProperties: false,
    });
  });

  it('accepts bare type names as shorthand properties', () => {
    expect(normalizeSchema({ id: 'string', count: 'integer' })).toEqual({
      type: 'object',
      properties: { id: { type: 'string' }, count: { type: 'integer' } },
      required: [],
      additionalProperties: false,
    });
  });

  it('keeps full schemas as they are and tells shorthand from schema', () => {
    const full = { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] };
    expect(normalizeSchema(full)).toEqual(full);
    expect(isFullSchema({ type: { type: 'string' } })).toBe(false); // a property called "type"
    expect(isFullSchema({ properties: { a: { type: 'string' } } })).toBe(true);
    expect(isFullSchema({ properties: { type: 'object' } })).toBe(false); // a property called "properties"
    expect(normalizeSchema(undefined)).toEqual({ type: 'object', properties: {}, additionalProperties: false });
  });

  it('refuses values that are neither a schema nor a type name', () => {
    expect(() => normalizeSchema({ id: 42 } as never)).toThrow(/property "id" must be a JSON Schema object or a type name/);
  });

  it('infers types for type-name shorthand', () => {
    defineAction({
      name: 'x',
      description: 'x',
      params: { id: 'string', n: 'number' },
      async execute(params) {
        expectTypeOf(params.id).toEqualTypeOf<string | undefined>();
        expectTypeOf(params.n).toEqualTypeOf<number | undefined>();
        return null;
      },
    });
  });
});
