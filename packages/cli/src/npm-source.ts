import { homedir } from 'node:os';
import { join } from 'node:path';
import { createFileBundleCache, createNpmArtifactStore, parsePackageSpec, type NpmArtifact } from '@businessos/connector-runtime/npm';
import { importBundle, type LoadedConnector } from './bundle.ts';
import { CliError, environmentError, usageError } from './cli-error.ts';
import { EXIT } from './exit-codes.ts';

/** Where `run --package` keeps verified bundles: `$XDG_CACHE_HOME/bos-connector/npm`, else `~/.cache/bos-connector/npm`. */
export function defaultNpmCacheDir(env: Readonly<Record<string, string | undefined>>): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'bos-connector', 'npm');
}

/**
 * Installs `name@version` from an npm registry with the runtime's installer (sha512 integrity, the bundle's
 * recorded sha256, content-addressed cache) and imports its bundle. Verification failures exit 1, registry and
 * network failures 3, a malformed spec 2.
 */
export async function connectorFromRegistry(input: { spec: string; registry: string | undefined; token: string | undefined; cacheDir: string }): Promise<{ connector: LoadedConnector; artifact: NpmArtifact }> {
  const spec = parsePackageSpec(input.spec);
  if (!spec) throw usageError(`--package ${input.spec} is not <name>@<version>`, 'Give an exact version, e.g. --package @acme/crm@1.2.0.');
  if (!input.registry) throw usageError('--package needs a registry', 'Pass --registry <url> or set BOS_NPM_REGISTRY.');
  try {
    new URL(input.registry);
  } catch {
    throw usageError(`--registry ${input.registry} is not a URL`, 'Give the registry URL, e.g. --registry http://127.0.0.1:4873/.');
  }
  const store = createNpmArtifactStore({ registry: input.registry, ...(input.token ? { token: input.token } : {}), cache: createFileBundleCache(input.cacheDir) });
  let artifact: NpmArtifact;
  try {
    artifact = await store.install(spec.name, spec.version);
  } catch (error) {
    const e = error as { code?: string; message?: string };
    if (e.code === 'NETWORK_ERROR' || e.code === 'UPSTREAM_ERROR' || e.code === 'AUTH_FAILED') throw environmentError(e.message ?? String(error), 'Check --registry and BOS_NPM_TOKEN.', error);
    if (e.code === 'NOT_FOUND') throw usageError(e.message ?? String(error), 'Check the package name and version (npm view <name> versions --registry <url>).');
    throw new CliError(e.message ?? String(error), { exitCode: EXIT.FINDINGS, hint: 'The package failed verification and was not run.', cause: error });
  }
  return { connector: await importBundle(artifact.code, `${spec.name}@${spec.version}`), artifact };
}
