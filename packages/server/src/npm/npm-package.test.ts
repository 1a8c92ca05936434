import { createHash } from 'node:crypto';
import { readConnectorPackage } from '@businessos/connector-runtime/npm';
import { escapePackageName, isValidPackageName, parsePackageSpec } from '@businessos/connector-runtime/npm';
import type { ConnectorManifest } from '@businessos/connector-sdk';
import { describe, expect, it } from 'vitest';
import { rawTarGz } from '../publishing/raw-tar.ts';
import { buildNpmPackage, npmPackageJson } from './npm-package.ts';

const manifest = {
  manifestVersion: 1,
  name: 'acme',
  version: '1.2.0',
  displayName: 'Acme',
  description: 'Acme things.',
  category: 'crm',
  runtime: 'quickjs',
  auth: { type: 'none' },
  baseUrl: 'https://api.acme.test',
  hosts: ['api.acme.test'],
  permissions: [],
  actions: [{ name: 'list', displayName: 'List', description: 'List things', params: {}, idempotent: true, examples: [] }],
  triggers: [],
} as unknown as ConnectorManifest;
const bundle = Buffer.from('export default {};\n');
const sha256 = createHash('sha256').update(bundle).digest('hex');
const pkgJson = (extra: object = {}) => JSON.stringify({ name: 'acme', version: '1.2.0', bosConnector: { name: 'acme', bundleSha256: sha256 }, ...extra });

describe('connector npm packages', () => {
  it('builds the same tarball twice, holding the bundle, its manifest and the recorded sha256, with no scripts', async () => {
    const a = await buildNpmPackage({ packageName: '@acme/acme', manifest, bundle, sha256 });
    const b = await buildNpmPackage({ packageName: '@acme/acme', manifest, bundle, sha256 });
    expect(a.tarball.equals(b.tarball)).toBe(true);
    expect(a.packageJson).toMatchObject({ name: '@acme/acme', version: '1.2.0', bosConnector: { name: 'acme', bundleSha256: sha256, bundle: 'connector.js', manifest: 'manifest.json' } });
    expect(a.packageJson).not.toHaveProperty('scripts');
    expect(await readConnectorPackage(a.tarball, 'built')).toEqual({ connector: 'acme', bundle, sha256, declaredSha256: sha256 });
    expect(npmPackageJson({ packageName: 'acme', manifest, bundle, sha256 }).keywords).toEqual(['businessos-connector', 'crm']);
  });

  it('reports an altered bundle by its hash, leaving the decision to the installer', async () => {
    const tgz = rawTarGz([
      { name: 'package/connector.js', body: 'export default { evil: true };' },
      { name: 'package/package.json', body: pkgJson() },
    ]);
    const read = await readConnectorPackage(tgz, 'altered');
    expect(read.declaredSha256).toBe(sha256);
    expect(read.sha256).not.toBe(sha256);
  });

  it.each([
    ['a symlink', [{ name: 'package/connector.js', type: '2' as const, linkname: '/etc/passwd' }, { name: 'package/package.json', body: pkgJson() }], /is a SymbolicLink/],
    ['a path out of the package', [{ name: 'package/../../x.js', body: 'x' }, { name: 'package/connector.js', body: bundle }, { name: 'package/package.json', body: pkgJson() }], /leaves the package folder/],
    ['no bundle', [{ name: 'package/package.json', body: pkgJson() }], /connector\.js is missing/],
    ['no recorded sha256', [{ name: 'package/connector.js', body: bundle }, { name: 'package/package.json', body: '{"name":"acme"}' }], /records no sha256/],
    ['two different recorded sha256s', [{ name: 'package/connector.js', body: bundle }, { name: 'package/package.json', body: pkgJson() }, { name: 'package/checksums.json', body: JSON.stringify({ bundle: { sha256: '0'.repeat(64) } }) }], /record different bundle sha256s/],
    ['a package.json that is not JSON', [{ name: 'package/connector.js', body: bundle }, { name: 'package/package.json', body: '{nope' }], /package\.json is not a JSON object/],
  ])('refuses a package with %s', async (_label, entries, message) => {
    await expect(readConnectorPackage(rawTarGz(entries), 'bad')).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(message) });
  });

  it('refuses bytes that are not a gzipped tarball, and tarballs over the limit', async () => {
    await expect(readConnectorPackage(Buffer.from('hello'), 'text')).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('not gzipped') });
    const tgz = rawTarGz([{ name: 'package/connector.js', body: bundle }, { name: 'package/package.json', body: pkgJson() }]);
    await expect(readConnectorPackage(tgz, 'big', { maxTarballBytes: 10, maxUnpackedBytes: 1e6, maxEntries: 10 })).rejects.toMatchObject({ message: expect.stringContaining('over the 10-byte limit') });
  });

  it('parses and escapes package names as npm does', () => {
    expect(parsePackageSpec('@acme/crm@1.0.0')).toEqual({ name: '@acme/crm', version: '1.0.0' });
    expect(parsePackageSpec('crm@2.0.0-beta.1')).toEqual({ name: 'crm', version: '2.0.0-beta.1' });
    expect(parsePackageSpec('crm')).toBeUndefined();
    expect(parsePackageSpec('@acme/crm')).toBeUndefined();
    expect(escapePackageName('@acme/crm')).toBe('@acme%2Fcrm');
    expect(isValidPackageName('@acme/crm-2')).toBe(true);
    expect(isValidPackageName('Acme')).toBe(false);
    expect(isValidPackageName('../x')).toBe(false);
  });
});
