import { normalizeHeaders, type RawHeaders } from '../verify/headers.ts';
import { readPointer } from './json-pointer.ts';

/** Longest event id kept; longer values are refused rather than stored (they would bloat dedupe keys). */
export const MAX_EVENT_ID_LENGTH = 256;

// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Extracts the provider's event id as the manifest declares it: `header:X-Shopify-Webhook-Id` or a JSON pointer
 * into the parsed body (`/id`, `/event_id`). Numbers are turned into strings. Undefined when absent or unusable
 * (empty, longer than {@link MAX_EVENT_ID_LENGTH}, or holding control characters).
 */
export function extractEventId(declaration: string | undefined, headers: RawHeaders, body: unknown): string | undefined {
  if (!declaration) return undefined;
  let value: unknown;
  if (declaration.startsWith('header:')) value = normalizeHeaders(headers)[declaration.slice('header:'.length).trim().toLowerCase()];
  else value = readPointer(body, declaration);
  if (typeof value === 'number' && Number.isFinite(value)) value = String(value);
  if (typeof value !== 'string') return undefined;
  const id = value.trim();
  // Control characters are no provider's id; a NUL would fail the store (no text column keeps one) on every retry.
  return id === '' || id.length > MAX_EVENT_ID_LENGTH || CONTROL.test(id) ? undefined : id;
}
