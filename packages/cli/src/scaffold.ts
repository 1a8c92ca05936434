import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { environmentError, usageError } from './cli-error.ts';
import { testFile } from './templates/tests.ts';
import type { TemplateDefinition, TemplateFiles, TemplateNames } from './templates/types.ts';

/** Connector names: lower case, start with a letter, letters/digits/hyphens, no trailing or double hyphen. */
export const NAME_PATTERN = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,49}$/;

/** Why a name is not a valid connector name, or undefined when it is. */
export function checkName(name: string): string | undefined {
  if (NAME_PATTERN.test(name)) return undefined;
  if (name.length === 0) return 'the name is empty';
  if (name.length > 50) return 'the name is longer than 50 characters';
  const suggestion = suggestName(name);
  const hint = suggestion ? ` (e.g. "${suggestion}")` : '';
  if (/[A-Z]/.test(name)) return `"${name}" has upper-case letters; use lower case${hint}`;
  if (!/^[a-z]/.test(name)) return `"${name}" must start with a letter a-z${hint}`;
  return `"${name}" may only contain a-z, 0-9 and single hyphens between them${hint}`;
}

/** The nearest valid name (`Bad_Name` → `bad-name`), or undefined when nothing sensible is left. */
export function suggestName(name: string): string | undefined {
  const s = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '').slice(0, 50).replace(/-+$/, '');
  return NAME_PATTERN.test(s) ? s : undefined;
}

/** `acme-crm` → `Acme Crm`. */
export function displayNameOf(name: string): string {
  return name.split('-').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ');
}

/** Every file of a new connector package for a template, keyed by relative path. */
export function scaffoldFiles(template: TemplateDefinition, name: string, cliVersion = '0.1.0'): TemplateFiles {
  const names: TemplateNames = { name, displayName: displayNameOf(name) };
  const packageJson = {
    name,
    version: '0.1.0',
    description: `${names.displayName} connector for BusinessOS`,
    type: 'module',
    private: true,
    license: 'UNLICENSED',
    engines: { node: '>=24' },
    bosConnector: { entry: 'src/index.ts', template: template.id },
    scripts: {
      test: 'bos-connector test',
      lint: 'bos-connector lint',
      validate: 'bos-connector validate',
      build: 'bos-connector build',
      docs: 'bos-connector docs',
      dev: 'bos-connector dev',
      package: 'bos-connector pack',
    },
    dependencies: { '@businessos/connector-sdk': `^${cliVersion}` },
    devDependencies: { '@businessos/connector-cli': `^${cliVersion}`, vitest: '^5.1.1' },
  };
  const readme = `# ${names.displayName} connector

${template.summary}.

## What it does

${template.readme(names)}

## Develop

No install is needed to try it: \`bos-connector\` brings the SDK and the test runner.

\`\`\`sh
bos-connector validate   # manifest and JSON Schemas
bos-connector lint       # security lint of src/
bos-connector test       # tests against the local simulator (fixtures/*.json)
bos-connector build      # dist/connector.js + dist/manifest.json
bos-connector pack       # ${name}-0.1.0.tgz with sha256
bos-connector run <action> --params '{...}'   # one action against the simulator
bos-connector dev        # mock API + OAuth provider on 127.0.0.1
\`\`\`

Layout: \`src/index.ts\` declares the connector; one file per action in \`src/actions/\` and per trigger in
\`src/triggers/\`; \`fixtures/*.json\` are the simulator's request matchers and canned responses.

Connector code never reads credentials: \`auth\` declares how the host authenticates requests, and all HTTP goes
through \`ctx.http\`. Point \`baseUrl\` at the real API before going live.
`;
  const tsconfig = {
    compilerOptions: {
      target: 'ES2023',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      allowImportingTsExtensions: true,
      verbatimModuleSyntax: true,
      skipLibCheck: true,
    },
    include: ['src'],
  };
  return {
    'package.json': `${JSON.stringify(packageJson, null, 2)}\n`,
    'README.md': readme,
    '.gitignore': 'node_modules/\ndist/\n*.tgz\n',
    'tsconfig.json': `${JSON.stringify(tsconfig, null, 2)}\n`,
    ...template.files(names),
    'src/index.test.ts': testFile(template.id, names),
  };
}

/** True when the folder does not exist or is empty. */
export function isEmptyOrMissing(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0;
}

/** Writes a scaffold into `dir`, refusing (exit 2) when `dir` exists and is not empty. Returns the written paths, sorted. */
export function writeScaffold(dir: string, files: TemplateFiles): string[] {
  if (!isEmptyOrMissing(dir)) {
    throw usageError(`${dir} already exists and is not empty; refusing to overwrite it`, 'Choose another name or --dir, or remove the folder first.');
  }
  const paths = Object.keys(files).sort();
  try {
    for (const rel of paths) {
      const target = join(dir, rel);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, files[rel] ?? '');
    }
  } catch (error) {
    throw environmentError(`could not write the scaffold into ${dir}: ${(error as Error).message}`, 'Check that the parent folder is writable.', error);
  }
  return paths;
}
