// Sandbox images: the WebAssembly memory of a QuickJS sandbox captured right after its bundle was evaluated and
// before any call ran, so that a new sandbox of the same bundle can start from those bytes instead of parsing the
// bundle again (the idea of Wizer-style pre-initialisation, used by Shopify Functions). An image holds no tenant
// data: it is taken before the first execution, and every execution starts from a copy.
//
// Wire format (little-endian), one Uint8Array so it can be transferred between threads and stored as a blob:
//   "BOSIMG1\n" | u32 headerLength | header JSON | pad to 4 | u32 chunkIndex[count] | chunk bytes[count * CHUNK]
// Only non-zero CHUNK-sized pieces of the memory are kept; the rest of the memory is zero.

/** Bytes per piece of memory an image keeps or leaves out. */
export const IMAGE_CHUNK_BYTES = 4096;
const MAGIC = 'BOSIMG1\n';
/** Bump when the capture layout or what the engine sets up before the bundle (the prelude contract) changes. */
export const IMAGE_FORMAT = 2;
/** An image larger than this is not worth keeping (the bundle's heap is far beyond a normal connector's). */
export const MAX_IMAGE_BYTES = 32 * 1024 * 1024;

/** Where the engine's handles and pointers were when the image was captured. */
export interface ImageHeader {
  format: number;
  /** Engine build the memory belongs to (see `engineBuildId`): any other build must refuse the image. */
  build: string;
  /** Length of the memory when captured. */
  byteLength: number;
  /** Engine pointers (runtime, context, the glue's run function, the connector export). */
  pointers: Record<string, number>;
  /** sha256 (hex) of the bundle code the image was taken from: an image only ever starts that code. */
  code: string;
  count: number;
}

/** A decoded image: views into the encoded bytes, nothing copied. */
export interface DecodedImage {
  header: ImageHeader;
  /** Index (offset / IMAGE_CHUNK_BYTES) of each kept chunk, ascending. */
  chunks: Uint32Array;
  /** The kept chunks' bytes, one after the other. */
  data: Uint8Array;
}

/** Encodes the non-zero chunks of `memory` with their header. */
export function captureImage(memory: Uint8Array, build: string, pointers: Record<string, number>, code: string): Uint8Array {
  const kept = dirtyChunks(memory);
  const header: ImageHeader = { format: IMAGE_FORMAT, build, byteLength: memory.byteLength, pointers, code, count: kept.length };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const indexAt = align4(MAGIC.length + 4 + headerBytes.length);
  const dataAt = indexAt + kept.length * 4;
  const out = new Uint8Array(dataAt + kept.length * IMAGE_CHUNK_BYTES);
  out.set(Buffer.from(MAGIC, 'latin1'), 0);
  const view = new DataView(out.buffer);
  view.setUint32(MAGIC.length, headerBytes.length, true);
  out.set(headerBytes, MAGIC.length + 4);
  kept.forEach((chunk, n) => {
    view.setUint32(indexAt + n * 4, chunk, true);
    const start = chunk * IMAGE_CHUNK_BYTES;
    out.set(memory.subarray(start, Math.min(start + IMAGE_CHUNK_BYTES, memory.byteLength)), dataAt + n * IMAGE_CHUNK_BYTES);
  });
  return out;
}

/**
 * Decodes and checks an image's structure (not its build: the engine compares that). Throws a plain Error saying
 * what is wrong with a malformed image.
 */
export function decodeImage(bytes: Uint8Array): DecodedImage {
  const fail = (why: string): never => {
    throw new Error(`Not a usable sandbox image: ${why}`);
  };
  if (bytes.byteLength < MAGIC.length + 4 || Buffer.from(bytes.buffer, bytes.byteOffset, MAGIC.length).toString('latin1') !== MAGIC) fail('wrong magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(MAGIC.length, true);
  if (MAGIC.length + 4 + headerLength > bytes.byteLength) fail('header runs past the end');
  let header: ImageHeader;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + MAGIC.length + 4, headerLength).toString('utf8')) as ImageHeader;
  } catch {
    return fail('header is not JSON');
  }
  const { count, byteLength, pointers } = header;
  if (header.format !== IMAGE_FORMAT) fail(`format ${String(header.format)}, expected ${IMAGE_FORMAT}`);
  if (!Number.isInteger(count) || count < 0 || !Number.isInteger(byteLength) || byteLength <= 0 || byteLength % IMAGE_CHUNK_BYTES !== 0) fail('bad sizes');
  if (typeof pointers !== 'object' || pointers === null || !Object.values(pointers).every((p) => Number.isInteger(p) && p > 0 && p < byteLength)) fail('bad pointers');
  if (typeof header.code !== 'string' || !/^[0-9a-f]{64}$/.test(header.code)) fail('no code digest');
  const indexAt = align4(MAGIC.length + 4 + headerLength);
  const dataAt = indexAt + count * 4;
  if (dataAt + count * IMAGE_CHUNK_BYTES !== bytes.byteLength) fail('length does not match the chunk count');
  const chunks = new Uint32Array(count);
  let previous = -1;
  for (let n = 0; n < count; n += 1) {
    const chunk = view.getUint32(indexAt + n * 4, true);
    if (chunk <= previous || (chunk + 1) * IMAGE_CHUNK_BYTES > byteLength) fail('chunk index out of order or out of range');
    chunks[n] = chunk;
    previous = chunk;
  }
  return { header, chunks, data: bytes.subarray(dataAt) };
}

const BLOCK_CHUNKS = 16;
const ZERO_BLOCK = Buffer.alloc(IMAGE_CHUNK_BYTES * BLOCK_CHUNKS);

/**
 * Indices of the non-zero chunks of `memory`. Reads every page (whole zero blocks are skipped with one compare),
 * so it costs a few milliseconds on a large untouched memory.
 */
export function dirtyChunks(memory: Uint8Array): Uint32Array {
  const buffer = Buffer.from(memory.buffer, memory.byteOffset, memory.byteLength);
  const out: number[] = [];
  const blockBytes = ZERO_BLOCK.byteLength;
  for (let blockStart = 0; blockStart < buffer.byteLength; blockStart += blockBytes) {
    const blockEnd = Math.min(blockStart + blockBytes, buffer.byteLength);
    if (ZERO_BLOCK.compare(buffer, blockStart, blockEnd, 0, blockEnd - blockStart) === 0) continue;
    for (let start = blockStart; start < blockEnd; start += IMAGE_CHUNK_BYTES) {
      const end = Math.min(start + IMAGE_CHUNK_BYTES, blockEnd);
      if (ZERO_BLOCK.compare(buffer, start, end, 0, end - start) !== 0) out.push(start / IMAGE_CHUNK_BYTES);
    }
  }
  return Uint32Array.from(out);
}

/** Chunks above the known ones that are checked on every fast restore (a blank that touched more is caught). */
const GUARD_CHUNKS = 64;

/**
 * Makes `memory` (at least `image.header.byteLength` long) hold exactly the image: its chunks copied in and every
 * other chunk zero. `blankDirty` lists the chunks a blank set up like this one had non-zero (the engine measures
 * it once): only those are cleared, and a window above them is checked, instead of reading the whole memory.
 */
export function applyImage(memory: Uint8Array, image: DecodedImage, blankDirty?: Uint32Array): void {
  const { chunks, data, header } = image;
  if (header.byteLength > memory.byteLength) throw new Error('Not a usable sandbox image: it does not fit this memory');
  const total = Math.ceil(memory.byteLength / IMAGE_CHUNK_BYTES);
  const write = (n: number) => memory.set(data.subarray(n * IMAGE_CHUNK_BYTES, (n + 1) * IMAGE_CHUNK_BYTES), chunks[n]! * IMAGE_CHUNK_BYTES);
  const clear = (i: number) => memory.fill(0, i * IMAGE_CHUNK_BYTES, Math.min((i + 1) * IMAGE_CHUNK_BYTES, memory.byteLength));
  if (blankDirty) {
    let n = 0;
    for (const i of blankDirty) {
      while (n < chunks.length && chunks[n]! < i) n += 1;
      if (n >= chunks.length || chunks[n] !== i) clear(i);
    }
    for (let k = 0; k < chunks.length; k += 1) write(k);
    const top = Math.max(blankDirty.length ? blankDirty[blankDirty.length - 1]! : 0, chunks.length ? chunks[chunks.length - 1]! : 0) + 1;
    const guard = dirtyChunks(memory.subarray(top * IMAGE_CHUNK_BYTES, Math.min(total, top + GUARD_CHUNKS) * IMAGE_CHUNK_BYTES));
    if (guard.length === 0) return;
  }
  // Exact path: the image's chunks written, every other non-zero chunk cleared.
  let n = 0;
  for (const i of dirtyChunks(memory)) {
    while (n < chunks.length && chunks[n]! < i) n += 1;
    if (n >= chunks.length || chunks[n] !== i) clear(i);
  }
  for (let k = 0; k < chunks.length; k += 1) write(k);
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
