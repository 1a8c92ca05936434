// Proof that real n8n 2.x runs an exported package (not part of the default tests: n8n is large).
//   node packages/n8n/scripts/n8n-e2e.ts            (root script: npm run test:n8n)
// 1. installs n8n into ~/.cache/bos-n8n (once; BOS_N8N_VERSION overrides the version),
// 2. exports the Stripe connector as n8n-nodes-stripe and installs it, packed, as a community package into
//    <N8N_USER_FOLDER>/.n8n/nodes (a temporary user folder): n8n's community-packages module loads every package
//    under .n8n/nodes/node_modules at start-up, and puts its own modules on NODE_PATH for their `n8n-workflow`,
// 3. starts a loopback mock of the Stripe API, imports a credential (its Base URL pointing at the mock) and a
//    workflow "Manual Trigger → Stripe: create customer" with n8n's CLI,
// 4. runs `n8n execute --id <id> --rawOutput` and reads the created customer back from n8n's output,
// 5. checks the mock saw POST /v1/customers with the credential's bearer token and the form-encoded params.
// Exit code 0 on success, 1 on a failed check, 2 when n8n cannot be installed here (with the reason).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { ConnectorManifest } from '@businessos/connector-sdk';
import { exportN8nPackage } from '../src/index.ts';

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
function runAsync(cmd: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const outFile = join(options.cwd, 'stdout.txt');
  const errFile = join(options.cwd, 'stderr.txt');
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

ensureN8n();
log(`n8n ${String(installedVersion())} at ${N8N_BIN}`);

const work = mkdtempSync(join(tmpdir(), 'bos-n8n-e2e-'));
const userFolder = join(work, 'user');
const nodesDir = join(userFolder, '.n8n', 'nodes');
mkdirSync(nodesDir, { recursive: true });

// 1. Export the Stripe connector and install it as a community package (packed, like an npm release).
const stripe = ((await import(join(REPO, 'connectors', 'stripe', 'src', 'index.ts'))) as { default: { manifest: ConnectorManifest } }).default;
const exported = await exportN8nPackage({ connector: stripe, packageDir: join(REPO, 'connectors', 'stripe'), outDir: join(work, 'export') });
log(`exported ${exported.packageName} (${exported.files.length} files)`);
const pack = run('npm', ['pack', '--pack-destination', work], { cwd: exported.dir });
const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
if (pack.status !== 0 || !tarball) fail('npm pack of the exported package failed', pack.stderr);
writeFileSync(join(nodesDir, 'package.json'), '{ "name": "installed-nodes", "private": true }\n');
const install = run('npm', ['install', join(work, tarball), '--legacy-peer-deps', '--no-audit', '--no-fund'], { cwd: nodesDir, timeoutMs: 20 * 60_000 });
if (install.status !== 0) fail('installing the package into ~/.n8n/nodes failed', install.stderr);
log(`installed ${tarball} into ${nodesDir}`);

// 2. A loopback Stripe mock.
const seen: Array<{ method: string; url: string; auth: string | undefined; body: string }> = [];
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => { body += c.toString(); });
  req.on('end', () => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body });
    res.setHeader('content-type', 'application/json');
    if (req.headers.authorization !== 'Bearer sk_test_e2e') {
      res.statusCode = 401;
      res.end(JSON.stringify({ error: { message: 'Invalid API Key provided' } }));
      return;
    }
    const form = new URLSearchParams(body);
    res.end(JSON.stringify({ id: 'cus_E2E123', object: 'customer', created: 1700000000, email: form.get('email'), name: form.get('name'), livemode: false, metadata: {} }));
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const address = server.address();
const mockUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
log(`mock Stripe API on ${mockUrl}`);

// 3. Credential and workflow through n8n's CLI.
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
const credentialId = 'bosE2eStripeCred';
const workflowId = 'bosE2eWorkflow01';
writeFileSync(join(work, 'credentials.json'), JSON.stringify([{ id: credentialId, name: 'Stripe (BusinessOS) e2e', type: 'bosStripeApi', data: { token: 'sk_test_e2e', baseUrl: mockUrl } }]));
writeFileSync(
  join(work, 'workflow.json'),
  JSON.stringify({
    id: workflowId,
    name: 'BusinessOS export e2e',
    active: false,
    settings: {},
    connections: { 'Manual Trigger': { main: [[{ node: 'Stripe', type: 'main', index: 0 }]] } },
    nodes: [
      { id: 'a1b2c3d4-0000-4000-8000-000000000001', name: 'Manual Trigger', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
      {
        id: 'a1b2c3d4-0000-4000-8000-000000000002',
        name: 'Stripe',
        type: `${exported.packageName}.stripe`,
        typeVersion: 1,
        position: [240, 0],
        parameters: { resource: 'customer', operation: 'createCustomer', additionalFields: { email: 'jenny@example.com', name: 'Jenny Rosen', metadata: '{"crm_id":"4711"}' } },
        credentials: { bosStripeApi: { id: credentialId, name: 'Stripe (BusinessOS) e2e' } },
      },
    ],
  }),
);
const cli = (args: string[]) => run(process.execPath, [N8N_BIN, ...args], { env, cwd: work, timeoutMs: 10 * 60_000 });
for (const [what, args] of [
  ['credential', ['import:credentials', `--input=${join(work, 'credentials.json')}`]],
  ['workflow', ['import:workflow', `--input=${join(work, 'workflow.json')}`]],
] as const) {
  const r = cli([...args]);
  if (r.status !== 0) fail(`n8n ${args[0]} failed (exit ${String(r.status)})`, (r.stdout + r.stderr).trim().slice(-4000));
  log(`imported the ${what}`);
}

// 4. Execute and read the result back.
const exec = await runAsync(process.execPath, [N8N_BIN, 'execute', `--id=${workflowId}`, '--rawOutput'], { env, cwd: work, timeoutMs: 10 * 60_000 });
await new Promise((r) => server.close(r));
const output = exec.stdout;
if (exec.status !== 0) fail(`n8n execute failed (exit ${String(exec.status)})`, (exec.stdout + exec.stderr).trim().slice(-6000));
const start = output.indexOf('{');
let result: unknown;
try {
  result = JSON.parse(output.slice(start));
} catch {
  fail(`could not parse the JSON n8n printed (the mock saw ${JSON.stringify(seen)})`, (output + exec.stderr).slice(-4000));
}
const runData = (result as { data?: { resultData?: { runData?: Record<string, Array<{ data?: { main?: Array<Array<{ json: Record<string, unknown> }>> } }>> } } }).data?.resultData?.runData;
const item = runData?.Stripe?.[0]?.data?.main?.[0]?.[0]?.json;
log(`n8n returned from the Stripe node: ${JSON.stringify(item)}`);

// 5. Checks.
if (!item || item.id !== 'cus_E2E123' || item.email !== 'jenny@example.com') fail('the Stripe node did not output the created customer', output.slice(-4000));
const call = seen.find((s) => s.method === 'POST' && s.url === '/v1/customers');
if (!call) fail(`the mock API saw no POST /v1/customers (saw: ${JSON.stringify(seen)})`);
if (call.auth !== 'Bearer sk_test_e2e') fail(`the request carried ${String(call.auth)} instead of the credential's bearer token`);
const form = new URLSearchParams(call.body);
if (form.get('email') !== 'jenny@example.com' || form.get('metadata[crm_id]') !== '4711') fail(`unexpected form body ${call.body}`);
log(`mock API saw POST /v1/customers with Bearer auth and body ${call.body}`);
rmSync(work, { recursive: true, force: true });
log('PASS: n8n installed the exported community package and ran its node against the loopback API');
