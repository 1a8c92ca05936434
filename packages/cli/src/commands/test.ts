import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { environmentError } from '../cli-error.ts';
import { defineCommand } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { readPackage } from '../package-info.ts';
import { resolveProvided } from '../sdk-resolution.ts';
import type { startVitest as StartVitestFn } from 'vitest/node';

type StartVitest = typeof StartVitestFn;

const CONFIG_FILES = ['vitest.config.ts', 'vitest.config.mts', 'vitest.config.js', 'vitest.config.mjs'];

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * `bos-connector test [dir]`: runs the package's Vitest tests in-process. The SDK entries and `vitest` resolve to
 * the package's own copies when installed, else to the CLI's, so a fresh scaffold tests without `npm install`.
 */
export const testCommand = defineCommand({
  name: 'test',
  summary: "Run the package's tests (Vitest) against the local simulator; works before npm install",
  configure(cmd) {
    cmd.argument('[dir]', 'connector package folder', '.').argument('[filters...]', 'only test files whose path contains one of these');
  },
  async run({ args }, ctx) {
    const info = readPackage(args[0], ctx.cwd);
    const filters = args.slice(1);
    let startVitest: StartVitest;
    try {
      ({ startVitest } = await import('vitest/node'));
    } catch (error) {
      throw environmentError(`could not load Vitest: ${(error as Error).message}`, 'Reinstall the CLI (npm ci) so its vitest dependency is present.', error);
    }
    const alias = [...resolveProvided(info.dir).values()].map((r) => ({ find: new RegExp(`^${escapeRe(r.specifier)}$`), replacement: r.path }));
    const configFile = CONFIG_FILES.map((f) => join(info.dir, f)).find((f) => existsSync(f));
    ctx.output.err(`running tests in ${info.dir}${configFile ? ` (config ${configFile})` : ''}`);
    const vitest = await startVitest(
      filters,
      {
        root: info.dir,
        dir: info.dir,
        run: true,
        watch: false,
        config: configFile ?? false,
        passWithNoTests: false,
        fsModuleCachePath: join(tmpdir(), 'bos-connector-vitest-cache'),
      },
      {
        resolve: { alias },
        // Keep Vite's cache out of the package: a scaffold has no node_modules and should not grow one.
        cacheDir: join(tmpdir(), 'bos-connector-vite-cache'),
        server: { fs: { strict: false } },
      },
    );
    const modules = vitest.state.getTestModules();
    const failed = modules.filter((m) => !m.ok()).length;
    const unhandled = vitest.state.getUnhandledErrors().length;
    await vitest.close();
    if (modules.length === 0) {
      ctx.output.err('no test files found (looked for **/*.test.ts and **/*.spec.ts); add tests beside the code');
      return EXIT.FINDINGS;
    }
    if (failed > 0 || unhandled > 0) {
      ctx.output.err(`${failed} of ${modules.length} test file(s) failed${unhandled ? `, ${unhandled} unhandled error(s)` : ''}; see the report above`);
      return EXIT.FINDINGS;
    }
    ctx.output.err(`ok: ${modules.length} test file(s) passed`);
    return EXIT.OK;
  },
});
