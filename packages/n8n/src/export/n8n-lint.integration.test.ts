// Runs n8n's official community-node linter (`n8n-node lint` from @n8n/node-cli) and the TypeScript compiler with
// the real n8n-workflow types on the packages exported from the catalog connectors and the demo connector.
// @n8n/node-cli lives in a cache folder outside the repository (see node-cli.ts); it is installed there once.
// Set BOS_N8N_LINT=0 to skip; when the CLI cannot be installed the suite is skipped with the reason.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ConnectorManifest } from '@businessos/connector-sdk';
import demo from '../fixtures/demo-connector.ts';
import { bundleConnectorEntry } from './build.ts';
import { exportN8nPackage } from './export-package.ts';
import { ensureNodeCli } from './node-cli.ts';

const REPO = resolve(import.meta.dirname, '..', '..', '..', '..');
const disabled = process.env.BOS_N8N_LINT === '0';
const cli = disabled ? { ok: false as const, reason: 'BOS_N8N_LINT=0' } : ensureNodeCli();
if (!cli.ok) console.warn(`[n8n-lint] skipped: ${cli.reason}`);

const work = mkdtempSync(join(tmpdir(), 'bos-n8n-lint-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function strip(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

async function exportAndCheck(label: string, exportIt: () => Promise<{ dir: string }>): Promise<void> {
  if (!cli.ok) return;
  const { dir } = await exportIt();
  symlinkSync(cli.nodeModules, join(dir, 'node_modules'), 'dir');
  // eslint-plugin-n8n-nodes-base switches to its own test fixtures' file names when NODE_ENV=test (which Vitest sets).
  const env = { ...process.env, CI: '1', NODE_ENV: 'production' };
  const lint = spawnSync(process.execPath, [cli.bin, 'lint'], { cwd: dir, encoding: 'utf8', timeout: 240_000, env });
  const output = strip(`${lint.stdout}${lint.stderr}`);
  const problems = output.split('\n').filter((l) => /\b(error|warning)\b/.test(l) && !/^\s*$/.test(l));
  expect({ label, exit: lint.status, problems }).toEqual({ label, exit: 0, problems: [] });
  const tsc = spawnSync(process.execPath, [join(cli.nodeModules, 'typescript', 'bin', 'tsc'), '--noEmit', '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8', timeout: 240_000 });
  expect({ label, exit: tsc.status, output: strip(`${tsc.stdout}${tsc.stderr}`).trim() }).toEqual({ label, exit: 0, output: '' });
}

describe.skipIf(!cli.ok)('n8n-node lint on exported packages', () => {
  for (const name of ['stripe', 'slack', 'shopify']) {
    it(`the ${name} connector exports with zero lint findings and typechecks against n8n-workflow`, async () => {
      const packageDir = join(REPO, 'connectors', name);
      expect(existsSync(join(packageDir, 'src', 'index.ts'))).toBe(true);
      const connector = ((await import(join(packageDir, 'src', 'index.ts'))) as { default: { manifest: ConnectorManifest } }).default;
      await exportAndCheck(name, () => exportN8nPackage({ connector, packageDir, outDir: join(work, name) }));
    }, 600_000);
  }

  it('the demo connector (api key, polling, hmac webhook) exports with zero lint findings', async () => {
    const bundlePath = join(work, 'demo.js');
    writeFileSync(bundlePath, await bundleConnectorEntry(join(import.meta.dirname, '..', 'fixtures', 'demo-connector.ts'), join(import.meta.dirname, '..', '..')));
    await exportAndCheck('demo', () => exportN8nPackage({ connector: demo, bundlePath, outDir: join(work, 'demo') }));
  }, 600_000);
});
