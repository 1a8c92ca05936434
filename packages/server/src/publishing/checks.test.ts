import type { ConnectorManifest } from '@businessos/connector-sdk';
import { describe, expect, it } from 'vitest';
import { canonicalJson, checkPackage, diffManifests, lintBundle, sha256Hex } from './checks.ts';

function manifest(over: Partial<ConnectorManifest> = {}): ConnectorManifest {
  return {
    manifestVersion: 1,
    name: 'acme',
    version: '1.0.0',
    displayName: 'Acme',
    description: 'Acme',
    category: 'crm',
    auth: { type: 'oauth2', scopes: ['read'] },
    baseUrl: 'https://api.acme.test',
    hosts: ['api.acme.test'],
    permissions: [],
    actions: [{ name: 'list', displayName: 'List', description: '', params: {}, idempotent: true, examples: [] }],
    triggers: [],
    ...over,
  } as unknown as ConnectorManifest;
}

describe('lintBundle', () => {
  it('fails on Node built-ins, require, eval and Function; warns on direct network calls', () => {
    const code = ['import fs from "node:fs";', 'const cp = require("child_process");', 'eval("1")', 'new Function("return 1")', 'fetch("https://x")', 'const ok = obj.eval;'].join('\n');
    const found = lintBundle(code);
    expect(found.filter((f) => f.severity === 'fail').map((f) => f.line)).toEqual(expect.arrayContaining([1, 2, 3, 4]));
    expect(found.find((f) => f.line === 5)).toMatchObject({ severity: 'warn', rule: 'no-global-fetch' });
    expect(found.some((f) => f.line === 6)).toBe(false);
  });
});

describe('diffManifests', () => {
  it('lists added and removed actions, hosts and scopes', () => {
    const before = manifest();
    const after = manifest({
      version: '1.1.0',
      hosts: ['api.acme.test', 'files.acme.test'],
      auth: { type: 'oauth2', scopes: ['read', 'write'] } as ConnectorManifest['auth'],
      actions: [{ name: 'create', displayName: 'Create', description: '', params: {}, idempotent: false, examples: [] }] as ConnectorManifest['actions'],
    });
    expect(diffManifests(before, after)).toMatchObject({
      previousVersion: '1.0.0',
      actions: { added: ['create'], removed: ['list'] },
      hosts: { added: ['files.acme.test'], removed: [] },
      scopes: { added: ['write'], removed: [] },
      authChanged: false,
    });
    expect(diffManifests(undefined, before).hosts.added).toEqual(['api.acme.test', 'https://api.acme.test']);
  });
});

describe('checkPackage', () => {
  it('fails layout, reproducibility and dry load without running anything when files are missing or altered', async () => {
    const bundle = Buffer.from('export default {}');
    const files = new Map<string, Buffer>([
      ['manifest.json', Buffer.from(JSON.stringify(manifest()))],
      ['connector.js', bundle],
      ['checksums.json', Buffer.from(JSON.stringify({ bundle: { sha256: '0'.repeat(64) }, files: {} }))],
    ]);
    const result = await checkPackage(files, { pool: undefined });
    const status = Object.fromEntries(result.checks.map((c) => [c.id, c.status]));
    expect(status).toMatchObject({ package: 'fail', reproducibility: 'fail', 'dry-load': 'fail' });
    expect(result.ok).toBe(false);
    expect(result.bundleSha256).toBe(sha256Hex(bundle));
  });

  it('canonicalJson ignores key order', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe(canonicalJson({ a: { c: 3, d: 2 }, b: 1 }));
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: 2 }));
  });
});
