import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as esbuild from 'esbuild';
import { ConnectorError } from '@businessos/connector-sdk';

/** Where the vendored connector bundle sits in the package, as node sources import it. */
export const VENDOR_IMPORT = '../../vendor/connector';

/**
 * The vendored ESM bundles (vendor/<name>.js): the connector, and the SDK's host helpers the runtime imports. Each
 * is built once to dist/vendor/<name>.js and required by the nodes.
 */
export const VENDOR_MODULES = ['connector', 'sdk-host'] as const;

function listFiles(dir: string, suffix: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full, suffix));
    else if (entry.name.endsWith(suffix)) out.push(full);
  }
  return out;
}

function failure(what: string, error: unknown): ConnectorError {
  const errors = (error as esbuild.BuildFailure).errors;
  const detail = Array.isArray(errors)
    ? errors.map((m) => `${m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1}: ` : ''}${m.text}`).join('\n')
    : (error as Error).message;
  return new ConnectorError('INTERNAL', `Building ${what} failed:\n${detail}`);
}

/**
 * Builds an exported package's `dist/` the way n8n loads it (CommonJS): the vendored bundles once each as
 * dist/vendor/<name>.js, each node and credential as its own file requiring them, `n8n-workflow` left to n8n,
 * and the icons copied. The same steps as the package's own `scripts/build.mjs`.
 */
export async function buildN8nPackage(dir: string): Promise<string[]> {
  const dist = join(dir, 'dist');
  rmSync(dist, { recursive: true, force: true });
  const common = { absWorkingDir: dir, bundle: true, format: 'cjs', platform: 'node', target: 'node20', logLevel: 'silent', charset: 'utf8', legalComments: 'none' } as const;
  for (const name of VENDOR_MODULES) {
    try {
      await esbuild.build({ ...common, entryPoints: [join(dir, 'vendor', `${name}.js`)], outfile: join(dist, 'vendor', `${name}.js`) });
    } catch (error) {
      throw failure(`the vendored bundle vendor/${name}.js`, error);
    }
  }
  const entries = [...listFiles(join(dir, 'nodes'), '.node.ts'), ...listFiles(join(dir, 'credentials'), '.credentials.ts')];
  try {
    await esbuild.build({
      ...common,
      entryPoints: entries,
      outbase: dir,
      outdir: dist,
      external: ['n8n-workflow'],
      plugins: [
        {
          name: 'vendored-connector',
          setup(build) {
            // Every node is written to dist/nodes/<Name>/, so from there the vendored bundles are ../../vendor/,
            // whichever source file (the node, or shared/runtime.ts one level deeper) imported them.
            build.onResolve({ filter: /\/vendor\/(connector|sdk-host)$/ }, (args) => ({ path: `../../vendor/${args.path.split('/').pop() ?? ''}.js`, external: true }));
          },
        },
      ],
    });
  } catch (error) {
    throw failure('the node and credential sources', error);
  }
  if (existsSync(join(dir, 'icons'))) cpSync(join(dir, 'icons'), join(dist, 'icons'), { recursive: true });
  mkdirSync(dist, { recursive: true });
  return listFiles(dist, '').map((f) => relative(dir, f)).sort();
}

/** Bundles a connector package's entry into one ESM module (what `bos-connector build` produces). */
export async function bundleConnectorEntry(entry: string, workingDir: string): Promise<string> {
  try {
    const result = await esbuild.build({
      entryPoints: [entry],
      absWorkingDir: workingDir,
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'es2023',
      mainFields: ['module', 'main'],
      conditions: ['import', 'default'],
      charset: 'utf8',
      legalComments: 'none',
      logLevel: 'silent',
      outfile: join(workingDir, 'dist', 'connector.js'),
    });
    const file = result.outputFiles[0];
    if (!file) throw new ConnectorError('INTERNAL', `esbuild produced no output for ${entry}`);
    return file.text;
  } catch (error) {
    if (error instanceof ConnectorError) throw error;
    throw failure(`the connector at ${entry}`, error);
  }
}

/** The package's own rebuild script (same steps as {@link buildN8nPackage}), for `npm run build` in the exported package. */
export const BUILD_SCRIPT = `// Rebuilds dist/ from the TypeScript sources and the vendored bundles (CommonJS, as n8n loads it).
import { build } from 'esbuild';
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const list = (dir, suffix) =>
	existsSync(dir)
		? readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
				e.isDirectory() ? list(join(dir, e.name), suffix) : e.name.endsWith(suffix) ? [join(dir, e.name)] : [],
			)
		: [];
const common = { bundle: true, format: 'cjs', platform: 'node', target: 'node20', charset: 'utf8', legalComments: 'none' };

rmSync('dist', { recursive: true, force: true });
for (const name of ['connector', 'sdk-host']) {
	await build({ ...common, entryPoints: [\`vendor/\${name}.js\`], outfile: \`dist/vendor/\${name}.js\` });
}
await build({
	...common,
	entryPoints: [...list('nodes', '.node.ts'), ...list('credentials', '.credentials.ts')],
	outbase: '.',
	outdir: 'dist',
	external: ['n8n-workflow'],
	plugins: [
		{
			name: 'vendored-connector',
			setup(b) {
				// dist/nodes/<Name>/*.node.js reach the vendored bundles at ../../vendor/, whichever file imported them.
				b.onResolve({ filter: /\\/vendor\\/(connector|sdk-host)$/ }, (args) => ({ path: '../../vendor/' + args.path.split('/').pop() + '.js', external: true }));
			},
		},
	],
});
cpSync('icons', 'dist/icons', { recursive: true });
`;
