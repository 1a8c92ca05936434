import { describe, expect, it } from 'vitest';
import { rawTarGz } from './raw-tar.ts';
import { tarballRefusal as refusal } from './test-support.ts';
import { readConnectorTarball, safeEntryPath } from './tarball.ts';

describe('readConnectorTarball', () => {
  it('reads files under package/ in memory', async () => {
    const files = await readConnectorTarball(rawTarGz([{ name: 'package/', type: '5' }, { name: 'package/a.txt', body: 'A' }, { name: 'package/docs/b.md', body: 'B' }]));
    expect([...files.keys()].sort()).toEqual(['a.txt', 'docs/b.md']);
    expect(files.get('a.txt')!.toString()).toBe('A');
  });

  it('refuses traversal, absolute paths, links and entries outside package/', async () => {
    expect(await refusal(rawTarGz([{ name: 'package/../../etc/passwd', body: 'x' }]))).toMatch(/climbs out/);
    expect(await refusal(rawTarGz([{ name: '/etc/passwd', body: 'x' }]))).toMatch(/absolute/);
    expect(await refusal(rawTarGz([{ name: 'package/link', type: '2', linkname: '/etc/passwd' }]))).toMatch(/SymbolicLink/);
    expect(await refusal(rawTarGz([{ name: 'package/hard', type: '1', linkname: 'package/a' }]))).toMatch(/Link/);
    expect(await refusal(rawTarGz([{ name: 'other/a.txt', body: 'x' }]))).toMatch(/outside package/);
  });

  it('refuses non-gzip, corrupted and truncated bodies', async () => {
    expect(await refusal(Buffer.from('not a tarball'))).toMatch(/not a gzip/);
    const good = rawTarGz([{ name: 'package/a.txt', body: 'A'.repeat(5000) }]);
    expect(await refusal(good.subarray(0, good.length - 20))).toMatch(/corrupted or truncated/);
    const flipped = Buffer.from(good);
    flipped[30] = flipped[30]! ^ 0xff;
    expect(await refusal(flipped)).toMatch(/corrupted|truncated/);
  });

  it('enforces entry-count and size caps', async () => {
    const many = rawTarGz(Array.from({ length: 5 }, (_, i) => ({ name: `package/f${i}`, body: 'x' })));
    expect(await refusal(many, { maxEntries: 3, maxFileBytes: 100, maxTotalBytes: 1000 })).toMatch(/more than 3 entries/);
    const big = rawTarGz([{ name: 'package/big', body: 'x'.repeat(200) }]);
    expect(await refusal(big, { maxEntries: 3, maxFileBytes: 100, maxTotalBytes: 1000 })).toMatch(/limit is 100/);
  });

  it('safeEntryPath strips package/ and names the problem', () => {
    expect(safeEntryPath('package/./docs/README.md')).toEqual({ path: 'docs/README.md' });
    expect(safeEntryPath('package\\x')).toHaveProperty('error');
  });
});
