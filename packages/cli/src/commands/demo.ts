import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Connector } from '@businessos/connector-sdk';
import { validateManifest } from '@businessos/connector-sdk/host';
import { createTestHarness } from '@businessos/connector-sdk/testing';
import { buildArtifacts, formatSize, writeArtifacts } from '../artifacts.ts';
import { loadConnector } from '../bundle.ts';
import { defineCommand } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { lintPackage } from '../lint/lint.ts';
import { readPackage } from '../package-info.ts';
import { scaffoldFiles, writeScaffold } from '../scaffold.ts';
import { crmTemplate } from '../templates/crm.ts';

/** `bos-connector demo`: what `npm start` runs until the service exists; a short, real walk through the CLI. */
export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'Scaffold a throw-away CRM connector, then validate, lint, build it and run one action in the simulator',
  configure(cmd) {
    cmd.option('--keep', 'keep the temporary package folder and print its path');
  },
  async run({ options }, ctx) {
    const root = mkdtempSync(join(tmpdir(), 'bos-demo-'));
    const dir = join(root, 'acme');
    const step = (n: number, text: string) => ctx.output.out(`[${n}/5] ${text}`);
    try {
      writeScaffold(dir, scaffoldFiles(crmTemplate, 'acme'));
      step(1, `init acme --template=crm  → ${dir}`);
      const info = readPackage(dir);
      const connector = await loadConnector(info);
      const validation = validateManifest(connector.manifest);
      step(2, `validate  → ${validation.ok ? 'manifest valid' : `${validation.issues.length} issue(s)`}: ${connector.manifest.actions.map((a) => a.name).join(', ')}`);
      const { files, findings } = await lintPackage(dir);
      step(3, `lint      → ${files.length} file(s), ${findings.length} finding(s)`);
      const artifacts = await buildArtifacts(info);
      writeArtifacts(info, artifacts);
      step(4, `build     → dist/connector.js ${formatSize(artifacts.size)} sha256:${artifacts.sha256.slice(0, 16)}…`);
      const harness = await createTestHarness({ connector: connector as unknown as Connector, fixturesDir: join(dir, 'fixtures') });
      try {
        const contact = await harness.run('createContact', { email: 'ada@example.com', firstName: 'Ada' });
        const sent = harness.api.requests.at(-1);
        step(5, `run createContact (simulator) → ${JSON.stringify(contact)}`);
        ctx.output.out(`      ${sent?.method} ${sent?.path} with X-Api-Key added by the host, never seen by connector code`);
      } finally {
        await harness.close();
      }
      ctx.output.out('\nNext: bos-connector init <name> --template=<commerce|crm|payments|messaging|rest>, then bos-connector --help');
      return validation.ok && findings.length === 0 ? EXIT.OK : EXIT.FINDINGS;
    } finally {
      if (options.keep) ctx.output.err(`kept ${dir}`);
      else rmSync(root, { recursive: true, force: true });
    }
  },
});
