import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { N8N_NODE_CLI_VERSION } from './export-package.ts';

/** Where n8n's node CLI is cached, outside the repository (it pins ESLint 9 and brings ~600 packages). */
export const NODE_CLI_CACHE = join(homedir(), '.cache', 'bos-n8n-cli');

export type NodeCli = { ok: true; nodeModules: string; bin: string } | { ok: false; reason: string };

function installed(): NodeCli | undefined {
  const pkg = join(NODE_CLI_CACHE, 'node_modules', '@n8n', 'node-cli', 'package.json');
  if (!existsSync(pkg)) return undefined;
  const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version?: string }).version;
  if (version !== N8N_NODE_CLI_VERSION) return undefined;
  return { ok: true, nodeModules: join(NODE_CLI_CACHE, 'node_modules'), bin: join(NODE_CLI_CACHE, 'node_modules', '@n8n', 'node-cli', 'bin', 'n8n-node.mjs') };
}

/**
 * Finds `@n8n/node-cli` in the cache folder, installing it there once when missing (`--ignore-scripts`: one of its
 * dependencies, eslint-plugin-n8n-nodes-base, has a `preinstall` that demands pnpm). Installing it into the
 * workspace instead would add ~600 packages to the lock file and make the repository's `npm ci` run that script.
 */
export function ensureNodeCli(options: { install?: boolean } = {}): NodeCli {
  const found = installed();
  if (found) return found;
  if (options.install === false) return { ok: false, reason: `@n8n/node-cli@${N8N_NODE_CLI_VERSION} is not installed in ${NODE_CLI_CACHE}` };
  const npm = spawnSync('npm', ['install', '--prefix', NODE_CLI_CACHE, `@n8n/node-cli@${N8N_NODE_CLI_VERSION}`, '--ignore-scripts', '--no-audit', '--no-fund'], {
    encoding: 'utf8',
    timeout: 20 * 60_000,
  });
  const after = installed();
  if (after) return after;
  const output = `${npm.stdout ?? ''}${npm.stderr ?? ''}`.trim().split('\n').slice(-5).join(' | ');
  return { ok: false, reason: `could not install @n8n/node-cli@${N8N_NODE_CLI_VERSION} into ${NODE_CLI_CACHE} (npm exit ${String(npm.status)}${npm.error ? `, ${npm.error.message}` : ''}): ${output}` };
}
