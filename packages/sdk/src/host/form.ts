/**
 * Encodes an object as `application/x-www-form-urlencoded` the way Stripe and Rails expect nested data:
 * `{ metadata: { a: 1 }, items: [{ price: 'p' }] }` → `metadata[a]=1&items[0][price]=p`. `undefined` is skipped,
 * `null` becomes an empty value (Stripe's way of unsetting a field).
 */
export function encodeForm(value: unknown): string {
  const params = new URLSearchParams();
  const walk = (v: unknown, key: string) => {
    if (v === undefined) return;
    if (v === null) params.append(key, '');
    else if (Array.isArray(v)) v.forEach((item, i) => walk(item, `${key}[${i}]`));
    else if (typeof v === 'object') for (const [k, inner] of Object.entries(v as object)) walk(inner, key ? `${key}[${k}]` : k);
    else params.append(key, String(v));
  };
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) walk(value, '');
  return params.toString();
}
