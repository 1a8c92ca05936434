// Writes tar archives byte by byte, including entries a well-behaved packer refuses to write (absolute paths,
// "..", links), so the reader's defences can be tested.
import { gzipSync } from 'node:zlib';

/** One entry of {@link rawTarGz}. `type` is the tar type flag: '0' file, '2' symlink, '1' hard link, '5' folder. */
export interface RawEntry {
  name: string;
  body?: string | Buffer;
  type?: '0' | '1' | '2' | '5';
  linkname?: string;
}

function field(buf: Buffer, offset: number, length: number, value: string): void {
  buf.write(value, offset, length, 'utf8');
}

/** A gzipped ustar archive of `entries`, exactly as given. */
export function rawTarGz(entries: RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.body ?? '');
    const header = Buffer.alloc(512);
    field(header, 0, 100, entry.name);
    field(header, 100, 8, '0000644\0');
    field(header, 108, 8, '0000000\0');
    field(header, 116, 8, '0000000\0');
    field(header, 124, 12, `${body.length.toString(8).padStart(11, '0')}\0`);
    field(header, 136, 12, '00000000000\0');
    field(header, 148, 8, '        ');
    field(header, 156, 1, entry.type ?? '0');
    field(header, 157, 100, entry.linkname ?? '');
    field(header, 257, 6, 'ustar\0');
    field(header, 263, 2, '00');
    let sum = 0;
    for (const byte of header) sum += byte;
    field(header, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}
