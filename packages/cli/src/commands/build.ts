import { relative } from 'node:path';
import { buildArtifacts, formatSize, writeArtifacts } from '../artifacts.ts';
import { defineCommand } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { printJson } from '../output.ts';
import { readPackage } from '../package-info.ts';

/** `bos-connector build [dir]`: dist/connector.js (one self-contained ESM bundle) and dist/manifest.json. */
export const buildCommand = defineCommand({
  name: 'build',
  summary: 'Bundle the connector into dist/connector.js (self-contained ESM, no Node built-ins) and dist/manifest.json',
  configure(cmd) {
    cmd.argument('[dir]', 'connector package folder', '.').option('--json', 'print { bundle, manifest, sha256, size } as JSON on stdout');
  },
  async run({ args, options }, ctx) {
    const info = readPackage(args[0], ctx.cwd);
    ctx.output.err(`building ${relative(ctx.cwd, info.entry) || info.entry}`);
    const artifacts = await buildArtifacts(info);
    const { bundlePath, manifestPath } = writeArtifacts(info, artifacts);
    if (options.json) {
      printJson(ctx.output, { bundle: bundlePath, manifest: manifestPath, sha256: artifacts.sha256, size: artifacts.size });
    } else {
      ctx.output.out(`${relative(ctx.cwd, bundlePath)}  ${formatSize(artifacts.size)}  sha256:${artifacts.sha256}`);
      ctx.output.out(`${relative(ctx.cwd, manifestPath)}  ${artifacts.manifest.name}@${artifacts.manifest.version}`);
    }
    return EXIT.OK;
  },
});
