// The engine on its own (no worker): the memory cap is the WebAssembly memory's fixed maximum, so no kind of
// allocation gets past it, and guest error data is sanitised before it reaches the host.
import { describe, expect, it } from 'vitest';
import { isHostViolation, reportedFault, vetGuestError } from './guest-errors.ts';
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
  it('marks as violations only faults the host detected or measured, never what the guest claims', () => {
    const claimed = [
      guestErrorData(JSON.stringify({ code: 'INTERNAL', message: 'out of memory', fault: 'memory' }), limits, false),
      guestErrorData(JSON.stringify({ code: 'INTERNAL', message: 'stack overflow', fault: 'stack' }), limits, true),
      vetGuestError({ fault: 'memory' }, limits),
      reportedFault('memory', limits, false),
    ];
    expect(claimed.map((e) => e.code)).toEqual(['SANDBOX_MEMORY', 'SANDBOX_CRASH', 'SANDBOX_MEMORY', 'SANDBOX_MEMORY']);
    for (const e of claimed) expect(isHostViolation(e)).toBe(false);
    // A copy is not the host's object either: the mark cannot travel in the fields a guest shapes.
    expect(isHostViolation({ ...classifyEngineFault(new Error('Aborted(OOM)'), limits) })).toBe(false);
    expect(isHostViolation(guestErrorData(JSON.stringify({ fault: 'memory' }), limits, true))).toBe(true);
    expect(isHostViolation(classifyEngineFault(new Error('memory access out of bounds'), limits))).toBe(true);
  });
  it('classifies engine faults', () => {
    expect(classifyEngineFault(new RangeError('Maximum call stack size exceeded'), limits).code).toBe('SANDBOX_CRASH');
    expect(classifyEngineFault(new Error('Aborted(OOM)'), limits).code).toBe('SANDBOX_MEMORY');
    expect(classifyEngineFault(new Error('memory access out of bounds'), limits).code).toBe('SANDBOX_CRASH');
  });
});

describe('starting from an image', () => {
  const limits = { memoryBytes: CAP, maxStackBytes: 256 * 1024 };
  const later = () => Date.now() + 20_000;
  const code = `
    let calls = 0;
    const secrets = [];
    export default {
      async executeAction(name, params, env) {
        calls += 1;
        if (name === 'remember') secrets.push(params.value);
        if (name === 'random') return [Math.random(), Math.random()];
        if (name === 'loop') for (;;) {}
        if (name === 'bomb') { const k = []; for (;;) k.push(new Uint8Array(1 << 20)); }
        const answer = await env.transport({ method: 'GET', url: '/x' });
        return { calls, secrets, answer };
      },
    };`;
  const echo: EngineHostBridge = { call: (_op, args) => Promise.resolve(JSON.stringify({ seen: JSON.parse(args) })), log: () => undefined };
  const run = (sandbox: Awaited<ReturnType<typeof engine.create>>, action: string, params: unknown = {}) =>
    sandbox.execute({ kind: 'action', action, params }, undefined, echo, later()).then((json) => JSON.parse(json) as unknown, (e: { code: string }) => e.code);

  it('restores the evaluated bundle without state from the sandbox it was taken from', async () => {
    const first = await engine.create(code, limits, later());
    const image = first.captureImage!()!;
    expect(image).toBeInstanceOf(Uint8Array);
    await run(first, 'remember', { value: 'tenant-a-secret' });
    expect(first.captureImage!()).toBeUndefined();

    const second = await engine.create(code, limits, later(), image);
    expect(second.restored).toBe(true);
    expect(await run(second, 'ping')).toEqual({ calls: 1, secrets: [], answer: { seen: [{ method: 'GET', url: '/x' }] } });
    expect(await run(second, 'ping')).toMatchObject({ calls: 2 });
    first.dispose();
    second.dispose();
  });

  it('gives every restored sandbox its own Math.random sequence', async () => {
    const image = (await engine.create(code, limits, later())).captureImage!()!;
    const a = await engine.create(code, limits, later(), image);
    const b = await engine.create(code, limits, later(), image);
    const ra = (await run(a, 'random')) as number[];
    const rb = (await run(b, 'random')) as number[];
    expect(ra).not.toEqual(rb);
    for (const r of [...ra, ...rb]) expect(r >= 0 && r < 1).toBe(true);
    a.dispose();
    b.dispose();
  });

  it('seeds Math.random for top-level code of a parsed bundle too', async () => {
    const topLevel = 'const drawn = Math.random(); export default { async executeAction() { return drawn; } };';
    const a = await engine.create(topLevel, limits, later());
    const b = await engine.create(topLevel, limits, later());
    expect(await run(a, 'x')).not.toEqual(await run(b, 'x'));
    a.dispose();
    b.dispose();
  });

  it('takes no image of a bundle that drew random numbers while loading: every restored sandbox would share them', async () => {
    const topLevel = 'const drawn = Math.random(); export default { async executeAction() { return drawn; } };';
    const drew = await engine.create(topLevel, limits, later());
    expect(drew.captureImage!()).toBeUndefined();
    drew.dispose();
    // Drawing during calls only keeps images.
    const calls = await engine.create(code, limits, later());
    expect(calls.captureImage!()).toBeInstanceOf(Uint8Array);
    calls.dispose();
  });

  it('keeps the deadline and the memory cap in a restored sandbox', async () => {
    const image = (await engine.create(code, limits, later())).captureImage!()!;
    const looping = await engine.create(code, limits, later(), image);
    expect(await looping.execute({ kind: 'action', action: 'loop', params: {} }, undefined, echo, Date.now() + 300).catch((e: { code: string }) => e.code)).toBe('SANDBOX_DEADLINE');
    const bombing = await engine.create(code, limits, later(), image);
    expect(bombing.restored).toBe(true);
    expect(await run(bombing, 'bomb')).toBe('SANDBOX_MEMORY');
    expect(bombing.memoryBytes).toBeLessThanOrEqual(CAP);
  });

  it('parses the bundle instead when the image is damaged or from another build', async () => {
    const image = (await engine.create(code, limits, later())).captureImage!()!;
    const damaged = image.slice(0, image.byteLength - 10);
    const otherBuild = new Uint8Array(Buffer.from(Buffer.from(image).toString('latin1').replace(/"build":"qjs-[0-9a-f]{4}/, '"build":"qjs-ffff'), 'latin1'));
    // An image of other code, whatever key a store filed it under, never starts this code.
    const otherCode = (await engine.create(`${code}\n// another build of the bundle`, limits, later())).captureImage!()!;
    for (const bad of [damaged, otherBuild, otherCode]) {
      const sandbox = await engine.create(code, limits, later(), bad);
      expect(sandbox.restored).toBe(false);
      expect(await run(sandbox, 'ping')).toMatchObject({ calls: 1 });
      sandbox.dispose();
    }
  });
});
