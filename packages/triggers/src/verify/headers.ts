/** Request headers as HTTP servers hand them over: Node's `IncomingHttpHeaders`, Fastify's, or a plain record. */
export type RawHeaders = Record<string, string | string[] | undefined>;

/**
 * Lower-cases header names and keeps one value per name. A header sent several times keeps its first value:
 * signature headers are single-valued, and picking one deterministically is safer than joining them.
 */
export function normalizeHeaders(headers: RawHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const v = Array.isArray(value) ? value[0] : value;
    if (typeof v === 'string') out[name.toLowerCase()] ??= v;
  }
  return out;
}
