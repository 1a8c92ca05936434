import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleConnector, readPackage } from '@businessos/connector-cli';
import { sha256Hex } from '@businessos/connector-runtime';

/** A built bundle of a connector package: what the runtime loads, and its content address. */
export interface BuiltBundle {
  code: string;
  sha256: string;
}

/** The folder of an installed package (the nearest package.json above its entry module). */
export function packageDirOf(packageName: string): string {
  let dir = path.dirname(fileURLToPath(import.meta.resolve(packageName)));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above the entry of ${packageName}`);
    dir = up;
  }
  return dir;
}

/**
 * Builds a bundled connector package the way `bos-connector pack` does (esbuild, one neutral ESM file, the SDK
 * mapped to virtual paths), so seeded connectors run from a content-addressed artifact like published ones.
 * @example const { code, sha256 } = await buildBundledConnector('@businessos/connector-stripe');
 */
export async function buildBundledConnector(packageName: string): Promise<BuiltBundle> {
  const info = readPackage(packageDirOf(packageName));
  const code = await bundleConnector(info, { platform: 'neutral' });
  return { code, sha256: sha256Hex(code) };
}
