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

/** The image's bytes in shared memory, so posting it to a worker shares it instead of copying ~1 MB each time. */
function shared(image: Uint8Array): Uint8Array {
  if (image.buffer instanceof SharedArrayBuffer) return image;
  const copy = new Uint8Array(new SharedArrayBuffer(image.byteLength));
  copy.set(image);
  return copy;
}

/**
 * An in-process image store (the pool's default): every worker of the pool starts a bundle another worker already
 * loaded from its image. Images of other builds simply miss. Images are kept in shared memory (nobody writes them
 * after they are stored), so handing one to a worker thread copies nothing.
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
      images.set(key, shared(image));
      bytes += image.byteLength;
      for (const [k, v] of images) {
        if (bytes <= maxBytes) break;
        images.delete(k);
        bytes -= v.byteLength;
      }
    },
  };
}
