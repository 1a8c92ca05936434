// Proof that real n8n 2.x runs exported packages (not part of the default tests: n8n is large).
//   node packages/n8n/scripts/n8n-e2e.ts [connector...]     (root script: npm run test:n8n [-- slack shopify])
// 1. installs n8n into ~/.cache/bos-n8n (once; BOS_N8N_VERSION overrides the version),
// 2. exports the Stripe, Slack and Shopify connectors (or the ones named) and installs them, packed, as community
//    packages into <N8N_USER_FOLDER>/.n8n/nodes (a temporary user folder): n8n's community-packages module loads
//    every package under .n8n/nodes/node_modules at start-up, and puts its own modules on NODE_PATH for their
//    `n8n-workflow`,
// 3. starts one loopback mock with a prefix per provider (/stripe, /slack, /shopify), imports with n8n's CLI a
//    credential per connector (its Base URL pointing at the mock; the OAuth2 ones with a pre-filled
//    oauthTokenData, as n8n stores it after the consent screen) and a workflow "Manual Trigger → <node>" each,
// 4. runs `n8n execute --id <id> --rawOutput` per workflow and reads the node's items back from n8n's output,
// 5. checks the items and the requests the mock saw (auth header, body, query, pages); see n8n-e2e-cases.ts.
// Exit code 0 when every connector passed, 1 when one failed (all are run and summarised first), 2 when n8n
// cannot be installed here (with the reason).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ConnectorManifest } from '@businessos/connector-sdk';
import { exportN8nPackage } from '../src/index.ts';
import { E2E_CASES, type E2eCase, type MockReply, type SeenRequest } from './n8n-e2e-cases.ts';

const REPO = resolve(import.meta.dirname, '..', '..', '..');
// n8n@2.41.3 (latest on 2026-11-26) depends on @n8n/agents@0.26.2, which the registry does not have; 2.41.1 installs.
const VERSION = process.env.BOS_N8N_VERSION ?? '2.41.1';
const CACHE = join(homedir(), '.cache', 'bos-n8n');
const N8N_BIN = join(CACHE, 'node_modules', 'n8n', 'bin', 'n8n');
const log = (msg: string) => console.log(`[n8n-e2e] ${msg}`);

function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) {
  const r = spawnSync(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, encoding: 'utf8', timeout: options.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

/**
 * Like run(), but keeps this process's event loop free (the loopback mock must answer while n8n runs), and sends
 * n8n's output to files: n8n exits right after printing, which cuts a large write to a pipe short.
 */
function runAsync(cmd: string, args: string[], options: { cwd: string; name: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const outFile = join(options.cwd, `${options.name}.stdout.txt`);
  const errFile = join(options.cwd, `${options.name}.stderr.txt`);
  const out = openSync(outFile, 'w');
  const err = openSync(errFile, 'w');
  return new Promise((done) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', out, err] });
    const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs ?? 600_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      closeSync(out);
      closeSync(err);
      done({ status, stdout: readFileSync(outFile, 'utf8'), stderr: readFileSync(errFile, 'utf8') });
    });
  });
}

/**
 * The execution n8n printed: log lines, then (after "Execution error:" when the run failed) the execution as
 * pretty-printed JSON from a line "{" to a line "}", then on failure the stack trace.
 */
function executionJson(output: string): string {
  const start = output.search(/^\{$/m);
  if (start < 0) return '';
  const end = output.slice(start).search(/^\}$/m);
  return end < 0 ? output.slice(start) : output.slice(start, start + end + 1);
}

function installedVersion(): string | undefined {
  const pkg = join(CACHE, 'node_modules', 'n8n', 'package.json');
  return existsSync(pkg) ? (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version : undefined;
}

function ensureN8n(): void {
  const sqliteBinding = join(CACHE, 'node_modules', 'sqlite3', 'build', 'Release', 'node_sqlite3.node');
  if (installedVersion() === VERSION && existsSync(N8N_BIN) && existsSync(sqliteBinding)) return;
  mkdirSync(CACHE, { recursive: true });
  if (!existsSync(join(CACHE, 'package.json'))) writeFileSync(join(CACHE, 'package.json'), '{ "name": "bos-n8n-cache", "private": true }\n');
  log(`installing n8n@${VERSION} into ${CACHE} (several minutes the first time)`);
  // --ignore-scripts: @confluentinc/kafka-javascript's install script downloads zlib from zlib.net (outside the npm
  // registry, unreachable here) and fails the whole install. Only the native modules this run needs are rebuilt.
  const r = run('npm', ['install', '--prefix', CACHE, `n8n@${VERSION}`, '--ignore-scripts', '--no-audit', '--no-fund'], { timeoutMs: 60 * 60_000 });
  if (installedVersion() === VERSION && !existsSync(sqliteBinding)) {
    const rebuild = run('npm', ['rebuild', 'sqlite3', 'isolated-vm'], { cwd: CACHE, timeoutMs: 60 * 60_000 });
    if (rebuild.status !== 0) log(`npm rebuild sqlite3 isolated-vm exited ${String(rebuild.status)}: ${(rebuild.stdout + rebuild.stderr).trim().split('\n').slice(-5).join(' | ')}`);
  }
  if (installedVersion() !== VERSION) {
    console.error(`[n8n-e2e] cannot install n8n@${VERSION}: npm exit ${String(r.status)}\n${(r.stdout + r.stderr).trim().split('\n').slice(-15).join('\n')}`);
    process.exit(2);
  }
}

function fail(message: string, detail = ''): never {
  console.error(`[n8n-e2e] FAILED: ${message}${detail ? `\n${detail}` : ''}`);
  process.exit(1);
}

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !E2E_CASES.some((c) => c.connector === w));
if (unknown.length > 0) fail(`unknown connector ${unknown.join(', ')}; pick from ${E2E_CASES.map((c) => c.connector).join(', ')}`);
const cases = E2E_CASES.filter((c) => wanted.length === 0 || wanted.includes(c.connector));

ensureN8n();
log(`n8n ${String(installedVersion())} at ${N8N_BIN}`);

const work = mkdtempSync(join(tmpdir(), 'bos-n8n-e2e-'));
const userFolder = join(work, 'user');
const nodesDir = join(userFolder, '.n8n', 'nodes');
mkdirSync(nodesDir, { recursive: true });

// 1. Export the connectors and install them as community packages (packed, like an npm release).
const packages = new Map<string, string>();
const tarballs: string[] = [];
for (const c of cases) {
  const packageDir = join(REPO, 'connectors', c.connector);
  const connector = ((await import(join(packageDir, 'src', 'index.ts'))) as { default: { manifest: ConnectorManifest } }).default;
  const exported = await exportN8nPackage({ connector, packageDir, outDir: join(work, 'export') });
  packages.set(c.connector, exported.packageName);
  const packDir = join(work, 'pack', c.connector);
  mkdirSync(packDir, { recursive: true });
  const pack = run('npm', ['pack', '--pack-destination', packDir], { cwd: exported.dir });
  const tarball = readdirSync(packDir).find((f) => f.endsWith('.tgz'));
  if (pack.status !== 0 || !tarball) fail(`npm pack of ${exported.packageName} failed`, pack.stderr);
  tarballs.push(join(packDir, tarball));
  log(`exported ${exported.packageName} (${exported.files.length} files) → ${tarball}`);
}
writeFileSync(join(nodesDir, 'package.json'), '{ "name": "installed-nodes", "private": true }\n');
const install = run('npm', ['install', ...tarballs, '--legacy-peer-deps', '--no-audit', '--no-fund'], { cwd: nodesDir, timeoutMs: 20 * 60_000 });
if (install.status !== 0) fail('installing the packages into ~/.n8n/nodes failed', install.stderr);
log(`installed ${[...packages.values()].join(', ')} into ${nodesDir}`);

// 2. One loopback mock; /<connector>/... goes to that connector's handler with the prefix taken off.
const seen = new Map<string, SeenRequest[]>(cases.map((c) => [c.connector, []]));
let mockUrl = '';
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk: Buffer) => { body += chunk.toString(); });
  req.on('end', () => {
    const [, prefix = '', ...rest] = (req.url ?? '/').split('/');
    const c = cases.find((x) => x.connector === prefix);
    let reply: MockReply = { status: 404, body: { error: `no mock for /${prefix}` } };
    if (c) {
      const request: SeenRequest = { method: req.method ?? '', url: `/${rest.join('/')}`, headers: req.headers, body };
      seen.get(c.connector)?.push(request);
      reply = c.handle(request, `${mockUrl}/${c.connector}`);
    }
    res.statusCode = reply.status;
    res.setHeader('content-type', 'application/json');
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
    res.end(JSON.stringify(reply.body));
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const address = server.address();
mockUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
log(`mock APIs on ${mockUrl}/{${cases.map((c) => c.connector).join(',')}}`);

// 3. Credentials and workflows through n8n's CLI.
const env: NodeJS.ProcessEnv = {
  ...process.env,
  N8N_USER_FOLDER: userFolder,
  N8N_ENCRYPTION_KEY: 'bos-n8n-e2e-encryption-key',
  N8N_DIAGNOSTICS_ENABLED: 'false',
  N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
  N8N_TEMPLATES_ENABLED: 'false',
  N8N_PERSONALIZATION_ENABLED: 'false',
  N8N_COMMUNITY_PACKAGES_ENABLED: 'true',
  N8N_RUNNERS_ENABLED: 'false',
  // n8n's `execute` prints its JSON through the logger at info level: keep the default level.
  DB_TYPE: 'sqlite',
  NODE_ENV: 'production',
};
const ids = (c: E2eCase) => ({ credential: `bosE2e${c.nodeName}Cred`.slice(0, 16), workflow: `bosE2e${c.nodeName}Flow`.slice(0, 16) });
writeFileSync(
  join(work, 'credentials.json'),
  JSON.stringify(cases.map((c) => ({ id: ids(c).credential, name: `${c.nodeName} (BusinessOS) e2e`, type: c.credentialType, data: c.credentialData(`${mockUrl}/${c.connector}`) }))),
);
writeFileSync(
  join(work, 'workflows.json'),
  JSON.stringify(
    cases.map((c, i) => ({
      id: ids(c).workflow,
      name: `BusinessOS export e2e: ${c.nodeName}`,
      active: false,
      settings: {},
      connections: { 'Manual Trigger': { main: [[{ node: c.nodeName, type: 'main', index: 0 }]] } },
      nodes: [
        { id: `a1b2c3d4-0000-4000-8000-00000000${String(i).padStart(2, '0')}01`, name: 'Manual Trigger', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
        {
          id: `a1b2c3d4-0000-4000-8000-00000000${String(i).padStart(2, '0')}02`,
          name: c.nodeName,
          type: `${String(packages.get(c.connector))}.${c.nodeType}`,
          typeVersion: 1,
          position: [240, 0],
          parameters: c.parameters,
          credentials: { [c.credentialType]: { id: ids(c).credential, name: `${c.nodeName} (BusinessOS) e2e` } },
        },
      ],
    })),
  ),
);
const cli = (args: string[]) => run(process.execPath, [N8N_BIN, ...args], { env, cwd: work, timeoutMs: 10 * 60_000 });
for (const [what, args] of [
  ['credentials', ['import:credentials', `--input=${join(work, 'credentials.json')}`]],
  ['workflows', ['import:workflow', `--input=${join(work, 'workflows.json')}`]],
] as const) {
  const r = cli([...args]);
  if (r.status !== 0) fail(`n8n ${args[0]} failed (exit ${String(r.status)})`, (r.stdout + r.stderr).trim().slice(-4000));
  log(`imported the ${what}`);
}

// 4. Execute each workflow, read the node's items back from n8n's output and check them and the mock's requests.
type RunData = Record<string, Array<{ error?: { message?: string; description?: string }; data?: { main?: Array<Array<{ json: Record<string, unknown> }>> } }>>;
const results: Array<{ connector: string; ok: boolean; line: string }> = [];
for (const c of cases) {
  const exec = await runAsync(process.execPath, [N8N_BIN, 'execute', `--id=${ids(c).workflow}`, '--rawOutput'], { env, cwd: work, name: c.connector, timeoutMs: 10 * 60_000 });
  const requests = seen.get(c.connector) ?? [];
  const output = exec.stdout;
  let problem: string | undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(executionJson(output));
  } catch {
    problem = `could not parse the JSON n8n printed (exit ${String(exec.status)}):\n${(output + exec.stderr).trim().slice(-4000)}`;
  }
  if (!problem) {
    const resultData = (parsed as { data?: { resultData?: { runData?: RunData; error?: { message?: string; description?: string } } } }).data?.resultData;
    const nodeRun = resultData?.runData?.[c.nodeName]?.[0];
    const items = (nodeRun?.data?.main?.[0] ?? []).map((i) => i.json);
    log(`${c.connector}: n8n returned from the ${c.nodeName} node: ${JSON.stringify(items)}`);
    const error = nodeRun?.error ?? resultData?.error;
    if (error) problem = `the node failed in n8n: ${String(error.message)} (${String(error.description)})`;
    else if (exec.status !== 0) problem = `n8n execute exited ${String(exec.status)}:\n${(output + exec.stderr).trim().slice(-4000)}`;
    else problem = c.check(items, requests);
  }
  if (problem) {
    console.error(`[n8n-e2e] ${c.connector}: FAILED: ${problem}\n[n8n-e2e] ${c.connector}: the mock saw ${JSON.stringify(requests)}`);
    results.push({ connector: c.connector, ok: false, line: problem.split('\n')[0] ?? problem });
  } else {
    log(`${c.connector}: mock API saw ${c.describe(requests)}`);
    results.push({ connector: c.connector, ok: true, line: c.describe(requests) });
  }
}
await new Promise((r) => server.close(r));

// 5. Summary.
for (const r of results) log(`${r.ok ? 'PASS' : 'FAIL'} ${r.connector} (${String(packages.get(r.connector))}): ${r.line}`);
const failed = results.filter((r) => !r.ok);
if (failed.length > 0) {
  console.error(`[n8n-e2e] FAILED: ${failed.map((r) => r.connector).join(', ')} (work folder kept: ${work})`);
  process.exit(1);
}
rmSync(work, { recursive: true, force: true });
log(`PASS: n8n ${String(installedVersion())} installed ${results.length} exported community packages and ran their nodes against the loopback APIs`);
