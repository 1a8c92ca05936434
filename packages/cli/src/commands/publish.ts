import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { uploadSubmission, type SubmissionSummary } from '../api-client.ts';
import { buildArtifacts, writeArtifacts } from '../artifacts.ts';
import { usageError } from '../cli-error.ts';
import { defineCommand } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import type { Output } from '../output.ts';
import { printJson } from '../output.ts';
import { readPackage } from '../package-info.ts';
import { packEntries, tarballName, writeTarball } from '../pack.ts';

/** The service URL when neither --server nor BOS_SERVER_URL is given. */
export const DEFAULT_SERVER_URL = 'http://127.0.0.1:3000';

const MARK = { pass: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;

function printSubmission(output: Output, s: SubmissionSummary, server: string): void {
  output.err(`checks of ${s.connector.name}@${s.version}:`);
  for (const check of s.checks) {
    output.err(`  ${MARK[check.status]}  ${check.title}`);
    if (check.status !== 'pass' || check.id === 'permissions') for (const d of check.details) output.err(`          ${d}`);
  }
  output.out(`submission ${s.id}  ${s.connector.name}@${s.version}  ${s.status} (${s.connector.visibility})`);
  output.err('next: a reviewer checks the submission; once approved the version is published and installable.');
  output.err(`      follow it with GET ${new URL(`/marketplace/submissions/${s.id}`, server).toString()} (same key).`);
}

/** `bos-connector publish [dir]`: pack, upload to the marketplace service, print the submission and its checks. */
export const publishCommand = defineCommand({
  name: 'publish',
  summary: 'Pack the connector and submit it to the marketplace service for review',
  configure(cmd) {
    cmd
      .argument('[dir]', 'connector package folder', '.')
      .option('--server <url>', `connectors service base URL (default: BOS_SERVER_URL or ${DEFAULT_SERVER_URL})`)
      .option('--key <key>', 'API key with the publisher role (default: BOS_API_KEY)')
      .option('--private', 'publish privately: visible only to your tenant')
      .option('--json', 'print the submission as JSON on stdout');
  },
  async run({ args, options }, ctx) {
    const server = (options.server as string | undefined) ?? ctx.env.BOS_SERVER_URL ?? DEFAULT_SERVER_URL;
    const key = (options.key as string | undefined) ?? ctx.env.BOS_API_KEY;
    if (!key) throw usageError('publish needs an API key with the publisher role', 'Pass --key <key> or set BOS_API_KEY.');
    const info = readPackage(args[0], ctx.cwd);
    ctx.output.err('building the bundle');
    const artifacts = await buildArtifacts(info);
    writeArtifacts(info, artifacts);
    const file = join(info.dir, tarballName(artifacts.manifest.name, artifacts.manifest.version));
    const digest = await writeTarball(packEntries(info, artifacts), file);
    ctx.output.err(`packed ${relative(ctx.cwd, file) || file}  sha256:${digest}`);
    ctx.output.err(`uploading to ${server}`);
    const submission = await uploadSubmission({ server, key }, readFileSync(file), { private: options.private === true });
    if (options.json) printJson(ctx.output, submission);
    else printSubmission(ctx.output, submission, server);
    return EXIT.OK;
  },
});
