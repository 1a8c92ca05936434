import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { generateDocs } from '@businessos/connector-sdk/host';
import { loadConnector } from '../bundle.ts';
import { environmentError } from '../cli-error.ts';
import { defineCommand } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { readPackage } from '../package-info.ts';

/** `bos-connector docs [dir] [--out file|-]`: Markdown documentation generated from the manifest. */
export const docsCommand = defineCommand({
  name: 'docs',
  summary: 'Generate Markdown docs (auth, actions, triggers, params, outputs, examples) from the manifest',
  configure(cmd) {
    cmd.argument('[dir]', 'connector package folder', '.').option('-o, --out <file>', 'where to write; "-" for stdout (default docs/README.md)');
  },
  async run({ args, options }, ctx) {
    const info = readPackage(args[0], ctx.cwd);
    const connector = await loadConnector(info);
    const markdown = generateDocs(connector.manifest);
    const out = typeof options.out === 'string' ? options.out : join(info.dir, 'docs', 'README.md');
    if (out === '-') {
      ctx.output.out(markdown);
      return EXIT.OK;
    }
    const target = resolve(ctx.cwd, out);
    try {
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, markdown);
    } catch (error) {
      throw environmentError(`could not write ${target}: ${(error as Error).message}`, 'Pick a writable path with --out, or --out - for stdout.', error);
    }
    ctx.output.out(`wrote ${relative(ctx.cwd, target) || target}`);
    return EXIT.OK;
  },
});
