// `bos-connector publish` against the real connectors service listening on a loopback port.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../../../server/src/test-app.ts';
import { scaffoldConnector } from '../../../server/src/publishing/test-support.ts';
import { CommanderError } from 'commander';
import { EXIT } from '../exit-codes.ts';
import { createProgram, reportError } from '../main.ts';
import { createBufferOutput } from '../output.ts';
import { COMMANDS } from './index.ts';
import { publishCommand } from './publish.ts';

// Runs the CLI like main() does, with this publish command in the command list (whether or not index.ts has it yet).
async function cli(cwd: string, env: Record<string, string>, ...argv: string[]) {
  const output = createBufferOutput();
  const commands = COMMANDS.map((c) => (c.name === 'publish' ? publishCommand : c));
  let code: number = EXIT.OK;
  const program = createProgram({ output, cwd, env, interactive: false, waitForInterrupt: () => Promise.resolve() }, commands, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    code = error instanceof CommanderError ? EXIT.USAGE : reportError(output, error);
  }
  return { code, stdout: output.stdout.join(''), stderr: output.stderr.join('') };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('bos-connector publish (service on loopback)', () => {
  let t: TestApp;
  let url: string;
  let publisher: { key: string };
  let dir: string;

  beforeAll(async () => {
    t = await createTestApp();
    url = await t.app.listen({ port: 0, host: '127.0.0.1' });
    publisher = await t.createTenant('cli-publisher');
    dir = await scaffoldConnector('cliitems');
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('packs, uploads, prints the submission id, the checks and what happens next', async () => {
    const r = await cli(dir, { BOS_API_KEY: publisher.key }, 'publish', '--server', url);
    expect(r.code, r.stderr).toBe(EXIT.OK);
    const id = /submission ([0-9a-f-]{36}) {2}cliitems@0\.1\.0 {2}pending \(public\)/.exec(r.stdout)?.[1];
    expect(id, r.stdout).toBeDefined();
    expect(r.stderr).toMatch(/ok +Dry load in the sandbox/);
    expect(r.stderr).toMatch(/hosts: https:\/\/api\.cliitems\.example\.com\/v2/);
    expect(r.stderr).toMatch(/next: a reviewer checks the submission/);
    const queue = await t.as(t.adminKey, { method: 'GET', url: '/marketplace/submissions?status=pending' });
    expect(queue.json().items.map((s: { id: string }) => s.id)).toContain(id);
  }, 60_000);

  it('a duplicate version exits 2 with the server message', async () => {
    const r = await cli(dir, {}, 'publish', '--server', url, '--key', publisher.key);
    expect(r.code).toBe(EXIT.USAGE);
    expect(r.stderr).toMatch(/HTTP 409 CONFLICT.*cliitems@0\.1\.0 already exists \(pending\)/);
    expect(r.stderr).toMatch(/next: Bump `version`/);
  }, 60_000);

  it('a missing or invalid key exits 2; an unreachable server exits 3', async () => {
    expect((await cli(dir, {}, 'publish', '--server', url)).code).toBe(EXIT.USAGE);
    const bad = await cli(dir, {}, 'publish', '--server', url, '--key', 'bos_not-a-real-key');
    expect(bad.code).toBe(EXIT.USAGE);
    expect(bad.stderr).toMatch(/HTTP 401 AUTH_FAILED.*not valid/);
    const down = await cli(dir, {}, 'publish', '--server', `http://127.0.0.1:${await closedPort()}`, '--key', publisher.key);
    expect(down.code).toBe(EXIT.ENVIRONMENT);
    expect(down.stderr).toMatch(/cannot reach the connectors service at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  }, 60_000);

  it('--private publishes for the tenant only, as JSON with --json', async () => {
    const other = await t.createTenant('cli-other');
    const r = await cli(dir, {}, 'publish', '--server', url, '--key', other.key, '--private', '--json');
    expect(r.code, r.stderr).toBe(EXIT.OK);
    expect(JSON.parse(r.stdout)).toMatchObject({ connector: { name: 'cliitems', visibility: 'private' }, status: 'pending' });
  }, 60_000);
});
