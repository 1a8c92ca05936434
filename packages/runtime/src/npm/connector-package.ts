import { createHash } from 'node:crypto';
import { ConnectorError } from '@businessos/connector-sdk';
import { Parser, type ReadEntry } from 'tar';

/** Limits on a downloaded connector package (it is untrusted until verified). */
export interface ConnectorPackageLimits {
  /** Largest gzipped tarball (default 10 MiB). */
  maxTarballBytes: number;
  /** Largest unpacked total (default 20 MiB). */
  maxUnpackedBytes: number;
  /** Most entries (default 200). */
  maxEntries: number;
}

/** Default {@link ConnectorPackageLimits}. */
export const DEFAULT_PACKAGE_LIMITS: ConnectorPackageLimits = { maxTarballBytes: 10 * 1024 * 1024, maxUnpackedBytes: 20 * 1024 * 1024, maxEntries: 200 };

/** The files of a connector package the runtime uses, and the sha256 the package declares for its bundle. */
export interface ConnectorPackage {
  /** `bosConnector.name` of package.json (the connector's name), when given. */
  connector: string | undefined;
  /** `connector.js`. */
  bundle: Buffer;
  /** Hex sha256 of `bundle`, computed here. */
  sha256: string;
  /** The sha256 the package records for its bundle (package.json `bosConnector.bundleSha256` or checksums.json). */
  declaredSha256: string;
}

// The files read out of the tarball; everything else (README, docs) is skipped unread.
const WANTED = new Set(['connector.js', 'package.json', 'checksums.json']);

function refuse(label: string, message: string): ConnectorError {
  return new ConnectorError('INVALID_INPUT', `${label}: ${message}; it is not a package written by \`bos-connector pack\` or the marketplace`, { details: { reason: 'bad-package' } });
}

/**
 * Unpacks the few files the runtime needs from a gzipped npm tarball, in memory. Links, devices and paths that
 * climb out of `package/` are refused, as are tarballs over the limits.
 */
async function unpack(bytes: Uint8Array, label: string, limits: ConnectorPackageLimits): Promise<Map<string, Buffer>> {
  if (bytes.length > limits.maxTarballBytes) throw refuse(label, `the tarball is ${bytes.length} bytes, over the ${limits.maxTarballBytes}-byte limit`);
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) throw refuse(label, 'the tarball is not gzipped');
  const files = new Map<string, Buffer>();
  let failure: string | undefined;
  let entries = 0;
  let total = 0;
  await new Promise<void>((resolve) => {
    const parser = new Parser({
      strict: true,
      onReadEntry(entry: ReadEntry) {
        entries += 1;
        const parts = entry.path.split('/').filter((p) => p !== '' && p !== '.');
        if (entries > limits.maxEntries) failure ??= `it has more than ${limits.maxEntries} entries`;
        else if (entry.path.startsWith('/') || parts.includes('..') || entry.path.includes('\\')) failure ??= `entry ${JSON.stringify(entry.path)} leaves the package folder`;
        else if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'Directory') failure ??= `entry ${JSON.stringify(entry.path)} is a ${entry.type}; only files and folders are accepted`;
        // npm packs under package/; the file must sit directly in it.
        const name = parts.length === 2 && parts[0] === 'package' ? parts[1]! : undefined;
        if (failure || entry.type === 'Directory' || !name || !WANTED.has(name)) return entry.resume();
        if (files.has(name)) {
          failure = `it holds package/${name} twice`;
          return entry.resume();
        }
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => {
          total += chunk.length;
          if (total > limits.maxUnpackedBytes) failure ??= `it unpacks to more than ${limits.maxUnpackedBytes} bytes`;
          else chunks.push(chunk);
        });
        entry.on('end', () => files.set(name, Buffer.concat(chunks)));
      },
    });
    const fail = (message: string) => {
      failure ??= `the tarball is corrupted (${message})`;
      resolve();
    };
    parser.on('error', (error: Error) => fail(error.message));
    parser.on('warn', (_code: string, message: string | Error) => fail(message instanceof Error ? message.message : String(message)));
    parser.on('end', () => resolve());
    parser.on('close', () => resolve());
    try {
      parser.end(Buffer.from(bytes));
    } catch (error) {
      fail((error as Error).message);
    }
  });
  if (failure) throw refuse(label, failure);
  return files;
}

function json(files: Map<string, Buffer>, name: string, label: string): Record<string, unknown> | undefined {
  const raw = files.get(name);
  if (!raw) return undefined;
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw refuse(label, `package/${name} is not a JSON object`);
}

function field(value: unknown, ...path: string[]): unknown {
  let at = value;
  for (const key of path) at = typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[key] : undefined;
  return at;
}

/**
 * Reads a connector package tarball: `package/connector.js` and the sha256 it declares for it, in package.json
 * (`bosConnector.bundleSha256`, written by the marketplace's npm publisher) or checksums.json (`bundle.sha256`,
 * written by `bos-connector pack`). When both are present they must agree.
 * @throws ConnectorError INVALID_INPUT when the tarball is unsafe, too large, or not a connector package.
 */
export async function readConnectorPackage(bytes: Uint8Array, label: string, limits: ConnectorPackageLimits = DEFAULT_PACKAGE_LIMITS): Promise<ConnectorPackage> {
  const files = await unpack(bytes, label, limits);
  const bundle = files.get('connector.js');
  if (!bundle) throw refuse(label, 'package/connector.js is missing');
  const pkg = json(files, 'package.json', label);
  const checksums = json(files, 'checksums.json', label);
  const fromPackage = field(pkg, 'bosConnector', 'bundleSha256');
  const fromChecksums = field(checksums, 'bundle', 'sha256');
  const declared = [fromPackage, fromChecksums].filter((v): v is string => typeof v === 'string').map((v) => v.toLowerCase());
  if (declared.length === 0) throw refuse(label, 'it records no sha256 for its bundle (package.json bosConnector.bundleSha256 or checksums.json bundle.sha256)');
  if (declared.some((d) => !/^[0-9a-f]{64}$/.test(d))) throw refuse(label, 'the sha256 it records for its bundle is not 64 hex digits');
  if (declared.length === 2 && declared[0] !== declared[1]) throw refuse(label, `package.json and checksums.json record different bundle sha256s (${declared[0]} vs ${declared[1]})`);
  const connector = field(pkg, 'bosConnector', 'name');
  return {
    connector: typeof connector === 'string' ? connector : undefined,
    bundle,
    sha256: createHash('sha256').update(bundle).digest('hex'),
    declaredSha256: declared[0]!,
  };
}
