import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectorManifest } from '@businessos/connector-sdk';
import { validateManifest } from '@businessos/connector-sdk/host';
import { bundleConnector, importBundle } from './bundle.ts';
import { CliError, environmentError } from './cli-error.ts';
import { EXIT } from './exit-codes.ts';
import type { PackageInfo } from './package-info.ts';
import { formatIssue } from './commands/validate.ts';

/** The runtime artifacts of a connector package. */
export interface BuildArtifacts {
  /** The self-contained ESM bundle (no Node built-ins). */
  bundle: string;
  /** The manifest read from the built bundle, as written to dist/manifest.json. */
  manifest: ConnectorManifest;
  manifestJson: string;
  /** Hex sha256 and byte size of the bundle. */
  sha256: string;
  size: number;
}

/** Hex sha256 of a string or bytes. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Builds the runtime bundle (platform neutral, ESM, no Node built-ins) and reads the manifest from the built
 * bundle itself, so what ships is what was checked. Fails (exit 1) when the manifest is invalid.
 */
export async function buildArtifacts(info: PackageInfo): Promise<BuildArtifacts> {
  const bundle = await bundleConnector(info, { platform: 'neutral' });
  const connector = await importBundle(bundle, 'the built bundle');
  const manifest = JSON.parse(JSON.stringify(connector.manifest)) as ConnectorManifest;
  const result = validateManifest(manifest);
  if (!result.ok) {
    throw new CliError(`the manifest of the built bundle is invalid:\n${result.issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`, {
      exitCode: EXIT.FINDINGS,
      hint: 'Run `bos-connector validate` for details and fix the connector definition.',
    });
  }
  return { bundle, manifest, manifestJson: `${JSON.stringify(manifest, null, 2)}\n`, sha256: sha256(bundle), size: Buffer.byteLength(bundle) };
}

/** Writes dist/connector.js and dist/manifest.json; returns their paths. */
export function writeArtifacts(info: PackageInfo, artifacts: BuildArtifacts): { bundlePath: string; manifestPath: string } {
  const dist = join(info.dir, 'dist');
  const bundlePath = join(dist, 'connector.js');
  const manifestPath = join(dist, 'manifest.json');
  try {
    mkdirSync(dist, { recursive: true });
    writeFileSync(bundlePath, artifacts.bundle);
    writeFileSync(manifestPath, artifacts.manifestJson);
  } catch (error) {
    throw environmentError(`could not write ${dist}: ${(error as Error).message}`, 'Check the folder is writable and has free space.', error);
  }
  return { bundlePath, manifestPath };
}

/** `12.3 kB`-style sizes for progress output. */
export function formatSize(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} kB`;
}
