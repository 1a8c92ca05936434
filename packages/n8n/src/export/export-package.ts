import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConnectorError, InvalidInputError, type ConnectorManifest } from '@businessos/connector-sdk';
import { BUILD_SCRIPT, buildN8nPackage, bundleConnectorEntry } from './build.ts';
import { credentialSource, needsCredential } from './credentials.ts';
import { displayName, exportNames, type ExportNames } from './naming.ts';
import { actionNodeSource, pollingTriggerSource, webhookTriggerSource, type NodeSource } from './nodes.ts';
import { bundleSdkHost, SDK_HOST_SPECIFIER, SDK_HOST_TYPES, VENDORED_SDK_HOST_SPECIFIER } from './sdk-host.ts';

const RUNTIME_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', 'runtime', 'n8n-runtime.ts');

/** The ESLint config n8n's node-cli template ships; `n8n-node lint` in strict mode insists on this exact text. */
export const ESLINT_CONFIG = `import { config } from '@n8n/node-cli/eslint';\n\nexport default config;\n`;

/** The pinned version of n8n's node CLI the exported package lints with. */
export const N8N_NODE_CLI_VERSION = '0.48.3';

export interface ExportN8nOptions {
  /** The connector (its manifest drives the generated descriptions). */
  connector: { manifest: ConnectorManifest };
  /** The connector package folder; its entry is bundled when no `bundlePath` is given. */
  packageDir?: string;
  /** An ESM bundle of the connector (`bos-connector build` output) to vendor as is. */
  bundlePath?: string;
  /** Parent folder: the package is written to `<outDir>/<packageName>`. */
  outDir: string;
  /** Default `n8n-nodes-<connector name>`. */
  packageName?: string;
  /**
   * package.json author (n8n's linter requires a name and an email). Default: parsed from the manifest's
   * `author` when it reads `Name <email>`, else the manifest author with connectors@businessos.dev.
   */
  author?: { name: string; email: string };
}

export interface ExportN8nResult {
  /** Absolute path of the generated package. */
  dir: string;
  /** Every file written, relative to `dir`, sorted (sources and dist). */
  files: string[];
  packageName: string;
}

function readEntry(packageDir: string): string {
  const pkgPath = join(packageDir, 'package.json');
  let entry = 'src/index.ts';
  if (existsSync(pkgPath)) {
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { businessos?: { entry?: string } };
    if (typeof pkg.businessos?.entry === 'string') entry = pkg.businessos.entry;
  }
  const full = resolve(packageDir, entry);
  if (!existsSync(full)) throw new InvalidInputError(`The connector entry ${full} does not exist; set "businessos.entry" in ${pkgPath}`, '/packageDir');
  return full;
}

function initials(name: string): string {
  const words = displayName(name).split(' ').filter(Boolean);
  return (words.length > 1 ? words.slice(0, 2).map((w) => w.charAt(0)) : [name.slice(0, 2)]).join('').toUpperCase();
}

/** The connector's icon as an SVG file: a `data:image/svg+xml` icon decoded, otherwise a lettered badge. */
export function iconSvg(manifest: ConnectorManifest, dark = false): string {
  const icon = manifest.icon ?? '';
  const m = /^data:image\/svg\+xml(;base64)?,(.*)$/s.exec(icon);
  if (m?.[2]) {
    const text = m[1] ? Buffer.from(m[2], 'base64').toString('utf8') : decodeURIComponent(m[2]);
    if (text.includes('<svg')) return text.endsWith('\n') ? text : `${text}\n`;
  }
  const label = initials(manifest.name).replace(/[^A-Z0-9]/g, '');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><rect width="64" height="64" rx="14" fill="${dark ? '#D7DEE6' : '#3B4A5A'}"/><text x="32" y="41" font-family="Arial, sans-serif" font-size="24" font-weight="bold" fill="${dark ? '#1F2933' : '#FFFFFF'}" text-anchor="middle">${label}</text></svg>\n`;
}

function tsconfigText(): string {
  return `${JSON.stringify(
    {
      compilerOptions: {
        strict: true,
        module: 'commonjs',
        moduleResolution: 'node',
        target: 'es2019',
        lib: ['es2019', 'es2020', 'es2022.error'],
        removeComments: true,
        useUnknownInCatchVariables: false,
        forceConsistentCasingInFileNames: true,
        noImplicitAny: true,
        noImplicitReturns: true,
        noUnusedLocals: true,
        strictNullChecks: true,
        preserveConstEnums: true,
        esModuleInterop: true,
        resolveJsonModule: true,
        incremental: true,
        declaration: true,
        sourceMap: true,
        skipLibCheck: true,
        outDir: './dist/',
      },
      include: ['credentials/**/*', 'nodes/**/*', 'nodes/**/*.json', 'package.json'],
    },
    null,
    '\t',
  )}\n`;
}

function vendorTypes(names: ExportNames): string {
  return `// Types of the vendored connector bundle (connector.js, built from the BusinessOS connector's own code).
import type { BundledConnector } from '../nodes/${names.pascal}/shared/runtime';

declare const connector: BundledConnector;
export default connector;
`;
}

/** src/runtime/n8n-runtime.ts as the package's nodes/<Name>/shared/runtime.ts: importing the vendored SDK host helpers. */
function runtimeSource(): string {
  const text = readFileSync(RUNTIME_FILE, 'utf8');
  if (text.split(SDK_HOST_SPECIFIER).length !== 2) {
    throw new ConnectorError('INTERNAL', `${RUNTIME_FILE} must import the SDK host helpers exactly once (${SDK_HOST_SPECIFIER}) for the export to vendor them`);
  }
  return text.replace(SDK_HOST_SPECIFIER, VENDORED_SDK_HOST_SPECIFIER);
}

/** The package author: explicit, or `Name <email>` from the manifest, or the manifest author with the BusinessOS address. */
export function packageAuthor(manifest: ConnectorManifest, author?: { name: string; email: string }): { name: string; email: string } {
  if (author) return author;
  const m = /^\s*(.*?)\s*<([^>]+@[^>]+)>\s*$/.exec(manifest.author ?? '');
  if (m?.[1] && m[2]) return { name: m[1], email: m[2] };
  return { name: manifest.author ?? 'BusinessOS', email: 'connectors@businessos.dev' };
}

function packageJson(manifest: ConnectorManifest, names: ExportNames, nodes: NodeSource[], credential: boolean, author: { name: string; email: string }): string {
  const pkg = {
    name: names.packageName,
    version: manifest.version,
    description: manifest.description || `${manifest.displayName} nodes for n8n, generated from the BusinessOS connector`,
    license: 'MIT',
    homepage: manifest.homepage && /^https?:\/\//.test(manifest.homepage) ? manifest.homepage : `https://www.npmjs.com/package/${names.packageName}`,
    keywords: ['n8n-community-node-package', 'n8n', 'businessos', manifest.name],
    author,
    files: ['dist'],
    scripts: { build: 'node scripts/build.mjs', lint: 'n8n-node lint', 'lint:fix': 'n8n-node lint --fix' },
    n8n: {
      n8nNodesApiVersion: 1,
      strict: true,
      credentials: credential ? [`dist/credentials/${names.credentialClass}.credentials.js`] : [],
      nodes: nodes.map((n) => `dist/nodes/${names.pascal}/${n.className}.node.js`),
    },
    devDependencies: { '@n8n/node-cli': N8N_NODE_CLI_VERSION, esbuild: '^0.28.2', eslint: '9.32.0', typescript: '5.9.2' },
    peerDependencies: { 'n8n-workflow': '*' },
  };
  return `${JSON.stringify(pkg, null, '\t')}\n`;
}

function readme(manifest: ConnectorManifest, names: ExportNames, nodes: NodeSource[]): string {
  const lines: string[] = [];
  lines.push(`# ${names.packageName}`, '');
  lines.push(`n8n community nodes for **${manifest.displayName}**, generated by \`bos-connector export-n8n\` from the BusinessOS connector \`${manifest.name}@${manifest.version}\`.`);
  lines.push('The nodes run the connector\'s own code (vendored in `vendor/connector.js`, with the BusinessOS SDK\'s URL and form helpers in `vendor/sdk-host.js`); n8n\'s authenticated HTTP helpers carry its requests, so n8n applies the credential.', '');
  lines.push('## Install', '');
  lines.push('Self-hosted n8n: *Settings → Community Nodes → Install* with the package name once it is published, or from this folder:', '');
  lines.push('```sh', 'cd ~/.n8n/nodes && npm install /path/to/' + names.packageName, '```', '');
  lines.push('## Nodes', '');
  for (const n of nodes) lines.push(`- \`${n.className}\` (dist/nodes/${names.pascal}/${n.className}.node.js)`);
  lines.push('', '## Operations', '', '| Resource | Operation | Description |', '| --- | --- | --- |');
  for (const a of manifest.actions) lines.push(`| ${a.group ?? 'other'} | ${a.displayName} (\`${a.name}\`) | ${a.description.replace(/\|/g, '\\|')} |`);
  if (manifest.triggers.length > 0) {
    lines.push('', '## Triggers', '', '| Event | Kind | Description |', '| --- | --- | --- |');
    for (const t of manifest.triggers) lines.push(`| ${t.displayName} (\`${t.name}\`) | ${t.type} | ${t.description.replace(/\|/g, '\\|')} |`);
  }
  lines.push('', '## Credentials', '');
  lines.push(`\`${names.credentialName}\` (${manifest.auth.type}). Required parameters of an operation appear on the node; optional ones under *Additional Fields*.`);
  lines.push('Actions returning a list give one n8n item per element; an object gives one item; anything else is wrapped as `{ "value": ... }`.');
  lines.push('With *Continue On Fail* a failed item yields `{ error, code, path, upstreamStatus }` instead of stopping the workflow.', '');
  lines.push('## Develop', '', '```sh', 'npm install', 'npm run build   # esbuild → dist/ (CommonJS)', 'npm run lint    # n8n-node lint', '```', '');
  return lines.join('\n');
}

/**
 * Exports a connector as an installable n8n community-node package (`n8n-nodes-<name>`): package.json with the
 * `n8n` section, TypeScript sources for the action node, webhook/polling trigger nodes and the credential, the
 * vendored connector bundle, an SVG icon, README, the n8n ESLint config, and a built CommonJS `dist/`.
 * @example await exportN8nPackage({ connector, packageDir: 'connectors/stripe', outDir: 'out' })
 */
export async function exportN8nPackage(options: ExportN8nOptions): Promise<ExportN8nResult> {
  const manifest = options.connector?.manifest;
  if (!manifest || typeof manifest !== 'object' || !Array.isArray(manifest.actions)) {
    throw new InvalidInputError('exportN8nPackage needs { connector } with a manifest; load the connector with defineConnector or from its bundle', '/connector');
  }
  if (manifest.actions.length === 0) throw new InvalidInputError(`Connector ${manifest.name} has no actions; an n8n node needs at least one operation`, '/connector/manifest/actions');
  let bundle: string;
  if (options.bundlePath) {
    if (!existsSync(options.bundlePath)) throw new InvalidInputError(`Bundle ${options.bundlePath} does not exist; run bos-connector build first`, '/bundlePath');
    bundle = readFileSync(options.bundlePath, 'utf8');
  } else if (options.packageDir) {
    const dir = resolve(options.packageDir);
    bundle = await bundleConnectorEntry(readEntry(dir), dir);
  } else {
    throw new InvalidInputError('exportN8nPackage needs packageDir (the connector package) or bundlePath (its built bundle) to vendor the connector code', '/packageDir');
  }
  const names = exportNames(manifest, options.packageName);
  if (!/^n8n-nodes-[a-z0-9-]+$|^@[a-z0-9-]+\/n8n-nodes-[a-z0-9-]+$/.test(names.packageName)) {
    throw new InvalidInputError(`Package name ${names.packageName} must be n8n-nodes-<name> or @scope/n8n-nodes-<name> for n8n to accept it`, '/packageName');
  }
  const dir = resolve(options.outDir, names.packageName.replace(/^@[^/]+\//, ''));
  rmSync(dir, { recursive: true, force: true });
  const credential = needsCredential(manifest);
  const nodes = [actionNodeSource(manifest, names), webhookTriggerSource(manifest, names), pollingTriggerSource(manifest, names)].filter((n): n is NodeSource => n !== undefined);
  const files: Record<string, string> = {
    'package.json': packageJson(manifest, names, nodes, credential, packageAuthor(manifest, options.author)),
    'README.md': readme(manifest, names, nodes),
    'tsconfig.json': tsconfigText(),
    'eslint.config.mjs': ESLINT_CONFIG,
    '.gitignore': 'node_modules\n',
    'scripts/build.mjs': BUILD_SCRIPT,
    [`icons/${names.iconFile}.svg`]: iconSvg(manifest),
    [`icons/${names.iconFile}.dark.svg`]: iconSvg(manifest, true),
    'vendor/connector.js': bundle,
    'vendor/connector.d.ts': vendorTypes(names),
    'vendor/sdk-host.js': await bundleSdkHost(),
    'vendor/sdk-host.d.ts': SDK_HOST_TYPES,
    [`nodes/${names.pascal}/shared/runtime.ts`]: runtimeSource(),
  };
  if (credential) files[`credentials/${names.credentialClass}.credentials.ts`] = credentialSource(manifest, names);
  for (const n of nodes) files[`nodes/${names.pascal}/${n.className}.node.ts`] = n.source;
  for (const [rel, text] of Object.entries(files)) {
    const full = join(dir, rel);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, text);
  }
  let built: string[];
  try {
    built = await buildN8nPackage(dir);
  } catch (error) {
    if (error instanceof ConnectorError) throw error;
    throw new ConnectorError('INTERNAL', `Building ${names.packageName} failed: ${(error as Error).message}`);
  }
  return { dir, files: [...Object.keys(files), ...built].sort(), packageName: names.packageName };
}

