import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { environmentError } from './cli-error.ts';

/** What the CLI needs to know about a connector package folder. */
export interface PackageInfo {
  /** Absolute path of the package folder. */
  dir: string;
  /** The parsed package.json. */
  packageJson: Record<string, unknown> & { name?: string; version?: string };
  /** Absolute path of the connector's entry module (`export default <Connector>`). */
  entry: string;
}

const ENTRY_CANDIDATES = ['src/index.ts', 'src/index.mts', 'src/index.js', 'src/index.mjs', 'index.ts', 'index.js'];

/**
 * Reads a connector package: its package.json and entry module. The entry is `bosConnector.entry` from
 * package.json when set, else the first of `src/index.ts`, `src/index.js`, `index.ts`, `index.js`.
 */
export function readPackage(dirArg: string | undefined, cwd: string = process.cwd()): PackageInfo {
  const dir = resolve(cwd, dirArg ?? '.');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw environmentError(`${dir} is not a folder`, 'Pass the connector package folder, or run the command inside it.');
  }
  const pkgPath = join(dir, 'package.json');
  if (!existsSync(pkgPath)) {
    throw environmentError(`${pkgPath} does not exist: this is not a connector package`, 'Run the command in a package made by `bos-connector init`, or pass its folder.');
  }
  let packageJson: PackageInfo['packageJson'];
  try {
    packageJson = JSON.parse(readFileSync(pkgPath, 'utf8')) as PackageInfo['packageJson'];
  } catch (error) {
    throw environmentError(`${pkgPath} is not valid JSON: ${(error as Error).message}`, 'Fix the JSON syntax and run the command again.', error);
  }
  const configured = (packageJson.bosConnector as { entry?: unknown } | undefined)?.entry;
  const candidates = typeof configured === 'string' ? [configured] : ENTRY_CANDIDATES;
  const found = candidates.map((c) => join(dir, c)).find((p) => existsSync(p));
  if (!found) {
    throw environmentError(
      `no connector entry module in ${dir} (looked for ${candidates.join(', ')})`,
      'Create src/index.ts with `export default defineConnector({...})`, or set "bosConnector": { "entry": "<path>" } in package.json.',
    );
  }
  return { dir, packageJson, entry: found };
}
