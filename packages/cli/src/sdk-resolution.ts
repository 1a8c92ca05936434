import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The module specifiers a connector package may import without having installed them. */
export const PROVIDED_SPECIFIERS = [
  '@businessos/connector-sdk',
  '@businessos/connector-sdk/host',
  '@businessos/connector-sdk/testing',
  'vitest',
] as const;

export type ProvidedSpecifier = (typeof PROVIDED_SPECIFIERS)[number];

/** Where a specifier resolved, and whether the package's own copy or the CLI's was used. */
export interface ResolvedSpecifier {
  specifier: ProvidedSpecifier;
  path: string;
  source: 'package' | 'cli';
}

function resolveFromPackage(dir: string, specifier: string): string | undefined {
  try {
    const require = createRequire(join(dir, 'package.json'));
    return require.resolve(specifier);
  } catch {
    return undefined;
  }
}

function resolveFromCli(specifier: string): string {
  return fileURLToPath(import.meta.resolve(specifier));
}

/**
 * Resolves the SDK entries for a connector package: the package's own installed copy when it has one
 * (`npm install` was run), otherwise the copy installed with this CLI. `vitest` is always the CLI's (the runner's). This is what lets a freshly scaffolded
 * package validate, test, build and pack before any `npm install`.
 */
export function resolveProvided(dir: string): Map<ProvidedSpecifier, ResolvedSpecifier> {
  const out = new Map<ProvidedSpecifier, ResolvedSpecifier>();
  for (const specifier of PROVIDED_SPECIFIERS) {
    // Test files must import the very Vitest that runs them, so `vitest` always resolves to the CLI's copy.
    const own = specifier === 'vitest' ? undefined : resolveFromPackage(dir, specifier);
    out.set(specifier, own ? { specifier, path: own, source: 'package' } : { specifier, path: resolveFromCli(specifier), source: 'cli' });
  }
  return out;
}
