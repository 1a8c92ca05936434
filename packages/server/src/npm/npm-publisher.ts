import { escapePackageName, isValidPackageName, npmRegistryOptions } from '@businessos/connector-runtime/npm';
import { publish } from 'libnpmpublish';
import npmFetch from 'npm-registry-fetch';
import semver from 'semver';
import { buildNpmPackage, type NpmPackageInput } from './npm-package.ts';

/** Where approved versions go on npm (the service's `BOS_NPM_*` settings). */
export interface NpmPublishSettings {
  registry: string;
  token: string;
  /** `@acme`: put before package names that have no scope of their own. */
  scope?: string | undefined;
}

/** The outcome of one publish. `alreadyPublished`: the registry held this exact bundle already (a retried publish). */
export interface NpmPublishOutcome {
  package: string;
  version: string;
  integrity: string;
  alreadyPublished: boolean;
}

/** Publishes connector versions to one npm registry. */
export interface NpmPublisher {
  readonly registry: string;
  /** The package name a listing's `npm_package` is published under (the scope applied). */
  packageName(npmPackage: string): string;
  /**
   * Publishes `input` as `packageName@version`. Idempotent: when the registry already has that version with the
   * same bundle sha256 it answers `alreadyPublished`; with another bundle it throws (versions on npm are immutable).
   * @throws Error with a message naming the registry, the package and what to do.
   */
  publish(input: Omit<NpmPackageInput, 'packageName'> & { npmPackage: string }): Promise<NpmPublishOutcome>;
}

interface PackumentVersion {
  dist?: { integrity?: string };
  bosConnector?: { bundleSha256?: string };
}

function describe(error: unknown): string {
  const e = error as { code?: string; statusCode?: number; message?: string };
  return [e.statusCode ? `HTTP ${e.statusCode}` : e.code, e.message].filter(Boolean).join(': ') || String(error);
}

/**
 * Creates the publisher with libnpmpublish (npm's own publish code: the same document `npm publish` sends, integrity
 * computed from the tarball) and npm-registry-fetch for reading the package document first.
 * @example const npm = createNpmPublisher({ registry: 'http://127.0.0.1:4873/', token }); await npm.publish({ npmPackage: 'acme', manifest, bundle, sha256 });
 */
export function createNpmPublisher(settings: NpmPublishSettings): NpmPublisher {
  const options = npmRegistryOptions({ registry: settings.registry, token: settings.token });
  const registry = options.registry as string;
  const packageName = (npmPackage: string) => (settings.scope && !npmPackage.startsWith('@') ? `${settings.scope}/${npmPackage}` : npmPackage);

  async function existing(name: string): Promise<{ versions: Record<string, PackumentVersion>; latest: string | undefined } | undefined> {
    try {
      const doc = await npmFetch.json(`/${escapePackageName(name)}`, { ...options, preferOnline: true });
      const tags = (doc['dist-tags'] ?? {}) as Record<string, string>;
      return { versions: (doc.versions ?? {}) as Record<string, PackumentVersion>, latest: tags.latest };
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw new Error(`Could not read ${name} from the npm registry ${registry} (${describe(error)}); check BOS_NPM_REGISTRY and BOS_NPM_TOKEN, then retry`, { cause: error });
    }
  }

  return {
    registry,
    packageName,
    async publish(input) {
      const name = packageName(input.npmPackage);
      const version = input.manifest.version;
      if (!isValidPackageName(name)) throw new Error(`"${name}" is not a valid npm package name (lower case, URL-safe, at most 214 characters); set a valid "name" in the connector's package.json and publish a new version`);
      const doc = await existing(name);
      const there = doc?.versions[version];
      if (there) {
        if (there.bosConnector?.bundleSha256 === input.sha256 && there.dist?.integrity) return { package: name, version, integrity: there.dist.integrity, alreadyPublished: true };
        throw new Error(`${name}@${version} already exists on ${registry} with a different bundle (sha256 ${there.bosConnector?.bundleSha256 ?? 'not recorded'}, this version's is ${input.sha256}); npm versions are immutable, so publish a higher version of the connector`);
      }
      const built = await buildNpmPackage({ ...input, packageName: name });
      // An older version published after a newer one must not become `latest`.
      const defaultTag = doc?.latest && semver.valid(doc.latest) && semver.gt(doc.latest, version) ? `v${version}` : 'latest';
      try {
        await publish(built.packageJson, built.tarball, { ...options, access: 'public', defaultTag });
      } catch (error) {
        throw new Error(`Publishing ${name}@${version} to ${registry} failed (${describe(error)}); check the token may publish ${name}, then retry`, { cause: error });
      }
      const after = (await existing(name))?.versions[version];
      const integrity = after?.dist?.integrity;
      if (!integrity) throw new Error(`${registry} accepted ${name}@${version} but does not list it with an integrity; retry to check again`);
      return { package: name, version, integrity, alreadyPublished: false };
    },
  };
}
