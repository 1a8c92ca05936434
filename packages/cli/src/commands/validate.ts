import { validateManifest, type ValidationIssue } from '@businessos/connector-sdk/host';
import { loadConnector } from '../bundle.ts';
import { defineCommand } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { printJson } from '../output.ts';
import { readPackage } from '../package-info.ts';

/** `path: message (rule)`, the root shown as `/`. */
export function formatIssue(issue: ValidationIssue): string {
  return `${issue.path || '/'}: ${issue.message} (${issue.rule})`;
}

/** `bos-connector validate [dir]`: loads the connector and checks its manifest and every params/output schema. */
export const validateCommand = defineCommand({
  name: 'validate',
  summary: 'Check the connector manifest and its JSON Schemas; each issue is printed with its JSON path',
  configure(cmd) {
    cmd.argument('[dir]', 'connector package folder', '.').option('--json', 'print { ok, name, version, issues } as JSON on stdout');
  },
  async run({ args, options }, ctx) {
    const info = readPackage(args[0], ctx.cwd);
    ctx.output.err(`validating ${info.entry}`);
    const connector = await loadConnector(info);
    const manifest = connector.manifest;
    const result = validateManifest(manifest);
    if (options.json) {
      printJson(ctx.output, { ok: result.ok, name: manifest.name, version: manifest.version, issues: result.issues });
    } else if (result.ok) {
      ctx.output.out(`ok: ${manifest.name}@${manifest.version}: ${manifest.actions.length} action(s), ${manifest.triggers.length} trigger(s), manifest valid`);
    } else {
      for (const issue of result.issues) ctx.output.out(formatIssue(issue));
      ctx.output.err(`${result.issues.length} issue(s) in the manifest of ${manifest.name ?? info.entry}. Fix each one at its JSON path (paths point into the manifest: /actions/<index>/params/...).`);
    }
    return result.ok ? EXIT.OK : EXIT.FINDINGS;
  },
});
