// Sandbox images: the encoding round-trips, malformed images are refused with a reason, and applying an image
// leaves memory byte-for-byte equal to what was captured, on the fast path and when the fast path's guess is wrong.
import { describe, expect, it } from 'vitest';
import { applyImage, captureImage, decodeImage, dirtyChunks, IMAGE_CHUNK_BYTES } from './sandbox-image.ts';

function memoryWith(bytes: number, writes: [offset: number, value: number][]): Uint8Array {
  const memory = new Uint8Array(bytes);
  for (const [offset, value] of writes) memory[offset] = value;
  return memory;
}

describe('sandbox images', () => {
  const source = memoryWith(64 * IMAGE_CHUNK_BYTES, [[10, 1], [5 * IMAGE_CHUNK_BYTES + 7, 2], [40 * IMAGE_CHUNK_BYTES, 3]]);
  const image = captureImage(source, 'build-a', { rt: 100, ctx: 200, run: 300, connector: 400 }, 'c'.repeat(64));

  it('keeps only non-zero chunks and decodes to the same header', () => {
    const decoded = decodeImage(image);
    expect([...decoded.chunks]).toEqual([0, 5, 40]);
    expect(decoded.header).toMatchObject({ build: 'build-a', byteLength: source.byteLength, pointers: { rt: 100, ctx: 200, run: 300, connector: 400 }, code: 'c'.repeat(64), count: 3 });
    expect(image.byteLength).toBeLessThan(4 * IMAGE_CHUNK_BYTES + 512);
  });

  it('restores exactly, clearing what the blank had written elsewhere (exact path)', () => {
    const target = memoryWith(64 * IMAGE_CHUNK_BYTES, [[3 * IMAGE_CHUNK_BYTES, 9], [11, 9], [63 * IMAGE_CHUNK_BYTES + 1, 9]]);
    applyImage(target, decodeImage(image));
    expect(Buffer.compare(Buffer.from(target), Buffer.from(source))).toBe(0);
  });

  it('restores exactly on the fast path with a known blank layout', () => {
    const target = memoryWith(64 * IMAGE_CHUNK_BYTES, [[3 * IMAGE_CHUNK_BYTES, 9], [11, 9]]);
    applyImage(target, decodeImage(image), dirtyChunks(target));
    expect(Buffer.compare(Buffer.from(target), Buffer.from(source))).toBe(0);
  });

  it('falls back to the exact path when the blank wrote above the known layout', () => {
    // The layout claims only chunk 3 is dirty, but chunk 45 (inside the guard window above chunk 40) is too.
    const target = memoryWith(64 * IMAGE_CHUNK_BYTES, [[3 * IMAGE_CHUNK_BYTES, 9], [45 * IMAGE_CHUNK_BYTES, 9]]);
    applyImage(target, decodeImage(image), Uint32Array.of(3));
    expect(Buffer.compare(Buffer.from(target), Buffer.from(source))).toBe(0);
  });

  it('refuses an image that does not fit the memory', () => {
    expect(() => applyImage(new Uint8Array(8 * IMAGE_CHUNK_BYTES), decodeImage(image))).toThrow(/does not fit/);
  });

  it('refuses malformed images with the reason', () => {
    expect(() => decodeImage(new Uint8Array(4))).toThrow(/wrong magic/);
    expect(() => decodeImage(image.subarray(0, image.byteLength - 1))).toThrow(/length does not match/);
    const header = Buffer.from(image).toString('latin1');
    const badFormat = Buffer.from(header.replace('"format":2', '"format":9'), 'latin1');
    expect(() => decodeImage(new Uint8Array(badFormat))).toThrow(/format 9/);
    const badPointer = Buffer.from(header.replace('"rt":100', '"rt":1.5'), 'latin1');
    // Same length keeps the offsets valid; only the pointer check can refuse it.
    expect(badPointer.byteLength).toBe(image.byteLength);
    expect(() => decodeImage(new Uint8Array(badPointer))).toThrow(/bad pointers/);
    const noDigest = Buffer.from(header.replace('"code":"cccc', '"code":"xxxx'), 'latin1');
    expect(() => decodeImage(new Uint8Array(noDigest))).toThrow(/no code digest/);
  });
});
