import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import type { ConnectorManifest } from '@businessos/connector-sdk';
import { CliError, environmentError } from './cli-error.ts';
import { EXIT } from './exit-codes.ts';
import type { PackageInfo } from './package-info.ts';
import { PROVIDED_SPECIFIERS, resolveProvided } from './sdk-resolution.ts';

const BUILTIN_NAMES = [...new Set(builtinModules.map((m) => m.replace(/^node:/, '').split('/')[0] ?? m))];
const BUILTIN_FILTER = new RegExp(`^(node:.*|(${BUILTIN_NAMES.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(/.*)?)$`);
const PROVIDED_FILTER = new RegExp(`^(${PROVIDED_SPECIFIERS.map((s) => s.replace(/[/.]/g, '\\$&')).join('|')})$`);

const SDK_NAMESPACE = 'bos-sdk';
const SDK_NAME = '@businessos/connector-sdk';

/** The folder holding the package.json of the package a file belongs to. */
function packageRootOf(file: string): string {
  let dir = dirname(file);
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return dirname(file);
    dir = up;
  }
  return dir;
}

const LOADERS: Record<string, esbuild.Loader> = { '.ts': 'ts', '.mts': 'ts', '.cts': 'ts', '.js': 'js', '.mjs': 'js', '.cjs': 'js', '.json': 'json' };

/**
 * An esbuild plugin mapping the SDK entries to the package's own copy or the CLI's (see {@link resolveProvided}).
 * SDK files get virtual paths (`@businessos/connector-sdk/src/http.ts`), so the bundle does not depend on where
 * the SDK is installed: the same connector builds to the same bytes in any folder, on any machine.
 */
export function providedModulesPlugin(dir: string): esbuild.Plugin {
  const provided = resolveProvided(dir);
  const sdkEntry = provided.get(SDK_NAME);
  const sdkRoot = sdkEntry ? packageRootOf(realpathSync(sdkEntry.path)) : undefined;
  const virtual = (real: string) => (sdkRoot && !relative(sdkRoot, real).startsWith('..') ? `${SDK_NAME}/${relative(sdkRoot, real).split(sep).join('/')}` : undefined);
  const realOf = (path: string) => join(sdkRoot ?? '', path.slice(SDK_NAME.length + 1));
  return {
    name: 'bos-provided-modules',
    setup(build) {
      build.onResolve({ filter: PROVIDED_FILTER }, (args) => {
        const hit = provided.get(args.path as (typeof PROVIDED_SPECIFIERS)[number]);
        if (!hit) return undefined;
        const real = realpathSync(hit.path);
        const path = virtual(real);
        return path ? { path, namespace: SDK_NAMESPACE } : { path: real };
      });
      build.onResolve({ filter: /^\.\.?\//, namespace: SDK_NAMESPACE }, (args) => {
        const real = resolve(dirname(realOf(args.importer)), args.path);
        const path = virtual(real);
        return path ? { path, namespace: SDK_NAMESPACE } : { path: real };
      });
      build.onLoad({ filter: /.*/, namespace: SDK_NAMESPACE }, (args) => {
        const real = realOf(args.path);
        return { contents: readFileSync(real, 'utf8'), loader: LOADERS[extname(real)] ?? 'js', resolveDir: dirname(real) };
      });
    },
  };
}

/** An esbuild plugin that rejects every Node built-in, naming the import and where it is. */
export function noBuiltinsPlugin(): esbuild.Plugin {
  return {
    name: 'bos-no-node-builtins',
    setup(build) {
      build.onResolve({ filter: BUILTIN_FILTER }, (args) => ({
        errors: [
          {
            text: `"${args.path}" is a Node built-in; connector bundles run in the sandbox without Node APIs`,
            notes: [{ text: 'Reach the network through ctx.http / this.api, keep state in ctx.store, and drop the import. `bos-connector lint` lists every such use.' }],
          },
        ],
      }));
    },
  };
}

export interface BundleOptions {
  /** `neutral` for the runtime bundle (no Node built-ins), `node` to load the connector locally. */
  platform: 'neutral' | 'node';
  /** Minify the output; off by default so reviewers can read bundles. */
  minify?: boolean;
}

function formatMessages(dir: string, messages: esbuild.Message[]): string {
  return messages
    .map((m) => {
      const where = m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : '';
      const notes = m.notes.map((n) => `\n    ${n.text}`).join('');
      return `  ${where}${m.text}${notes}`;
    })
    .join('\n')
    .replaceAll(`${dir}/`, '');
}

/**
 * Bundles a connector package into one ESM module (in memory). Deterministic: the same sources and
 * the same SDK copy give byte-identical output. Throws a {@link CliError} (exit 1) listing every error with file:line.
 */
export async function bundleConnector(info: PackageInfo, options: BundleOptions): Promise<string> {
  const plugins = [providedModulesPlugin(info.dir)];
  if (options.platform === 'neutral') plugins.push(noBuiltinsPlugin());
  let result: esbuild.BuildResult<{ write: false }>;
  try {
    result = await esbuild.build({
      entryPoints: [info.entry],
      absWorkingDir: info.dir,
      bundle: true,
      write: false,
      format: 'esm',
      platform: options.platform,
      target: 'es2023',
      mainFields: ['module', 'main'],
      conditions: ['import', 'default'],
      charset: 'utf8',
      legalComments: 'none',
      minify: options.minify ?? false,
      sourcemap: false,
      logLevel: 'silent',
      outfile: join(info.dir, 'dist', 'connector.js'),
      plugins,
    });
  } catch (error) {
    const failure = error as esbuild.BuildFailure;
    if (Array.isArray(failure.errors)) {
      throw new CliError(`the connector at ${relative(process.cwd(), info.entry) || info.entry} did not bundle:\n${formatMessages(info.dir, failure.errors)}`, {
        exitCode: EXIT.FINDINGS,
        hint: 'Fix the errors above (file:line:column) and run the command again.',
      });
    }
    throw environmentError(`esbuild failed: ${(error as Error).message}`, 'Check that esbuild is installed with the CLI (npm ci).', error);
  }
  const file = result.outputFiles[0];
  if (!file) throw environmentError('esbuild produced no output', 'Report this as a bug in bos-connector.');
  return file.text;
}

/** The connector object a bundle's default export holds, with just what the CLI calls. */
export interface LoadedConnector {
  manifest: ConnectorManifest;
  executeAction(action: string, params: unknown, env: unknown): Promise<unknown>;
  executeTrigger?(trigger: string, operation: string, input: unknown, env: unknown): Promise<unknown>;
  authenticate?(env: unknown): Promise<unknown>;
}

/** Imports an ESM bundle from a temporary file and returns its default export, checked to be a connector. */
export async function importBundle(code: string, label: string): Promise<LoadedConnector> {
  const tmp = mkdtempSync(join(tmpdir(), 'bos-connector-'));
  const file = join(tmp, 'connector.mjs');
  try {
    writeFileSync(file, code);
    let mod: { default?: unknown };
    try {
      mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
    } catch (error) {
      throw new CliError(`loading ${label} threw: ${(error as Error).message}`, {
        exitCode: EXIT.FINDINGS,
        hint: 'The module must not do work at import time beyond declaring the connector; fix the error and retry.',
        cause: error,
      });
    }
    const value = mod.default as Partial<LoadedConnector> | undefined;
    if (!value || typeof value !== 'object' || typeof value.executeAction !== 'function') {
      throw new CliError(`${label} has no connector as its default export`, {
        exitCode: EXIT.FINDINGS,
        hint: 'End the entry module with `export default defineConnector({...})` or `export default new MyConnector()`.',
      });
    }
    let manifest: unknown;
    try {
      manifest = value.manifest;
    } catch (error) {
      throw new CliError(`building the manifest of ${label} threw: ${(error as Error).message}`, { exitCode: EXIT.FINDINGS, hint: 'Check the connector definition.', cause: error });
    }
    if (!manifest || typeof manifest !== 'object') {
      throw new CliError(`${label}: connector.manifest is not an object`, { exitCode: EXIT.FINDINGS, hint: 'Build connectors with defineConnector or by extending Connector.' });
    }
    return value as LoadedConnector;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Bundles (for Node) and imports a package's connector: the developer's own code, on their own machine. */
export async function loadConnector(info: PackageInfo): Promise<LoadedConnector> {
  const code = await bundleConnector(info, { platform: 'node' });
  return importBundle(code, relative(process.cwd(), info.entry) || info.entry);
}
