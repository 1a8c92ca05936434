/** Reusable JSON Schema fragments for route schemas. */

export const uuidSchema = { type: 'string', format: 'uuid' } as const;
export const timestampSchema = { type: 'string', format: 'date-time' } as const;
export const nullableTimestampSchema = { type: ['string', 'null'], format: 'date-time' } as const;

/** `{ id }` path parameters. */
export const idParamsSchema = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { ...uuidSchema, description: 'Identifier (uuid)' } },
} as const;

/** Date (or null) → ISO-8601 string (or null), for responses. */
export function iso(value: Date | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}
