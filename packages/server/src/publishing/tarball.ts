import { gunzipSync } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { ProblemError } from '../http/problem.ts';

/** Caps applied while reading an uploaded connector tarball. */
export interface TarballLimits {
  /** Largest accepted entry count (files and folders). */
  maxEntries: number;
  /** Largest accepted single file, unpacked. */
  maxFileBytes: number;
  /** Largest accepted sum of unpacked file sizes. */
  maxTotalBytes: number;
}

/** Defaults: a connector tarball holds about six small files. */
export const DEFAULT_TARBALL_LIMITS: TarballLimits = { maxEntries: 64, maxFileBytes: 8 * 1024 * 1024, maxTotalBytes: 16 * 1024 * 1024 };

function refuse(detail: string, path = ''): ProblemError {
  return new ProblemError('INVALID_INPUT', detail, { type: 'invalid-tarball', errors: [{ path, in: 'body', message: detail }] });
}

/** Longest entry path accepted, `package/` included. */
export const MAX_PATH_LENGTH = 255;

/**
 * The path of an entry inside the package (`package/` stripped), or an error message when the entry may not be
 * unpacked: too long, absolute, `..`, backslashes or NUL, outside `package/`.
 */
export function safeEntryPath(raw: string): { path: string } | { error: string } {
  // Packed paths are short; a long one (a pax header allows megabytes) would only bloat every message that names it.
  if (raw.length > MAX_PATH_LENGTH) return { error: `entry ${JSON.stringify(`${raw.slice(0, 64)}…`)} has a path longer than ${MAX_PATH_LENGTH} characters` };
  if (raw.includes('\0') || raw.includes('\\')) return { error: `entry ${JSON.stringify(raw)} has a NUL or backslash in its path` };
  if (raw.startsWith('/') || /^[a-zA-Z]:/.test(raw)) return { error: `entry ${JSON.stringify(raw)} has an absolute path` };
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { error: `entry ${JSON.stringify(raw)} climbs out of the package with ".."` };
  if (parts[0] !== 'package') return { error: `entry ${JSON.stringify(raw)} is outside package/ (bos-connector pack puts every file under package/)` };
  return { path: parts.slice(1).join('/') };
}

/**
 * Reads a gzipped connector tarball in memory, never touching the filesystem. Only regular files and folders are
 * accepted (no links, devices or FIFOs), under `package/`, within `limits`. Throws a 400 problem naming the entry
 * otherwise, or when the bytes are not a gzipped tar.
 * @returns file path (without `package/`) → content.
 */
export async function readConnectorTarball(bytes: Uint8Array, limits: TarballLimits = DEFAULT_TARBALL_LIMITS): Promise<Map<string, Buffer>> {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) {
    throw refuse('The body is not a gzip file; send the .tgz written by `bos-connector pack`');
  }
  // Inflate with a hard cap before parsing: a few hundred KiB of gzip can expand to gigabytes (of zero blocks, say),
  // and tar's own inflater would work through all of it synchronously even after an entry has been refused.
  // The slack covers headers, long-name records and padding of up to maxEntries entries.
  const maxTarBytes = limits.maxTotalBytes + (limits.maxEntries + 2) * 8 * 1024;
  let tar: Buffer;
  try {
    tar = gunzipSync(bytes, { maxOutputLength: maxTarBytes });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw refuse(`The tarball unpacks to more than ${limits.maxTotalBytes} bytes`);
    throw refuse(`The tarball is corrupted or truncated (${(error as Error).message}); pack it again with \`bos-connector pack\``);
  }
  const files = new Map<string, Buffer>();
  let entries = 0;
  let total = 0;
  let failure: ProblemError | undefined;
  await new Promise<void>((resolve) => {
    const parser = new Parser({
      strict: true,
      onReadEntry(entry: ReadEntry) {
        if (failure) return entry.resume();
        entries += 1;
        if (entries > limits.maxEntries) failure = refuse(`The tarball has more than ${limits.maxEntries} entries; a connector package holds a handful of files`);
        const checked = safeEntryPath(entry.path);
        if ('error' in checked) failure ??= refuse(`Unsafe tarball: ${checked.error}`, `/${entry.path.slice(0, MAX_PATH_LENGTH)}`);
        else if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'Directory') {
          failure ??= refuse(`Unsafe tarball: entry ${JSON.stringify(entry.path)} is a ${entry.type}; only regular files and folders are accepted`, `/${entry.path}`);
        } else if ((entry.size ?? 0) > limits.maxFileBytes) {
          failure ??= refuse(`Tarball entry ${JSON.stringify(entry.path)} is ${entry.size} bytes; the limit is ${limits.maxFileBytes}`, `/${entry.path}`);
        }
        if (failure || entry.type === 'Directory' || 'error' in checked) return entry.resume();
        if (files.has(checked.path)) {
          failure = refuse(`The tarball holds ${JSON.stringify(entry.path)} twice`, `/${entry.path}`);
          return entry.resume();
        }
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => {
          total += chunk.length;
          if (total > limits.maxTotalBytes) failure ??= refuse(`The tarball unpacks to more than ${limits.maxTotalBytes} bytes`);
          else chunks.push(chunk);
        });
        entry.on('end', () => {
          if (!failure) files.set(checked.path, Buffer.concat(chunks));
        });
      },
    });
    parser.on('error', (error: Error) => {
      failure ??= refuse(`The tarball is corrupted or truncated (${error.message}); pack it again with \`bos-connector pack\``);
      resolve();
    });
    parser.on('warn', (_code: string, message: string | Error) => {
      failure ??= refuse(`The tarball is corrupted or truncated (${String(message instanceof Error ? message.message : message)}); pack it again with \`bos-connector pack\``);
    });
    parser.on('end', () => resolve());
    parser.on('close', () => resolve());
    try {
      parser.end(tar);
    } catch (error) {
      failure ??= refuse(`The tarball is corrupted or truncated (${(error as Error).message}); pack it again with \`bos-connector pack\``);
      resolve();
    }
  });
  if (failure) throw failure;
  if (files.size === 0) throw refuse('The tarball holds no files; send the .tgz written by `bos-connector pack`');
  return files;
}
