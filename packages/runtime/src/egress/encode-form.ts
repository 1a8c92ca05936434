/**
 * Encodes an object as `application/x-www-form-urlencoded` with nested keys in the bracket style Stripe and
 * Rails use: `{ a: { b: ['c'] } }` → `a[b][0]=c`. `undefined` is left out, `null` becomes an empty value.
 * @example encodeForm({ metadata: { order: '42' }, items: [{ price: 'p_1' }] }) // metadata[order]=42&items[0][price]=p_1
 */
export function encodeForm(value: Record<string, unknown>): string {
  const parts: string[] = [];
  const visit = (key: string, v: unknown): void => {
    if (v === undefined) return;
    if (v === null) {
      parts.push(`${encodeURIComponent(key)}=`);
    } else if (Array.isArray(v)) {
      v.forEach((item, i) => visit(`${key}[${i}]`, item));
    } else if (typeof v === 'object') {
      for (const [k, item] of Object.entries(v as Record<string, unknown>)) visit(`${key}[${k}]`, item);
    } else {
      parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(v))}`);
    }
  };
  for (const [k, v] of Object.entries(value)) visit(k, v);
  return parts.join('&');
}
