import { timingSafeEqual } from 'node:crypto';

/**
 * Compares a computed digest with one taken from a request in constant time. The expected digest's length is
 * public (it is fixed by the algorithm), so a length mismatch may return early without leaking anything secret;
 * it still runs one comparison so both paths cost about the same.
 */
export function digestEquals(expected: Buffer, provided: Buffer): boolean {
  if (provided.length !== expected.length) {
    timingSafeEqual(expected, expected);
    return false;
  }
  return timingSafeEqual(expected, provided);
}

const HEX = /^(?:[0-9a-f]{2})+$/i;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes a hex or base64 signature strictly (Buffer.from silently drops bad characters); undefined when malformed. */
export function decodeSignature(value: string, encoding: 'hex' | 'base64'): Buffer | undefined {
  const v = value.trim();
  if (v === '') return undefined;
  if (encoding === 'hex') return HEX.test(v) ? Buffer.from(v, 'hex') : undefined;
  return BASE64.test(v) ? Buffer.from(v, 'base64') : undefined;
}
