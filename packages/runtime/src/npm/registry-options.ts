import type { Options } from 'npm-registry-fetch';

/** Where an npm registry is and how to authenticate to it. */
export interface NpmRegistrySettings {
  /** Registry URL, e.g. `https://registry.npmjs.org/` or a Verdaccio at `http://127.0.0.1:4873/`. */
  registry: string;
  /** Bearer token for that registry (never sent to another host). */
  token?: string;
  /** Per-request timeout in milliseconds (default 30 000). */
  timeoutMs?: number;
}

/** The registry URL with exactly one trailing slash, as npm's clients expect. */
export function normaliseRegistry(registry: string): string {
  return registry.replace(/\/*$/, '/');
}

/**
 * Options for npm-registry-fetch and libnpmpublish: the registry, and the token keyed by the registry's "nerf dart"
 * (`//host/path/:_authToken`), which is how npm scopes a token to one registry so a tarball URL on another host never
 * receives it. No on-disk HTTP cache: the callers keep their own content-addressed caches.
 */
export function npmRegistryOptions(settings: NpmRegistrySettings): Options {
  const registry = normaliseRegistry(settings.registry);
  const url = new URL(registry);
  const options: Options = {
    registry,
    timeout: settings.timeoutMs ?? 30_000,
    retry: { retries: 1, factor: 2, minTimeout: 200, maxTimeout: 1000 },
    preferOnline: true,
  };
  if (settings.token) options[`//${url.host}${url.pathname}:_authToken`] = settings.token;
  return options;
}

/** `@scope/name` → `@scope%2fname`: the path segment of a package document. */
export function escapePackageName(name: string): string {
  return name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name);
}

/**
 * Splits `name@version` (`@scope/name@1.2.3` too). Returns undefined when either part is missing.
 * @example parsePackageSpec('@acme/crm@1.0.0') // { name: '@acme/crm', version: '1.0.0' }
 */
export function parsePackageSpec(spec: string): { name: string; version: string } | undefined {
  const at = spec.lastIndexOf('@');
  if (at <= 0) return undefined;
  const name = spec.slice(0, at);
  const version = spec.slice(at + 1);
  return name && version ? { name, version } : undefined;
}

/** npm's rules for a package name that may be published (lower case, URL-safe, at most 214 characters). */
export function isValidPackageName(name: string): boolean {
  return name.length <= 214 && /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/.test(name);
}
