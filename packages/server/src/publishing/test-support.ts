// Test fixtures for publishing: real connector tarballs packed by the CLI from a scaffold. The service itself
// comes from `createTestApp` in ../test-app.ts.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../../cli/src/main.ts';
import { createBufferOutput } from '../../../cli/src/output.ts';
import { ProblemError } from '../http/problem.ts';
import { readConnectorTarball } from './tarball.ts';

async function cli(cwd: string, ...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = createBufferOutput();
  const code = await main(argv, { output, cwd, env: {}, interactive: false, waitForInterrupt: () => Promise.resolve() });
  return { code, stdout: output.stdout.join(''), stderr: output.stderr.join('') };
}

/** Scaffolds a connector with `bos-connector init` (template `rest`) under a new temp folder; returns its folder. */
export async function scaffoldConnector(name: string): Promise<string> {
  const root = mkdtempSync(path.join(tmpdir(), 'bos-publish-fixture-'));
  const init = await cli(root, 'init', name, '--template=rest');
  if (init.code !== 0) throw new Error(`init failed: ${init.stderr}`);
  return path.join(root, name);
}

/** Sets the connector's version in src/index.ts and package.json. */
export function setVersion(dir: string, version: string): void {
  const index = path.join(dir, 'src', 'index.ts');
  writeFileSync(index, readFileSync(index, 'utf8').replace(/version: '[^']+'/, `version: '${version}'`));
  const pkgPath = path.join(dir, 'package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version?: string };
  pkg.version = version;
  writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);
}

/** Packs `dir` with `bos-connector pack` and returns the tarball's bytes. */
export async function packConnector(dir: string): Promise<Buffer> {
  const r = await cli(dir, 'pack', '--json');
  if (r.code !== 0) throw new Error(`pack failed: ${r.stderr}`);
  return readFileSync((JSON.parse(r.stdout) as { tarball: string }).tarball);
}

/** The message a tarball is refused with; throws when it is accepted or fails some other way. */
export async function tarballRefusal(bytes: Buffer, limits?: Parameters<typeof readConnectorTarball>[1]): Promise<string> {
  try {
    await readConnectorTarball(bytes, limits);
  } catch (error) {
    if (error instanceof ProblemError) return error.message;
    throw error;
  }
  throw new Error('the tarball was accepted');
}
