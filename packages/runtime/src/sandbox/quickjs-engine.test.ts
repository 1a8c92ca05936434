// The engine on its own (no worker): the memory cap is the WebAssembly memory's fixed maximum, so no kind of
// allocation gets past it, and guest error data is sanitised before it reaches the host.
import { describe, expect, it } from 'vitest';
import { classifyEngineFault, createQuickJSEngine, guestErrorData, MIN_MEMORY_BYTES } from './quickjs-engine.ts';
import type { EngineHostBridge } from './types.ts';

const CAP = 24 * 1024 * 1024;
const engine = createQuickJSEngine();
const bridge: EngineHostBridge = {
  call: () => Promise.resolve(''),
  log: () => undefined,
};

function bomb(body: string): string {
  return `export default { async executeAction() { ${body} } };`;
}

describe('memory cap', () => {
  const bombs: Record<string, string> = {
    strings: 'const k = []; for (let i = 0; ; i++) k.push("s".repeat(1 << 16) + i);',
    arrays: 'const k = []; for (;;) k.push(new Array(1024).fill(1.5));',
    typedArrays: 'const k = []; for (;;) k.push(new Uint8Array(1 << 20));',
    arrayBuffers: 'const k = []; for (;;) k.push(new ArrayBuffer(8 << 20));',
    oneHugeBuffer: 'return new ArrayBuffer(1024 * 1024 * 1024).byteLength;',
    objects: 'const m = new Map(); for (let i = 0; ; i++) m.set("k" + i, { i });',
  };
  for (const [name, body] of Object.entries(bombs)) {
    it(`keeps a ${name} bomb inside the cap`, async () => {
      const sandbox = await engine.create(bomb(body), { memoryBytes: CAP, maxStackBytes: 256 * 1024 }, Date.now() + 20_000);
      const outcome = await sandbox.execute({ kind: 'action', action: 'x', params: {} }, undefined, bridge, Date.now() + 20_000).then(
        () => 'resolved',
        (e: { code: string }) => e.code,
      );
      expect(outcome).toBe('SANDBOX_MEMORY');
      expect(sandbox.memoryBytes).toBeLessThanOrEqual(CAP);
      expect(sandbox.broken).toBe(true);
      sandbox.dispose();
    });
  }

  it('raises caps below the engine minimum to the minimum', async () => {
    const sandbox = await engine.create('export default {}', { memoryBytes: 1024, maxStackBytes: 256 * 1024 }, Date.now() + 5000);
    expect(sandbox.memoryBytes).toBe(MIN_MEMORY_BYTES);
    sandbox.dispose();
  });
});

describe('guest error data', () => {
  const limits = { memoryBytes: CAP, maxStackBytes: 256 * 1024 };
  it('keeps valid connector codes and known fields only', () => {
    expect(guestErrorData(JSON.stringify({ code: 'RATE_LIMITED', message: 'slow down', retryAfter: 3, extra: 'x', upstreamStatus: 429 }), limits)).toEqual({
      code: 'RATE_LIMITED', message: 'slow down', retryAfter: 3, upstreamStatus: 429,
    });
  });
  it('turns unknown and host-only codes into INTERNAL', () => {
    expect(guestErrorData(JSON.stringify({ code: 'EVIL', message: 'm' }), limits).code).toBe('INTERNAL');
    for (const code of ['SANDBOX_DEADLINE', 'SANDBOX_MEMORY', 'QUARANTINED', 'QUEUE_FULL']) {
      expect(guestErrorData(JSON.stringify({ code, message: 'm' }), limits).code).toBe('INTERNAL');
    }
  });
  it('caps message length and survives garbage', () => {
    expect(guestErrorData(JSON.stringify({ code: 'INTERNAL', message: 'x'.repeat(10_000) }), limits).message).toHaveLength(4000);
    expect(guestErrorData('not json', limits)).toMatchObject({ code: 'INTERNAL' });
    expect(guestErrorData('null', limits)).toMatchObject({ code: 'INTERNAL' });
  });
  it('treats an empty exception as out-of-memory only when memory is near the cap', () => {
    expect(guestErrorData(JSON.stringify({ code: 'INTERNAL', message: 'm', fault: 'empty' }), limits, true).code).toBe('SANDBOX_MEMORY');
    expect(guestErrorData(JSON.stringify({ code: 'INTERNAL', message: 'm', fault: 'empty' }), limits, false).code).toBe('INTERNAL');
  });
  it('classifies engine faults', () => {
    expect(classifyEngineFault(new RangeError('Maximum call stack size exceeded'), limits).code).toBe('SANDBOX_CRASH');
    expect(classifyEngineFault(new Error('Aborted(OOM)'), limits).code).toBe('SANDBOX_MEMORY');
    expect(classifyEngineFault(new Error('memory access out of bounds'), limits).code).toBe('SANDBOX_CRASH');
  });
});
