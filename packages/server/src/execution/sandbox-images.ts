import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { createMemoryImageStore, type SandboxImageStore } from '@businessos/connector-runtime';
import type { Db } from '../db/db.ts';

const pack = promisify(gzip);
const unpack = promisify(gunzip);

/** Rows are gzip (about a quarter of the raw size; its CRC also refuses a damaged row); raw rows are read as they are. */
async function fromRow(bytes: Uint8Array): Promise<Uint8Array> {
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return new Uint8Array(bytes);
  return new Uint8Array(await unpack(bytes));
}

/** Options of {@link createDbImageStore}. */
export interface DbImageStoreOptions {
  /** Bytes of images also kept in this process in front of the table (default 64 MiB). */
  cacheBytes?: number;
  /** Told when reading or writing the table failed (the cold start then parses the bundle). */
  onError?: (operation: 'get' | 'put' | 'prune', error: unknown) => void;
}

/** A {@link SandboxImageStore} over the table, with pruning. */
export interface DbImageStore extends SandboxImageStore {
  /**
   * Deletes images of engine builds other than `keepBuild` older than `olderThanDays` (default 7; a rolling upgrade
   * keeps the old build's images meanwhile); answers how many went. Also runs once on the first `put`.
   */
  prune(keepBuild: string, olderThanDays?: number): Promise<number>;
}

/**
 * Sandbox images in `connectors.sandbox_images`, shared by every API and worker process on the store, with an
 * in-process cache in front. The publish checks' dry load writes a bundle's first image, so a worker that has never
 * seen a published version starts it from the image instead of parsing it. A failing table costs only that.
 * @example createSandboxPool({ images: createDbImageStore(db) })
 */
export function createDbImageStore(db: Db, options: DbImageStoreOptions = {}): DbImageStore {
  const memory = createMemoryImageStore({ maxBytes: options.cacheBytes ?? 64 * 1024 * 1024 });
  // The first image this process writes names the build it runs: older images of other builds go then, once.
  let pruned = false;
  const store: DbImageStore = {
    async get(build, sha256) {
      const cached = await memory.get(build, sha256);
      if (cached) return cached;
      try {
        const { rows } = await db.withTenant(null, (tx) =>
          tx.query<{ image: Uint8Array }>('SELECT image FROM connectors.sandbox_images WHERE build = $1 AND sha256 = $2', [build, sha256]),
        );
        const image = rows[0] ? await fromRow(rows[0].image) : undefined;
        if (image) await memory.put(build, sha256, image);
        return image;
      } catch (error) {
        options.onError?.('get', error);
        return undefined;
      }
    },
    async put(build, sha256, image) {
      await memory.put(build, sha256, image);
      if (!pruned) {
        pruned = true;
        void store.prune(build).catch((error: unknown) => options.onError?.('prune', error));
      }
      try {
        // Compressed on libuv's thread pool (level 1: ~4x smaller), not on the caller's event loop.
        const packed = await pack(Buffer.from(image.buffer, image.byteOffset, image.byteLength), { level: 1 });
        await db.withTenant(null, (tx) =>
          tx.query(
            'INSERT INTO connectors.sandbox_images (build, sha256, image, size) VALUES ($1, $2, $3, $4) ON CONFLICT (build, sha256) DO NOTHING',
            [build, sha256, packed, image.byteLength],
          ),
        );
      } catch (error) {
        options.onError?.('put', error);
      }
    },
    async prune(keepBuild, olderThanDays = 7) {
      const { rows } = await db.withTenant(null, (tx) =>
        tx.query<{ n: number }>(
          `WITH gone AS (DELETE FROM connectors.sandbox_images WHERE build <> $1 AND created_at < now() - make_interval(days => $2) RETURNING 1)
           SELECT count(*)::int AS n FROM gone`,
          [keepBuild, olderThanDays],
        ),
      );
      return rows[0]?.n ?? 0;
    },
  };
  return store;
}
