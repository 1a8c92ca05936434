import { join, relative } from 'node:path';
import { buildArtifacts, formatSize, writeArtifacts } from '../artifacts.ts';
import { defineCommand } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { printJson } from '../output.ts';
import { readPackage } from '../package-info.ts';
import { packEntries, tarballName, writeTarball } from '../pack.ts';

/** `bos-connector pack [dir]`: build, then a reproducible `<name>-<version>.tgz` with manifest, bundle, docs and checksums. */
export const packCommand = defineCommand({
  name: 'pack',
  summary: 'Build, then write <name>-<version>.tgz (manifest.json, connector.js, package.json, README, docs, checksums.json)',
  configure(cmd) {
    cmd.argument('[dir]', 'connector package folder', '.').option('--json', 'print { tarball, sha256, bundleSha256, files } as JSON on stdout');
  },
  async run({ args, options }, ctx) {
    const info = readPackage(args[0], ctx.cwd);
    ctx.output.err('building the bundle');
    const artifacts = await buildArtifacts(info);
    writeArtifacts(info, artifacts);
    const entries = packEntries(info, artifacts);
    const file = join(info.dir, tarballName(artifacts.manifest.name, artifacts.manifest.version));
    ctx.output.err('writing the tarball');
    const digest = await writeTarball(entries, file);
    if (info.packageJson.version !== undefined && info.packageJson.version !== artifacts.manifest.version) {
      ctx.output.err(`warning: package.json version ${String(info.packageJson.version)} differs from the connector version ${artifacts.manifest.version}; keep them equal`);
    }
    if (options.json) {
      printJson(ctx.output, { tarball: file, sha256: digest, bundleSha256: artifacts.sha256, files: entries.map((e) => `package/${e.path}`) });
    } else {
      for (const e of entries) ctx.output.err(`  package/${e.path}  ${formatSize(Buffer.byteLength(e.content))}`);
      ctx.output.out(`${relative(ctx.cwd, file) || file}  sha256:${digest}`);
      ctx.output.out(`bundle connector.js  sha256:${artifacts.sha256}`);
    }
    return EXIT.OK;
  },
});
