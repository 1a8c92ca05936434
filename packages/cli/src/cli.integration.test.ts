// End to end through `main()` in temporary folders: init → validate → test → lint → build → pack, plus the
// failures a reviewer relies on (eval / child_process with file:line, a broken schema with its JSON path).
import { execFile } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { list } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from './exit-codes.ts';
import { main } from './main.ts';
import { createBufferOutput } from './output.ts';

const BIN = fileURLToPath(new URL('../bin/bos-connector.js', import.meta.url));

async function cli(cwd: string, ...argv: string[]) {
  const output = createBufferOutput();
  const code = await main(argv, { output, cwd, env: {}, interactive: false, waitForInterrupt: () => Promise.resolve() });
  return { code, stdout: output.stdout.join(''), stderr: output.stderr.join('') };
}

describe('bos-connector end to end', () => {
  let root: string;
  let pkg: string;
  let source: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'bos-cli-e2e-'));
    pkg = join(root, 'acme');
    const init = await cli(root, 'init', 'acme', '--template=crm');
    expect(init.code, init.stderr).toBe(EXIT.OK);
    source = readFileSync(join(pkg, 'src', 'index.ts'), 'utf8');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('init refuses to overwrite a non-empty folder and rejects bad names and missing templates', async () => {
    expect((await cli(root, 'init', 'acme', '--template=crm')).code).toBe(EXIT.USAGE);
    const bad = await cli(root, 'init', 'Acme', '--template=crm');
    expect(bad.code).toBe(EXIT.USAGE);
    expect(bad.stderr).toMatch(/upper-case/);
    const noTemplate = await cli(root, 'init', 'other');
    expect(noTemplate.code).toBe(EXIT.USAGE);
    expect(noTemplate.stderr).toMatch(/missing --template/);
    expect(existsSync(join(root, 'other'))).toBe(false);
  });

  it('validate passes on the scaffold and prints JSON with --json', async () => {
    const r = await cli(pkg, 'validate', '--json');
    expect(r.code, r.stderr).toBe(EXIT.OK);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, name: 'acme', issues: [] });
  });

  it("the scaffold's own tests pass without npm install", async () => {
    const run = promisify(execFile);
    const { stderr } = await run(process.execPath, [BIN, 'test'], { cwd: pkg, timeout: 120_000 });
    expect(stderr).toMatch(/ok: 1 test file\(s\) passed/);
    expect(existsSync(join(pkg, 'node_modules'))).toBe(false);
  }, 150_000);

  it('lint passes the scaffold, then reports eval and child_process with file:line:col', async () => {
    expect((await cli(pkg, 'lint')).code).toBe(EXIT.OK);
    const entry = join(pkg, 'src', 'index.ts');
    appendFileSync(entry, 'export const evil = (s: string) => eval(s);\n');
    const evalRun = await cli(pkg, 'lint');
    expect(evalRun.code).toBe(EXIT.FINDINGS);
    expect(evalRun.stdout).toMatch(/^src\/index\.ts:\d+:\d+ {2}bos\/no-eval {2}/m);
    writeFileSync(entry, `${source}import { execSync } from 'node:child_process';\nexport const run = () => execSync('id');\n`);
    const cp = await cli(pkg, 'lint', '--json');
    expect(cp.code).toBe(EXIT.FINDINGS);
    const report = JSON.parse(cp.stdout) as { findings: { file: string; line: number; ruleId: string }[] };
    expect(report.findings).toContainEqual(expect.objectContaining({ file: 'src/index.ts', ruleId: 'bos/no-node-builtins', line: source.split('\n').length }));
    const build = await cli(pkg, 'build');
    expect(build.code).toBe(EXIT.FINDINGS);
    expect(build.stderr).toMatch(/src\/index\.ts:\d+:\d+: "node:child_process" is a Node built-in/);
    writeFileSync(entry, source);
  });

  it('build is deterministic and pack is reproducible', async () => {
    const first = await cli(pkg, 'build', '--json');
    expect(first.code, first.stderr).toBe(EXIT.OK);
    const a = JSON.parse(first.stdout) as { sha256: string; bundle: string };
    const bundle = readFileSync(a.bundle, 'utf8');
    expect(bundle).not.toMatch(/from\s*["']node:/);
    const manifest = JSON.parse(readFileSync(join(pkg, 'dist', 'manifest.json'), 'utf8')) as { name: string; actions: unknown[] };
    expect(manifest).toMatchObject({ name: 'acme', manifestVersion: 1 });
    const again = JSON.parse((await cli(pkg, 'build', '--json')).stdout) as { sha256: string };
    expect(again.sha256).toBe(a.sha256);
    // The same sources in another folder (another depth) build to the same bytes.
    const elsewhere = join(root, 'elsewhere', 'deeper', 'acme');
    cpSync(pkg, elsewhere, { recursive: true, filter: (src) => !src.includes(`${pkg}/dist`) });
    const moved = JSON.parse((await cli(elsewhere, 'build', '--json')).stdout) as { sha256: string };
    expect(moved.sha256).toBe(a.sha256);

    const p1 = await cli(pkg, 'pack', '--json');
    expect(p1.code, p1.stderr).toBe(EXIT.OK);
    const packed = JSON.parse(p1.stdout) as { tarball: string; sha256: string; bundleSha256: string };
    expect(packed.tarball).toBe(join(pkg, 'acme-0.1.0.tgz'));
    expect(packed.bundleSha256).toBe(a.sha256);
    const p2 = JSON.parse((await cli(pkg, 'pack', '--json')).stdout) as { sha256: string };
    expect(p2.sha256).toBe(packed.sha256);

    const entries: string[] = [];
    await list({ file: packed.tarball, onReadEntry: (e) => void entries.push(e.path) });
    expect(entries).toEqual(['package/README.md', 'package/checksums.json', 'package/connector.js', 'package/docs/README.md', 'package/manifest.json', 'package/package.json']);
  });

  it('run executes an action against the simulator and reports typed errors', async () => {
    const ok = await cli(pkg, 'run', 'getContact', '--params', '{"id":"c_7"}');
    expect(ok.code, ok.stderr).toBe(EXIT.OK);
    expect(JSON.parse(ok.stdout)).toMatchObject({ id: 'c_7' });
    const missing = await cli(pkg, 'run', 'getContact', '--params', '{"id":"missing"}');
    expect(missing.code).toBe(EXIT.FINDINGS);
    expect(JSON.parse(missing.stdout)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    const invalid = await cli(pkg, 'run', 'createContact', '--params', '{"email":"nope"}');
    expect(JSON.parse(invalid.stdout)).toMatchObject({ error: { code: 'INVALID_INPUT' } });
    expect((await cli(pkg, 'run', 'noSuchAction')).code).toBe(EXIT.USAGE);
  });

  it('validate reports a broken params schema with its JSON path', async () => {
    const broken = join(root, 'broken');
    mkdirSync(join(broken, 'src'), { recursive: true });
    writeFileSync(join(broken, 'package.json'), '{ "name": "broken", "version": "0.1.0", "type": "module" }\n');
    writeFileSync(
      join(broken, 'src', 'index.ts'),
      `import { defineConnector } from '@businessos/connector-sdk';
export default defineConnector({
  name: 'broken',
  version: '0.1.0',
  baseUrl: 'https://api.example.com',
  actions: [{ name: 'createUser', description: 'Create a user', params: { email: { type: 'strng' } }, execute: async () => ({}) }],
});
`,
    );
    const r = await cli(broken, 'validate');
    expect(r.code).toBe(EXIT.FINDINGS);
    expect(r.stdout).toMatch(/^\/actions\/0\/params\/properties\/email\/type: /m);
  });

  it('docs writes Markdown from the manifest', async () => {
    const r = await cli(pkg, 'docs', '--out', '-');
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(/createContact/);
  });

  it('export-n8n writes an n8n community-node package; import-n8n and publish refuse bad input with usage errors', async () => {
    const out = join(root, 'n8n-out');
    const r = await cli(pkg, 'export-n8n', '--out', out);
    expect(r.code, r.stderr).toBe(EXIT.OK);
    expect(r.stdout).toMatch(/n8n-nodes-/);
    const exported = JSON.parse(readFileSync(join(out, readdirSync(out)[0]!, 'package.json'), 'utf8')) as { keywords: string[]; n8n: { nodes: string[] } };
    expect(exported.keywords).toContain('n8n-community-node-package');
    expect(exported.n8n.nodes.length).toBeGreaterThan(0);
    const missing = await cli(pkg, 'import-n8n', join(root, 'no-such-node.json'));
    expect(missing.code).toBe(EXIT.USAGE);
    const publish = await cli(pkg, 'publish', '--server', 'http://127.0.0.1:9');
    expect(publish.code).toBe(EXIT.USAGE);
    expect(publish.stderr).toMatch(/key/i);
  }, 120_000);

  it('usage errors exit 2 and help exits 0', async () => {
    expect((await cli(root, 'frobnicate')).code).toBe(EXIT.USAGE);
    expect((await cli(root, 'lint', '--nope')).code).toBe(EXIT.USAGE);
    const help = await cli(root, '--help');
    expect(help.code).toBe(EXIT.OK);
    expect(help.stdout).toMatch(/Exit codes:/);
    expect((await cli(root, 'validate', join(root, 'does-not-exist'))).code).toBe(EXIT.ENVIRONMENT);
  });
});

describe('bos-connector as a process', () => {
  it('exits quietly with its own code when the reader of its output goes away (`bos-connector --help | true`)', async () => {
    const errPath = join(tmpdir(), `bos-cli-epipe-${process.pid}.txt`);
    // The reader (`true`) has exited before the CLI starts writing, so its first write meets a closed pipe (EPIPE).
    const { stdout } = await promisify(execFile)('bash', ['-c', '{ sleep 0.3; exec "$NODE" "$BIN" --help; } 2>"$ERR" | true; echo "status=${PIPESTATUS[0]}"'], {
      env: { ...process.env, NODE: process.execPath, BIN, ERR: errPath },
    });
    const stderr = readFileSync(errPath, 'utf8');
    rmSync(errPath, { force: true });
    expect(stderr).toBe('');
    expect(stdout.trim()).toBe('status=0');
  });
});
