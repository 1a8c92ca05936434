import { defineCommand } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { formatFinding, lintPackage } from '../lint/lint.ts';
import { printJson } from '../output.ts';
import { readPackage } from '../package-info.ts';

/** `bos-connector lint [dir]`: the security lint of the package's source files (tests excluded). */
export const lintCommand = defineCommand({
  name: 'lint',
  summary: 'Security lint of src/** (eval, new Function, string timers, import(), Node built-ins, process, require, global writes, secrets)',
  configure(cmd) {
    cmd.argument('[dir]', 'connector package folder', '.').option('--json', 'print { ok, files, findings } as JSON on stdout');
  },
  async run({ args, options }, ctx) {
    const info = readPackage(args[0], ctx.cwd);
    const { files, findings } = await lintPackage(info.dir);
    if (options.json) {
      printJson(ctx.output, { ok: findings.length === 0, files, findings });
    } else {
      for (const f of findings) ctx.output.out(formatFinding(f));
      if (files.length === 0) ctx.output.err('warning: no source files under src/ to lint');
      ctx.output.err(findings.length === 0 ? `ok: ${files.length} file(s) checked, no findings` : `${findings.length} finding(s) in ${files.length} file(s); fix them and run lint again`);
    }
    return findings.length === 0 ? EXIT.OK : EXIT.FINDINGS;
  },
});
