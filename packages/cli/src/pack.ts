import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { generateDocs } from '@businessos/connector-sdk/host';
import { create } from 'tar';
import { sha256, type BuildArtifacts } from './artifacts.ts';
import { environmentError } from './cli-error.ts';
import type { PackageInfo } from './package-info.ts';

/** The fixed modification time of every tarball entry (the one npm uses), so packing twice gives the same bytes. */
export const PACK_MTIME = new Date('1985-10-26T08:15:00.000Z');

/** A file to put into the tarball, under `package/`. */
export interface PackEntry {
  path: string;
  content: string;
}

/** The files a connector tarball holds, sorted by path, with checksums.json listing the sha256 of the others. */
export function packEntries(info: PackageInfo, artifacts: BuildArtifacts): PackEntry[] {
  const readmePath = join(info.dir, 'README.md');
  const readme = existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : `# ${artifacts.manifest.displayName}\n\n${artifacts.manifest.description}\n`;
  const files: PackEntry[] = [
    { path: 'connector.js', content: artifacts.bundle },
    { path: 'manifest.json', content: artifacts.manifestJson },
    { path: 'package.json', content: readFileSync(join(info.dir, 'package.json'), 'utf8') },
    { path: 'README.md', content: readme },
    { path: 'docs/README.md', content: generateDocs(artifacts.manifest) },
  ];
  return withChecksums(files, artifacts);
}

/**
 * `files` (which must hold connector.js) plus checksums.json listing the sha256 of each and of the bundle, sorted by
 * path: the layout the marketplace accepts and the runtime's npm installer verifies.
 */
export function withChecksums(files: PackEntry[], bundle: { sha256: string; size: number }): PackEntry[] {
  const checksums = {
    algorithm: 'sha256',
    bundle: { path: 'connector.js', sha256: bundle.sha256, size: bundle.size },
    files: Object.fromEntries(files.map((f) => [f.path, sha256(f.content)]).sort(([a], [b]) => String(a).localeCompare(String(b)))),
  };
  return [...files, { path: 'checksums.json', content: `${JSON.stringify(checksums, null, 2)}\n` }].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** `@acme/crm` → `acme-crm`: a file-name-safe package name. */
export function tarballName(name: string, version: string): string {
  return `${name.replace(/^@/, '').replace(/[^a-zA-Z0-9._-]+/g, '-')}-${version}.tgz`;
}

/**
 * Writes a reproducible gzipped tarball: entries under `package/` in sorted order, fixed mtimes, mode 0644,
 * no owner names or ids (portable). Returns its sha256.
 */
export async function writeTarball(entries: PackEntry[], file: string): Promise<string> {
  const staging = mkdtempSync(join(tmpdir(), 'bos-pack-'));
  try {
    for (const entry of entries) {
      const target = join(staging, 'package', entry.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, entry.content);
      chmodSync(target, 0o644);
    }
    await create({ gzip: { level: 9 }, file, cwd: staging, portable: true, mtime: PACK_MTIME, noDirRecurse: true }, entries.map((e) => `package/${e.path}`));
  } catch (error) {
    throw environmentError(`could not write ${file}: ${(error as Error).message}`, 'Check the package folder is writable.', error);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return sha256(readFileSync(file));
}
