import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { withChecksums, writeTarball } from '@businessos/connector-cli';
import type { ConnectorManifest } from '@businessos/connector-sdk';
import { generateDocs } from '@businessos/connector-sdk/host';

/** What goes into a connector's npm package: the reviewed manifest and the bundle with its sha256. */
export interface NpmPackageInput {
  /** The npm package name (scope applied). */
  packageName: string;
  manifest: ConnectorManifest;
  bundle: Buffer;
  sha256: string;
}

/** The package.json of a connector's npm package and the gzipped tarball holding it. */
export interface BuiltNpmPackage {
  packageJson: Record<string, unknown> & { name: string; version: string };
  tarball: Buffer;
}

/**
 * The package.json of a connector on npm. `bosConnector.bundleSha256` records the bundle's sha256 in the registry's
 * metadata too, so a retry can tell "already published with this bundle" from "taken by another" without a download.
 * No scripts and no dependencies: the runtime never installs it with npm, it only unpacks connector.js.
 */
export function npmPackageJson(input: NpmPackageInput): BuiltNpmPackage['packageJson'] {
  const m = input.manifest;
  return {
    name: input.packageName,
    version: m.version,
    description: m.description,
    keywords: ['businessos-connector', ...(m.category ? [m.category] : [])],
    ...(m.author ? { author: m.author } : {}),
    ...(m.homepage ? { homepage: m.homepage } : {}),
    type: 'module',
    exports: './connector.js',
    bosConnector: { name: m.name, version: m.version, bundle: 'connector.js', manifest: 'manifest.json', bundleSha256: input.sha256 },
  };
}

/**
 * Builds the npm tarball of a published version in the layout of `bos-connector pack` (connector.js,
 * manifest.json, package.json, README.md, docs/README.md, checksums.json under package/), reproducibly: the same
 * version gives the same bytes, so a retried publish sends exactly what the first attempt did.
 */
export async function buildNpmPackage(input: NpmPackageInput): Promise<BuiltNpmPackage> {
  const packageJson = npmPackageJson(input);
  const docs = generateDocs(input.manifest);
  const entries = withChecksums(
    [
      { path: 'connector.js', content: input.bundle.toString('utf8') },
      { path: 'manifest.json', content: `${JSON.stringify(input.manifest, null, 2)}\n` },
      { path: 'package.json', content: `${JSON.stringify(packageJson, null, 2)}\n` },
      { path: 'README.md', content: `# ${input.manifest.displayName}\n\n${input.manifest.description}\n\nA BusinessOS connector (\`${input.manifest.name}\`), published by the connectors marketplace. The runtime verifies connector.js against sha256 \`${input.sha256}\`.\n` },
      { path: 'docs/README.md', content: docs },
    ],
    { sha256: input.sha256, size: input.bundle.length },
  );
  const dir = await mkdtemp(path.join(tmpdir(), 'bos-npm-pack-'));
  try {
    const file = path.join(dir, 'package.tgz');
    await writeTarball(entries, file);
    return { packageJson, tarball: await readFile(file) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
