/* eslint-disable -- deliberately hostile fixture code: empty loops, unused arguments and unreachable code are the point */
// Hand-written bundle of resource attacks. Each action misbehaves in one way; the suite checks that the
// sandbox stops it with the right code and that the pool keeps serving.

function recurse(n) {
  return recurse(n + 1) + 1;
}

const actions = {
  ok(params) {
    return { ok: true, echo: params };
  },
  syncLoop() {
    for (;;) {}
  },
  async loopAfterAwait(params, env) {
    await null;
    await env.transport({ method: 'GET', url: '/x' });
    for (;;) {}
  },
  loopInCallback() {
    Promise.resolve().then(() => { for (;;) {} });
    return { returnedEarly: true };
  },
  loopInCatch() {
    try {
      for (;;) {}
    } catch (e) {
      return { caught: String(e) };
    } finally {
      for (;;) {}
    }
  },
  stringBomb() {
    const parts = [];
    for (let i = 0; ; i++) parts.push('x'.repeat(1 << 16) + i);
  },
  doublingString() {
    let s = 'x';
    for (;;) s = s + s + String(s.length);
  },
  arrayBomb() {
    const a = [];
    for (;;) a.push([1, 2, 3, 4, 5, 6, 7, 8]);
  },
  objectBomb() {
    const m = new Map();
    for (let i = 0; ; i++) m.set(i, { i, s: 'v' + i });
  },
  typedArrayBomb() {
    const keep = [];
    for (;;) keep.push(new Float64Array(1 << 20));
  },
  hugeArrayBuffer() {
    return { length: new ArrayBuffer(2 ** 31 - 1).byteLength };
  },
  async memoryInCallback() {
    await null;
    const keep = [];
    for (;;) keep.push(new Uint8Array(1 << 22));
  },
  memoryCaught() {
    const keep = [];
    try {
      for (;;) keep.push(new Uint8Array(1 << 22));
    } catch (e) {
      keep.length = 0;
      return { caught: String(e), survived: true };
    }
  },
  deepRecursion() {
    return recurse(0);
  },
  async recursionInCallback() {
    await null;
    return recurse(0);
  },
  recursionCaught() {
    try {
      return recurse(0);
    } catch (e) {
      return { caught: String(e) };
    }
  },
  regex(params) {
    return { match: /(a+)+$/.test('a'.repeat(params.n ?? 40) + 'b') };
  },
  async hostFlood(params, env) {
    const all = [];
    for (let i = 0; i < 100000; i++) all.push(env.transport({ method: 'GET', url: '/' + i }).catch(() => null));
    await Promise.all(all);
    return { sent: all.length };
  },
  async hostFloodSequential(params, env) {
    for (let i = 0; ; i++) {
      try {
        await env.transport({ method: 'GET', url: '/' + i });
      } catch (e) {
        // keep going: the quota must still end the execution
      }
    }
  },
  logFlood(params, env) {
    for (let i = 0; ; i++) {
      try {
        env.log('info', 'line ' + i + ' ' + 'y'.repeat(100));
      } catch (e) {
        // ignoring the quota error must not help
      }
    }
  },
  hugeResult(params) {
    return 'r'.repeat(params.bytes ?? 2_000_000);
  },
  async neverSettles() {
    return new Promise(() => {});
  },
  async slowHost(params, env) {
    return env.transport({ method: 'GET', url: '/slow' });
  },
};

export default {
  async executeAction(name, params, env) {
    const fn = actions[name];
    if (!fn) throw Object.assign(new Error('no action ' + name), { code: 'NOT_FOUND' });
    return fn(params, env);
  },
};
