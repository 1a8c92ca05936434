import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConnectorError } from '@businessos/connector-sdk';

/** A 32-byte AES-256 master key and the short id stored beside everything it wraps. */
export interface MasterKey {
  /** `mk-` + the first 16 hex digits of sha256(key): identifies the key without revealing it. */
  readonly id: string;
  readonly key: Buffer;
}

/** Derives the id of a raw 32-byte key. */
export function masterKeyId(key: Uint8Array): string {
  return `mk-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

/**
 * Parses a master key given as 64 hex digits or base64/base64url of 32 bytes (as in `BOS_MASTER_KEY`),
 * or takes 32 raw bytes.
 * @example const mk = parseMasterKey(config.masterKey)
 */
export function parseMasterKey(input: string | Uint8Array | MasterKey): MasterKey {
  if (typeof input === 'object' && 'key' in input && 'id' in input) return input;
  let bytes: Buffer | undefined;
  if (typeof input === 'string') {
    const text = input.trim();
    if (/^[0-9a-fA-F]{64}$/.test(text)) bytes = Buffer.from(text, 'hex');
    else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  } else {
    bytes = Buffer.from(input);
  }
  if (!bytes || bytes.length !== 32) {
    throw new ConnectorError(
      'INVALID_INPUT',
      'The master key must be 32 bytes written as 64 hex digits or 44 base64 characters; generate one with `openssl rand -base64 32`',
    );
  }
  return { id: masterKeyId(bytes), key: bytes };
}

/** A fresh random master key. */
export function generateMasterKey(): MasterKey {
  return parseMasterKey(randomBytes(32));
}

/**
 * Embedded mode: reads the master key from `path`, or creates it (32 random bytes, base64, file mode 0600)
 * when the file does not exist. Refuses a key file that group or others can read.
 */
export async function loadOrCreateMasterKeyFile(path: string): Promise<MasterKey> {
  try {
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0) {
      throw new ConnectorError(
        'FORBIDDEN',
        `Master key file ${path} is readable by group or others (mode ${(info.mode & 0o777).toString(8)}); run \`chmod 600 ${path}\``,
      );
    }
    return parseMasterKey(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const key = generateMasterKey();
  try {
    // 'wx' fails if another process created the file in between; then we read theirs.
    await writeFile(path, `${key.key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return parseMasterKey(await readFile(path, 'utf8'));
    throw error;
  }
}
