import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from 'node:crypto';

const TAG_BYTES = 16;

/** AES-256-GCM output, each part base64. */
export interface Sealed {
  iv: string;
  tag: string;
  ciphertext: string;
}

/** Encrypts `plaintext` with a 32-byte key, binding `aad` (authenticated, not stored). */
export function seal(key: Uint8Array | KeyObject, plaintext: Uint8Array, aad: string): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ciphertext: ciphertext.toString('base64') };
}

/** Decrypts what {@link seal} produced; throws when the key, the AAD or any byte differs. */
export function open(key: Uint8Array | KeyObject, sealed: Sealed, aad: string): Buffer {
  // A fixed tag length: without it GCM accepts a tag cut down to 4 bytes, which makes forging a record cheap.
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'), { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(sealed.ciphertext, 'base64')), decipher.final()]);
}

/** AAD of a wrapped data key: a record copied to another tenant or version no longer unwraps. */
export function dataKeyAad(tenant: string, version: number): string {
  return `bos:data-key:v1\u0000${tenant}\u0000${version}`;
}

/** AAD of a secret: a ciphertext moved to another connection or tenant no longer decrypts. */
export function secretAad(tenant: string, connectionId: string, keyVersion: number): string {
  return `bos:secret:v1\u0000${tenant}\u0000${connectionId}\u0000${keyVersion}`;
}
