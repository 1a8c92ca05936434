import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { InvalidInputError } from '@businessos/connector-sdk';

/** What `importN8nNode` takes, read from a file or an installed n8n node package. */
export interface N8nSource {
  nodeDescription: unknown;
  credentialTypes: unknown[];
}

/**
 * Reads the input of `bos-connector import-n8n <path>`: a JSON file (a node description, or `{ node, credentials }`),
 * or an n8n community-node package folder whose `package.json` lists built nodes and credentials (they are
 * required, so the package's dependencies, n8n-workflow included, must be installed). With several nodes in the
 * package, `nodeName` picks one (default the first that is not a trigger).
 */
export function loadN8nSource(path: string, nodeName?: string): N8nSource {
  const full = resolve(path);
  if (!existsSync(full)) throw new InvalidInputError(`${full} does not exist; pass a node description .json file or an n8n node package folder`, '/path');
  if (statSync(full).isFile()) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(full, 'utf8'));
    } catch (error) {
      throw new InvalidInputError(`${full} is not valid JSON: ${(error as Error).message}`, '/path');
    }
    return { nodeDescription: parsed, credentialTypes: [] };
  }
  const pkgPath = join(full, 'package.json');
  if (!existsSync(pkgPath)) throw new InvalidInputError(`${full} has no package.json; pass a node description .json file or an n8n node package folder`, '/path');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { n8n?: { nodes?: string[]; credentials?: string[] } };
  const nodes = pkg.n8n?.nodes ?? [];
  if (nodes.length === 0) throw new InvalidInputError(`${pkgPath} lists no nodes in its "n8n" section`, '/n8n/nodes');
  const require = createRequire(pkgPath);
  const instantiate = (file: string): Record<string, unknown> => {
    const className = (file.split('/').pop() ?? '').replace(/\.(node|credentials)\.js$/, '');
    let mod: Record<string, unknown>;
    try {
      mod = require(join(full, file)) as Record<string, unknown>;
    } catch (error) {
      throw new InvalidInputError(`Loading ${file} failed: ${(error as Error).message}; build the package and install its dependencies (n8n-workflow) first`, '/n8n');
    }
    const Cls = mod[className];
    if (typeof Cls !== 'function') throw new InvalidInputError(`${file} does not export a class named ${className}`, '/n8n');
    return new (Cls as new () => Record<string, unknown>)();
  };
  const instances = nodes.map(instantiate);
  const describe = (n: Record<string, unknown>) => (n.description ?? {}) as Record<string, unknown>;
  const picked = nodeName
    ? instances.find((n) => describe(n).name === nodeName)
    : (instances.find((n) => !String(describe(n).name ?? '').endsWith('Trigger')) ?? instances[0]);
  if (!picked) throw new InvalidInputError(`No node named ${String(nodeName)} in ${pkgPath} (nodes: ${instances.map((n) => String(describe(n).name)).join(', ')})`, '/nodeName');
  const nodeDescription = { ...describe(picked), ...(typeof picked.execute === 'function' ? { execute: picked.execute } : {}) };
  return { nodeDescription, credentialTypes: (pkg.n8n?.credentials ?? []).map(instantiate) };
}
