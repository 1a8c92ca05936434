import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { isConnectorError, type Connector } from '@businessos/connector-sdk';
import { exportN8nPackage, importN8nNode, loadN8nSource } from '@businessos/n8n-bridge';
import { bundleConnector, loadConnector } from '../bundle.ts';
import { usageError } from '../cli-error.ts';
import { defineCommand } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { readPackage } from '../package-info.ts';

/** Bad input found by the bridge (a broken node file, nothing convertible) is the caller's to fix: a usage error. */
function asUsage(error: unknown): never {
  if (isConnectorError(error) && error.code === 'INVALID_INPUT') throw usageError(error.message);
  throw error;
}

/** `bos-connector export-n8n [dir] [--out dir]`: an installable n8n community-node package of the connector. */
export const exportN8nCommand = defineCommand({
  name: 'export-n8n',
  summary: 'Export the connector as an n8n community-node package (nodes, credentials, triggers, built dist/)',
  configure(cmd) {
    cmd.argument('[dir]', 'connector package folder', '.').option('-o, --out <dir>', 'where to write the package folder', 'n8n');
  },
  async run({ args, options }, ctx) {
    const info = readPackage(args[0], ctx.cwd);
    const connector = (await loadConnector(info)) as unknown as Connector;
    const work = mkdtempSync(join(tmpdir(), 'bos-n8n-'));
    try {
      const bundlePath = join(work, 'connector.js');
      writeFileSync(bundlePath, await bundleConnector(info, { platform: 'neutral' }));
      ctx.output.err(`exporting ${connector.manifest.name}@${connector.manifest.version} as an n8n community node…`);
      const result = await exportN8nPackage({ connector, bundlePath, outDir: resolve(ctx.cwd, String(options.out)) }).catch(asUsage);
      ctx.output.out(`wrote ${relative(ctx.cwd, result.dir) || result.dir} (${result.packageName}, ${result.files.length} files)`);
      ctx.output.err(`next: cd ${relative(ctx.cwd, result.dir) || '.'} && npm pack, then install the tarball in n8n (Settings → Community nodes, or ~/.n8n/nodes)`);
      return EXIT.OK;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
});

/** `bos-connector import-n8n <source> [--out dir]`: a connector package from an n8n declarative node. */
export const importN8nCommand = defineCommand({
  name: 'import-n8n',
  summary: 'Create a connector package from an n8n declarative node (a description .json or a built node package folder); exit 1 when parts could not be converted',
  configure(cmd) {
    cmd
      .argument('<source>', 'n8n node description (.json, or { node, credentials }) or a built n8n node package folder')
      .option('--node <name>', 'which node, when the package has several')
      .option('-o, --out <dir>', 'where to create the connector package folder', '.');
  },
  async run({ args, options }, ctx) {
    const source = resolve(ctx.cwd, String(args[0]));
    let loaded: ReturnType<typeof loadN8nSource>;
    try {
      loaded = loadN8nSource(source, typeof options.node === 'string' ? options.node : undefined);
    } catch (error) {
      asUsage(error);
    }
    const result = await importN8nNode({ ...loaded, outDir: resolve(ctx.cwd, String(options.out)) }).catch(asUsage);
    // report.converted lists the auth scheme and the connection test as well as the actions: print what it says.
    ctx.output.out(`wrote ${relative(ctx.cwd, result.dir) || result.dir}`);
    for (const c of result.report.converted) ctx.output.out(`  converted ${c}`);
    for (const u of result.report.unsupported) ctx.output.out(`  not converted ${u.path}: ${u.reason}`);
    ctx.output.err(`next: cd ${relative(ctx.cwd, result.dir) || '.'} && bos-connector validate && bos-connector test`);
    // Something was left behind: say so in the exit code too, so scripts notice.
    return result.report.unsupported.length > 0 ? EXIT.FINDINGS : EXIT.OK;
  },
});
