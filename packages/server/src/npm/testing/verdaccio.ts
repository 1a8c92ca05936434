// A real npm registry for tests: Verdaccio in a child process, on a random loopback port, with its own storage,
// config and htpasswd user in a temp folder, removed on stop().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A running test registry. */
export interface TestRegistry {
  /** Registry URL with a trailing slash. */
  url: string;
  /** Auth token of the registry's user, allowed to publish and read. */
  token: string;
  /** Verdaccio's storage folder (tests tamper with tarballs there). */
  storage: string;
  stop(): Promise<void>;
}

/** Why Verdaccio cannot run here, or undefined when it can. */
export function verdaccioUnavailable(): string | undefined {
  try {
    createRequire(import.meta.url).resolve('verdaccio');
    return undefined;
  } catch {
    return 'the verdaccio devDependency is not installed (npm install in the repository root)';
  }
}

function waitForPort(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`Verdaccio did not start within ${timeoutMs} ms: ${err.slice(-2000)}`)), timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const match = /\{"port":(\d+)\}/.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Verdaccio exited with ${code} before listening: ${err.slice(-2000)}`));
    });
  });
}

/**
 * Starts Verdaccio with a fresh storage and registers one user (`bos`) through the registry's own adduser
 * endpoint, which writes the htpasswd file and answers the token `npm login` would get.
 */
export async function startVerdaccio(): Promise<TestRegistry> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bos-verdaccio-'));
  const storage = path.join(dir, 'storage');
  const config = path.join(dir, 'config.yaml');
  await writeFile(
    config,
    [
      `storage: ${JSON.stringify(storage)}`,
      'auth:',
      '  htpasswd:',
      `    file: ${JSON.stringify(path.join(dir, 'htpasswd'))}`,
      '    max_users: 1',
      'uplinks: {}',
      'packages:',
      "  '**':",
      '    access: $authenticated',
      '    publish: $authenticated',
      '    unpublish: $authenticated',
      'max_body_size: 20mb',
      'log: { type: stdout, format: json, level: error }',
      '',
    ].join('\n'),
  );
  const launcher = path.join(path.dirname(new URL(import.meta.url).pathname), 'verdaccio-launcher.ts');
  const child = spawn(process.execPath, [launcher, config], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test' } });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await waitForPort(child, 30_000);
    const url = `http://127.0.0.1:${port}/`;
    const res = await fetch(`${url}-/user/org.couchdb.user:bos`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'bos', password: 'bos-test-password-1', type: 'user', roles: [] }),
    });
    const body = (await res.json()) as { token?: string; error?: string };
    if (!res.ok || !body.token) throw new Error(`Verdaccio refused the test user: ${res.status} ${body.error ?? ''}`);
    return { url, token: body.token, storage, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
