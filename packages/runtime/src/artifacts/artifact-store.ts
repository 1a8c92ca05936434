import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConnectorError, type ConnectorManifest } from '@businessos/connector-sdk';

/** A built connector: the ESM bundle and, when the marketplace has it, the reviewed manifest. */
export interface Artifact {
  name: string;
  version: string;
  /** The bundle (`dist/connector.js`). */
  code: string;
  /** Hex sha256 of `code` as recorded at publish time; the runtime refuses a bundle that does not match. */
  sha256: string;
  /** The manifest recorded at publish time. Without it the runtime reads the manifest from the bundle in a sandbox. */
  manifest?: ConnectorManifest;
}

/** Where bundles come from: the marketplace's artifact storage in the service, a directory in development. */
export interface ArtifactStore {
  /**
   * The bundle of `name@version` as `scope.tenant` may see it (its private versions included); without a scope,
   * only what every tenant may see.
   */
  get(name: string, version: string, scope?: { tenant: string }): Promise<Artifact | undefined>;
}

/** Hex sha256 of a bundle. */
export function sha256Hex(code: string | Uint8Array): string {
  return createHash('sha256').update(code).digest('hex');
}

/** An artifact store in memory (tests, embedding). `add` computes the sha256 unless one is given. */
export function createMemoryArtifactStore(): ArtifactStore & { add(artifact: Omit<Artifact, 'sha256'> & { sha256?: string }): Artifact } {
  const items = new Map<string, Artifact>();
  return {
    async get(name, version) {
      return items.get(`${name}@${version}`);
    },
    add(artifact) {
      const full: Artifact = { ...artifact, sha256: artifact.sha256 ?? sha256Hex(artifact.code) };
      items.set(`${artifact.name}@${artifact.version}`, full);
      return full;
    },
  };
}

/**
 * Development loader: serves connectors from local package folders (`dist/connector.js` and
 * `dist/manifest.json`, as `bos-connector build` writes them) or from bundle files. There is no published
 * checksum in development, so the sha256 is taken from the file as read; the version is whatever the
 * manifest says (a request for another version is answered with undefined).
 * @example createDevArtifactStore({ acme: './connectors/acme' })
 */
export function createDevArtifactStore(paths: Record<string, string>): ArtifactStore {
  return {
    async get(name, version) {
      const path = paths[name];
      if (!path) return undefined;
      const isDir = (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
      const bundlePath = isDir ? join(path, 'dist', 'connector.js') : path;
      const manifestPath = isDir ? join(path, 'dist', 'manifest.json') : undefined;
      let code: string;
      try {
        code = await readFile(bundlePath, 'utf8');
      } catch {
        throw new ConnectorError('NOT_FOUND', `No bundle at ${bundlePath}; run \`bos-connector build\` in ${path}`);
      }
      let manifest: ConnectorManifest | undefined;
      if (manifestPath) {
        const text = await readFile(manifestPath, 'utf8').catch(() => undefined);
        if (text !== undefined) manifest = JSON.parse(text) as ConnectorManifest;
      }
      if (manifest && manifest.version !== version) return undefined;
      return { name, version, code, sha256: sha256Hex(code), ...(manifest ? { manifest } : {}) };
    },
  };
}
