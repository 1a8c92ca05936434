import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What the cache remembers about one installed `package@version` from one registry. */
export interface NpmInstallRecord {
  registry: string;
  package: string;
  version: string;
  /** The registry's integrity string of the tarball (sha512), verified when it was downloaded. */
  integrity: string;
  /** Hex sha256 of the bundle: its address in the cache. */
  sha256: string;
  /** `bosConnector.name` of the package, when it names one. */
  connector?: string;
}

/**
 * A content-addressed store of connector bundles on disk, like the marketplace's artifact table: bundles live under
 * `sha256/<hex>` and are re-hashed on every read; `npm/<key>.json` maps a registry's `package@version` to one.
 * Writes go to a temp file and are renamed into place, so a crash never leaves half a file at an address.
 */
export interface BundleCache {
  /** The bundle at `sha256`; undefined when absent. Throws when the bytes there do not hash to their address. */
  read(sha256: string): Promise<Buffer | undefined>;
  /** Stores `bytes` at their sha256 and returns it. */
  write(bytes: Uint8Array): Promise<string>;
  /** Removes the bundle at `sha256` (a corrupted one). */
  evict(sha256: string): Promise<void>;
  /** The install record of `package@version` from `registry`, when one was written (and parses). */
  record(registry: string, pkg: string, version: string): Promise<NpmInstallRecord | undefined>;
  remember(record: NpmInstallRecord): Promise<void>;
  /** Where the bundle with this sha256 lives (tests, operators). */
  pathOf(sha256: string): string;
}

function hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

async function atomicWrite(file: string, data: Uint8Array | string): Promise<void> {
  const temp = `${file}.${randomUUID()}.tmp`;
  await writeFile(temp, data, { mode: 0o644 });
  await rename(temp, file);
}

/**
 * A {@link BundleCache} under `dir` (created on first write).
 * @example const cache = createFileBundleCache(path.join(os.homedir(), '.cache', 'bos-connector', 'npm'));
 */
export function createFileBundleCache(dir: string): BundleCache {
  const bundles = join(dir, 'sha256');
  const records = join(dir, 'npm');
  const pathOf = (sha256: string) => join(bundles, `${sha256}.js`);
  const recordPath = (registry: string, pkg: string, version: string) => join(records, `${hex(`${registry}\u0000${pkg}@${version}`)}.json`);
  return {
    pathOf,
    async read(sha256) {
      if (!/^[0-9a-f]{64}$/.test(sha256)) return undefined;
      const bytes = await readFile(pathOf(sha256)).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (bytes === undefined) return undefined;
      const actual = hex(bytes);
      if (actual !== sha256) throw Object.assign(new Error(`cached bundle ${pathOf(sha256)} hashes to ${actual}, not its address`), { code: 'ECACHECORRUPT' });
      return bytes;
    },
    async write(bytes) {
      const sha256 = hex(bytes);
      await mkdir(bundles, { recursive: true });
      await atomicWrite(pathOf(sha256), bytes);
      return sha256;
    },
    async evict(sha256) {
      if (/^[0-9a-f]{64}$/.test(sha256)) await rm(pathOf(sha256), { force: true });
    },
    async record(registry, pkg, version) {
      const text = await readFile(recordPath(registry, pkg, version), 'utf8').catch(() => undefined);
      if (text === undefined) return undefined;
      try {
        const value = JSON.parse(text) as NpmInstallRecord;
        const valid = value.registry === registry && value.package === pkg && value.version === version && typeof value.integrity === 'string' && /^[0-9a-f]{64}$/.test(value.sha256);
        return valid ? value : undefined;
      } catch {
        return undefined;
      }
    },
    async remember(record) {
      await mkdir(records, { recursive: true });
      await atomicWrite(recordPath(record.registry, record.package, record.version), `${JSON.stringify(record, null, 2)}\n`);
    },
  };
}
