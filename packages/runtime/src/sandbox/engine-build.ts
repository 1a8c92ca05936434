// Identity of the QuickJS engine build, for sandbox images. Kept apart from the engine so the pool (on the
// caller's thread) can name image keys without loading the engine.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { GUEST_PRELUDE } from './guest-prelude.ts';
import { IMAGE_FORMAT } from './sandbox-image.ts';

let buildId: string | undefined;

/** The installed QuickJS WebAssembly binary. */
export function quickJSWasmBytes(): Buffer {
  return readFileSync(createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm'));
}

/**
 * Identity of everything a sandbox image depends on: the QuickJS WebAssembly build, the wrapper library's version,
 * the guest glue evaluated before the bundle, and the image format. An image is only restored into the same build.
 */
export function engineBuildId(): string {
  if (!buildId) {
    // The wrapper package does not export its package.json; its entry point sits in dist/ beside it.
    const entry = createRequire(import.meta.url).resolve('quickjs-emscripten-core');
    const core = (JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }).version;
    buildId = `qjs-${createHash('sha256').update(quickJSWasmBytes()).update(`\0${core}\0${IMAGE_FORMAT}\0`).update(GUEST_PRELUDE).digest('hex').slice(0, 32)}`;
  }
  return buildId;
}
