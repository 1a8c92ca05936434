import { ConnectorError } from '@businessos/connector-sdk';
import npmFetch from 'npm-registry-fetch';
import ssri from 'ssri';
import type { Artifact, ArtifactStore } from '../artifacts/artifact-store.ts';
import { silentLogger, type RuntimeLogger } from '../clock.ts';
import type { BundleCache, NpmInstallRecord } from './bundle-cache.ts';
import { DEFAULT_PACKAGE_LIMITS, readConnectorPackage, type ConnectorPackageLimits } from './connector-package.ts';
import { escapePackageName, normaliseRegistry, npmRegistryOptions, type NpmRegistrySettings } from './registry-options.ts';

/** Options of {@link createNpmArtifactStore}. */
export interface NpmArtifactStoreOptions extends NpmRegistrySettings {
  /** Where verified bundles are kept, content-addressed (see `createFileBundleCache`). */
  cache: BundleCache;
  /**
   * The npm package of connector `name@version`; undefined when the connector is not on npm. Default: the
   * connector's name is the package name.
   */
  packageFor?: (name: string, version: string) => string | undefined | Promise<string | undefined>;
  /**
   * The sha256 the marketplace recorded for `package@version`, when it has one (the service passes a lookup over
   * its versions table). A package whose bundle hashes differently is refused, even if the registry vouches for it.
   */
  recordedSha256?: (pkg: string, version: string) => Promise<string | undefined>;
  limits?: Partial<ConnectorPackageLimits>;
  logger?: RuntimeLogger;
}

/** A bundle installed from npm. */
export interface NpmArtifact extends Artifact {
  package: string;
  /** The registry's sha512 integrity of the tarball, verified at download. */
  integrity: string;
  /** `cache`: served from the content-addressed cache without touching the registry. */
  source: 'cache' | 'registry';
}

/** An {@link ArtifactStore} over an npm registry, with a content-addressed cache. */
export interface NpmArtifactStore extends ArtifactStore {
  /**
   * Installs `pkg@version` (an exact version): from the cache when it holds it, else downloaded, verified and
   * cached. Verification: the tarball against the registry's sha512 integrity, the bundle against the sha256 the
   * package records, and against the marketplace's recorded sha256 when there is one.
   * @throws ConnectorError NOT_FOUND (no such package or version), NETWORK_ERROR/UPSTREAM_ERROR (registry
   * unreachable), INVALID_INPUT (not a connector package) or INTERNAL with `details.reason` (verification failed).
   */
  install(pkg: string, version: string): Promise<NpmArtifact>;
  /** Registry downloads and cache hits since creation. */
  stats(): { downloads: number; cacheHits: number };
}

const CORGI = 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*';

function tampered(reason: string, message: string): ConnectorError {
  return new ConnectorError('INTERNAL', `${message}; refusing to install it. The package was altered after it was published: do not run it, and republish from the marketplace`, { details: { reason } });
}

function registryFailure(what: string, registry: string, error: unknown): ConnectorError {
  const e = error as { code?: string; statusCode?: number; message?: string };
  if (e.statusCode === 404 || e.code === 'E404') return new ConnectorError('NOT_FOUND', `${what} is not on the npm registry ${registry}; check the package name and that it was published there`);
  if (e.statusCode === 401 || e.statusCode === 403 || e.code === 'E401' || e.code === 'E403') {
    return new ConnectorError('AUTH_FAILED', `The npm registry ${registry} refused to serve ${what} (${e.statusCode ?? e.code}); check the registry token`);
  }
  if (typeof e.statusCode === 'number') return new ConnectorError('UPSTREAM_ERROR', `The npm registry ${registry} answered ${e.statusCode} for ${what}; try again later`);
  return new ConnectorError('NETWORK_ERROR', `Could not reach the npm registry ${registry} for ${what} (${e.code ?? e.message ?? String(error)}); check the registry URL and network`);
}

/**
 * An artifact store that installs connectors from an npm registry: what `createRuntime({ artifacts })` uses to run
 * connectors published to npm by the marketplace (or by a developer with `bos-connector pack` + `npm publish`).
 * The bundle's manifest is not taken from the package (only the bundle is covered by the recorded sha256): the
 * runtime reads it from the verified bundle in the sandbox.
 * @example
 * const artifacts = createNpmArtifactStore({ registry: 'http://127.0.0.1:4873/', token, cache: createFileBundleCache(dir) });
 * const runtime = createRuntime({ sandbox, vault, usage, artifacts });
 */
export function createNpmArtifactStore(options: NpmArtifactStoreOptions): NpmArtifactStore {
  const registry = normaliseRegistry(options.registry);
  const fetchOptions = npmRegistryOptions({ ...options, registry });
  const limits = { ...DEFAULT_PACKAGE_LIMITS, ...options.limits };
  const logger = options.logger ?? silentLogger;
  const inflight = new Map<string, Promise<NpmArtifact>>();
  let downloads = 0;
  let cacheHits = 0;

  const artifactOf = (record: NpmInstallRecord, bundle: Buffer, source: NpmArtifact['source']): NpmArtifact => ({
    name: record.connector ?? record.package,
    version: record.version,
    code: bundle.toString('utf8'),
    sha256: record.sha256,
    package: record.package,
    integrity: record.integrity,
    source,
  });

  function checkRecorded(what: string, recorded: string | undefined, actual: string): void {
    if (recorded !== undefined && recorded.trim().toLowerCase() !== actual) {
      throw tampered('marketplace-sha256', `${what}: its bundle hashes to sha256 ${actual}, but the marketplace recorded ${recorded.trim()} for this version`);
    }
  }

  async function fromCache(pkg: string, version: string, recorded: string | undefined): Promise<NpmArtifact | undefined> {
    const record = await options.cache.record(registry, pkg, version);
    if (!record) return undefined;
    let bundle: Buffer | undefined;
    try {
      bundle = await options.cache.read(record.sha256);
    } catch (error) {
      // A corrupted cache entry is never run: drop it and download the package again (verified as on first install).
      logger.warn('cached connector bundle is corrupted; discarding it and downloading again', { package: pkg, version, error: (error as Error).message });
      await options.cache.evict(record.sha256);
      return undefined;
    }
    if (!bundle) return undefined;
    checkRecorded(`${pkg}@${version} (cached)`, recorded, record.sha256);
    cacheHits += 1;
    return artifactOf(record, bundle, 'cache');
  }

  async function download(pkg: string, version: string, recorded: string | undefined): Promise<NpmArtifact> {
    const what = `${pkg}@${version}`;
    let packument: Record<string, unknown>;
    try {
      packument = await npmFetch.json(`/${escapePackageName(pkg)}`, { ...fetchOptions, headers: { accept: CORGI } });
    } catch (error) {
      throw registryFailure(`npm package ${pkg}`, registry, error);
    }
    const versions = (packument.versions ?? {}) as Record<string, { dist?: { tarball?: unknown; integrity?: unknown } } | undefined>;
    const entry = versions[version];
    if (!entry) {
      const known = Object.keys(versions).slice(-5).join(', ');
      throw new ConnectorError('NOT_FOUND', `npm package ${pkg} has no version ${version} on ${registry}${known ? ` (latest versions: ${known})` : ''}; give an exact published version`);
    }
    const tarballUrl = entry.dist?.tarball;
    const integrity = typeof entry.dist?.integrity === 'string' ? entry.dist.integrity : undefined;
    const strong = integrity ? (ssri.parse(integrity).sha512 ?? []) : [];
    if (typeof tarballUrl !== 'string' || strong.length === 0) {
      throw tampered('npm-integrity', `The registry gives no sha512 integrity for ${what}, so its tarball cannot be verified`);
    }
    let bytes: Buffer;
    try {
      const response = await npmFetch(tarballUrl, fetchOptions);
      const length = Number(response.headers.get('content-length') ?? 0);
      if (length > limits.maxTarballBytes) throw new ConnectorError('PAYLOAD_TOO_LARGE', `The tarball of ${what} is ${length} bytes, over the ${limits.maxTarballBytes}-byte limit`);
      bytes = await response.buffer();
    } catch (error) {
      if (error instanceof ConnectorError) throw error;
      throw registryFailure(`the tarball of ${what}`, registry, error);
    }
    downloads += 1;
    if (!ssri.checkData(bytes, strong.map((h) => h.toString()).join(' '))) {
      throw tampered('npm-integrity', `The tarball of ${what} does not match the registry's sha512 integrity ${strong[0]!.toString().slice(0, 24)}…`);
    }
    const contents = await readConnectorPackage(bytes, `npm package ${what}`, limits);
    if (contents.sha256 !== contents.declaredSha256) {
      throw tampered('bundle-sha256', `The bundle of ${what} hashes to sha256 ${contents.sha256}, but the package records ${contents.declaredSha256}`);
    }
    checkRecorded(what, recorded, contents.sha256);
    await options.cache.write(contents.bundle);
    const record: NpmInstallRecord = { registry, package: pkg, version, integrity: strong.map((h) => h.toString()).join(' '), sha256: contents.sha256, ...(contents.connector ? { connector: contents.connector } : {}) };
    await options.cache.remember(record);
    logger.info('installed connector from npm', { package: pkg, version, sha256: contents.sha256 });
    return artifactOf(record, contents.bundle, 'registry');
  }

  async function install(pkg: string, version: string): Promise<NpmArtifact> {
    const key = `${pkg}@${version}`;
    let pending = inflight.get(key);
    if (!pending) {
      pending = (async () => {
        const recorded = await options.recordedSha256?.(pkg, version);
        return (await fromCache(pkg, version, recorded)) ?? (await download(pkg, version, recorded));
      })().finally(() => inflight.delete(key));
      inflight.set(key, pending);
    }
    return pending;
  }

  return {
    install,
    async get(name, version) {
      const pkg = options.packageFor ? await options.packageFor(name, version) : name;
      if (pkg === undefined) return undefined;
      const artifact = await install(pkg, version);
      // The runtime checks the manifest read from the bundle against name@version.
      return { name, version, code: artifact.code, sha256: artifact.sha256 };
    },
    stats: () => ({ downloads, cacheHits }),
  };
}
