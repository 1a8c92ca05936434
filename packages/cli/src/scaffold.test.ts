import { describe, expect, it } from 'vitest';
import { checkName, displayNameOf, scaffoldFiles } from './scaffold.ts';
import { TEMPLATES } from './templates/index.ts';

describe('connector names', () => {
  it('accepts lower-case names with digits and single hyphens', () => {
    for (const name of ['acme', 'acme-crm', 'x1', 'a-b-c']) expect(checkName(name), name).toBeUndefined();
  });

  it('explains why a name is refused', () => {
    expect(checkName('Acme')).toMatch(/upper-case/);
    expect(checkName('1acme')).toMatch(/start with a letter/);
    expect(checkName('acme_crm')).toMatch(/a-z, 0-9 and single hyphens/);
    expect(checkName('acme-')).toMatch(/single hyphens/);
    // Every suggestion offered is itself a valid name.
    expect(checkName('Bad_Name')).toContain('(e.g. "bad-name")');
    expect(checkName('1acme')).toContain('(e.g. "acme")');
    expect(checkName('___')).not.toContain('e.g.');
    expect(checkName('acme--crm')).toMatch(/single hyphens/);
    expect(checkName('')).toMatch(/empty/);
    expect(checkName('a'.repeat(51))).toMatch(/longer than 50/);
  });

  it('derives a display name', () => {
    expect(displayNameOf('acme-crm')).toBe('Acme Crm');
  });
});

describe('templates', () => {
  for (const template of TEMPLATES) {
    it(`${template.id}: has a connector, one file per action and trigger, fixtures, a harness test and package scripts`, () => {
      const files = scaffoldFiles(template, 'acme');
      const paths = Object.keys(files);
      expect(paths).toEqual(expect.arrayContaining(['package.json', 'README.md', '.gitignore', 'src/index.ts', 'src/index.test.ts']));
      expect(paths.filter((p) => p.startsWith('src/actions/')).length).toBeGreaterThanOrEqual(2);
      expect(paths.filter((p) => p.startsWith('src/triggers/')).length).toBeGreaterThanOrEqual(1);
      expect(paths.filter((p) => /^fixtures\/.+\.json$/.test(p)).length).toBeGreaterThanOrEqual(1);
      for (const p of paths.filter((x) => x.endsWith('.json'))) expect(() => JSON.parse(files[p] ?? ''), p).not.toThrow();
      const pkg = JSON.parse(files['package.json'] ?? '{}') as { type: string; dependencies: Record<string, string>; scripts: Record<string, string> };
      expect(pkg.type).toBe('module');
      expect(pkg.dependencies['@businessos/connector-sdk']).toBeDefined();
      expect(pkg.scripts).toMatchObject({ test: 'bos-connector test', lint: 'bos-connector lint', build: 'bos-connector build' });
      expect(files['src/index.ts']).toContain('defineConnector');
      expect(files['src/index.test.ts']).toContain("from '@businessos/connector-sdk/testing'");
      expect(files['src/index.test.ts']).toContain('createTestHarness');
    });
  }
});
