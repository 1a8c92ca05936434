import { describe, expect, it } from 'vitest';
import type { JsonSchema } from '../api/types.ts';
import { fieldKind, initialValues, optionValue, schemaToFields, valuesToParams } from './schema-form.ts';

const schema: JsonSchema = {
  type: 'object',
  required: ['channel', 'count'],
  properties: {
    note: { type: ['string', 'null'], description: 'Free text' },
    channel: { type: 'string', pattern: '^[#a-z]+$' },
    count: { type: 'integer', minimum: 1 },
    ratio: { type: 'number' },
    urgent: { type: 'boolean' },
    level: { enum: ['low', 'high', 3] },
    tags: { type: 'array', items: { type: 'string' } },
    customer: { type: 'object', properties: { id: { type: 'integer' } } },
  },
};

describe('schema to form', () => {
  it('picks an editor per schema type, required fields first', () => {
    const fields = schemaToFields(schema);
    expect(fields.map((f) => [f.name, f.kind, f.required])).toEqual([
      ['channel', 'string', true],
      ['count', 'integer', true],
      ['note', 'string', false],
      ['ratio', 'number', false],
      ['urgent', 'boolean', false],
      ['level', 'enum', false],
      ['tags', 'string-list', false],
      ['customer', 'json', false],
    ]);
    expect(fields.find((f) => f.name === 'channel')?.label).toBe('Channel');
  });

  it('uses a JSON textarea for arrays of objects and for anyOf', () => {
    expect(fieldKind({ type: 'array', items: { type: 'object' } })).toBe('json');
    expect(fieldKind({ anyOf: [{ type: 'string' }, { type: 'integer' }] })).toBe('json');
  });

  it('converts values to typed parameters and leaves empty optional fields out', () => {
    const fields = schemaToFields(schema);
    const values = { ...initialValues(fields), channel: '#general', count: '2', level: optionValue(3), tags: 'a\n\n b \n', customer: '{"id": 7}' };
    expect(valuesToParams(fields, values)).toEqual({ ok: true, params: { channel: '#general', count: 2, level: 3, tags: ['a', 'b'], customer: { id: 7 } } });
  });

  it('reports each bad field by name: missing, not a whole number, pattern, bad JSON', () => {
    const fields = schemaToFields(schema);
    const result = valuesToParams(fields, { ...initialValues(fields), channel: 'NOPE', count: '1.5', customer: '{oops' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => e.field)).toEqual(['channel', 'count', 'customer']);
    expect(result.errors[1]?.message).toBe('Count must be a whole number');
    const missing = valuesToParams(fields, initialValues(fields));
    expect(missing.ok ? [] : missing.errors.map((e) => e.message)).toEqual(['Channel is required', 'Count is required']);
  });

  it('enforces minimum and keeps a checked boolean', () => {
    const fields = schemaToFields(schema);
    const r = valuesToParams(fields, { ...initialValues(fields), channel: '#a', count: '0' });
    expect(r.ok ? '' : r.errors[0]?.message).toBe('Count must be at least 1');
    const ok = valuesToParams(fields, { ...initialValues(fields), channel: '#a', count: '1', urgent: true });
    expect(ok.ok && ok.params.urgent).toBe(true);
  });
});
