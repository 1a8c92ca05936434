// Where sandbox images are kept between sandboxes, workers and processes. The pool asks for an image whenever it
// sends a bundle to a worker that does not hold it, and stores the image a worker captured after its first load.

/** Keeps sandbox images by engine build and bundle sha256. Values are opaque bytes (see sandbox-image.ts). */
export interface SandboxImageStore {
  get(build: string, sha256: string): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  put(build: string, sha256: string, image: Uint8Array): void | Promise<void>;
}

/** Options of {@link createMemoryImageStore}. */
export interface MemoryImageStoreOptions {
  /** Total bytes kept; the least recently used images go first (default 64 MiB). */
  maxBytes?: number;
}

/**
 * An in-process image store (the pool's default): every worker of the pool starts a bundle another worker already
 * loaded from its image. Images of other builds simply miss.
 */
export function createMemoryImageStore(options: MemoryImageStoreOptions = {}): SandboxImageStore {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const images = new Map<string, Uint8Array>();
  let bytes = 0;
  return {
    get(build, sha256) {
      const key = `${build}:${sha256}`;
      const image = images.get(key);
      if (image) {
        images.delete(key);
        images.set(key, image);
      }
      return image;
    },
    put(build, sha256, image) {
      const key = `${build}:${sha256}`;
      if (image.byteLength > maxBytes) return;
      const old = images.get(key);
      if (old) bytes -= old.byteLength;
      images.delete(key);
      images.set(key, image);
      bytes += image.byteLength;
      for (const [k, v] of images) {
        if (bytes <= maxBytes) break;
        images.delete(k);
        bytes -= v.byteLength;
      }
    },
  };
}
