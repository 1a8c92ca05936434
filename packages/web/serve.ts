// Serves the built marketplace page (dist/) from the connectors service, with a fallback to index.html for the
// page's own client-side paths. API paths are never answered with HTML: their 404 stays the service's problem+json.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Options of {@link registerWebApp}. */
export interface WebAppOptions {
  /** The `vite build` output; defaults to this package's `dist/`. */
  distDir?: string;
  /** More first path segments that belong to the API (added to {@link API_PREFIXES}). */
  apiPrefixes?: readonly string[];
  /** When false, a missing build is logged and the page is not served (the API still is). Default true: throw. */
  required?: boolean;
}

/** First path segments that belong to the API: requests under them never fall back to the page. */
export const API_PREFIXES: readonly string[] = [
  'marketplace',
  'connectors',
  'installations',
  'connections',
  'executions',
  'usage',
  'events',
  'webhooks',
  'oauth',
  'tenants',
  'api-keys',
  'artifacts',
  'openapi.json',
  'docs',
  'health',
  'ready',
  'metrics',
  'api',
];

/** The default location of the built page. */
export const DEFAULT_DIST_DIR = fileURLToPath(new URL('./dist', import.meta.url));

/**
 * Whether a GET request should get the page's index.html: it accepts HTML, is not under an API prefix, and does
 * not name a file (a missing `/assets/x.js` is a 404, not a page).
 */
export function wantsPage(url: string, accept: string | undefined, apiPrefixes: ReadonlySet<string>): boolean {
  const pathname = url.split('?')[0] ?? '/';
  const first = pathname.split('/')[1] ?? '';
  if (apiPrefixes.has(first)) return false;
  if (/\.[a-z0-9]+$/i.test(pathname)) return false;
  return (accept ?? '').includes('text/html');
}

/**
 * Registers the page on `app`: the files of `distDir` at `/` and, for other GET requests that accept HTML outside
 * the API, `index.html` (client-side routing). Everything else keeps the service's own 404.
 * Throws when `distDir` has no index.html (build the page first: `npm run build -w @businessos/web`).
 * @example await registerWebApp(app); // after the API routes, before app.listen()
 */
export async function registerWebApp(app: FastifyInstance, options: WebAppOptions = {}): Promise<void> {
  const root = path.resolve(options.distDir ?? DEFAULT_DIST_DIR);
  if (!existsSync(path.join(root, 'index.html'))) {
    if (options.required === false) {
      app.log.warn(`web page not served: ${path.join(root, 'index.html')} is missing; run \`npm run build -w @businessos/web\``);
      return;
    }
    throw new Error(`The web page is not built: ${path.join(root, 'index.html')} is missing; run \`npm run build -w @businessos/web\` and start again`);
  }
  const prefixes = new Set([...API_PREFIXES, ...(options.apiPrefixes ?? [])]);
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    // Hashed assets can be cached for good; index.html must be revalidated so a new build is picked up.
    setHeaders(reply, filePath) {
      reply.header('cache-control', filePath.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const fallback = (request: FastifyRequest) => wantsPage(request.url, request.headers.accept, prefixes);
  app.get('/*', { schema: { hide: true } }, (request, reply) => {
    if (!fallback(request)) return reply.callNotFound();
    return reply.header('cache-control', 'no-cache').sendFile('index.html', root);
  });
}
