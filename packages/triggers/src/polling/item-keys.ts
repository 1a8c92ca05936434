import { createHash } from 'node:crypto';
import { readPointer } from '../replay/json-pointer.ts';

/** JSON with object keys sorted, so equal items hash equally whatever order the provider sent keys in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A short content hash of an item. */
export function itemHash(item: unknown): string {
  return createHash('sha256').update(canonicalJson(item)).digest('hex').slice(0, 32);
}

/** The item's id at `path` as a string, or undefined when it has none usable. */
export function itemId(item: unknown, path: string): string | undefined {
  const v = readPointer(item, path);
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/**
 * The item's timestamp at `path` as a number: numbers as they are (Unix seconds or ms, compared with each other
 * only), strings as ISO dates (epoch ms) or numeric strings. Undefined when unreadable.
 */
export function itemTimestamp(item: unknown, path: string): number | undefined {
  const v = readPointer(item, path);
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '') {
    if (/^-?\d+(\.\d+)?$/.test(v.trim())) return Number(v);
    const ms = Date.parse(v);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}
