/* eslint-disable -- deliberately hostile fixture code: empty loops, unused arguments and unreachable code are the point */
// Hand-written evil bundle: every action tries to reach something of the host (process, require, the host's
// Function, host objects) and reports what it found. The security suite asserts that nothing was found.
// Translations of public vm2 advisories are named by their GHSA id; the payloads are written for this setting.

function isHostThing(x) {
  try {
    if (x === null || (typeof x !== 'object' && typeof x !== 'function')) return false;
    return typeof x.pid === 'number' || typeof x.binding === 'function' || typeof x.mainModule === 'object' ||
      typeof x.readFileSync === 'function' || typeof x.execSync === 'function' || typeof x.dlopen === 'function' ||
      (typeof x.versions === 'object' && x.versions !== null && typeof x.versions.node === 'string');
  } catch (e) {
    return false;
  }
}

// Runs `probe` and reports what it returned; a throw is a failed attempt (what we want).
function attempt(probe) {
  try {
    const got = probe();
    return { escaped: isHostThing(got), type: typeof got };
  } catch (e) {
    return { escaped: false, threw: String(e && e.name) };
  }
}

async function attemptAsync(probe) {
  try {
    const got = await probe();
    return { escaped: isHostThing(got), type: typeof got };
  } catch (e) {
    return { escaped: false, threw: String(e && e.name) };
  }
}

function processVia(fn) {
  return fn.constructor.constructor('return typeof process === "undefined" ? (typeof require === "undefined" ? undefined : require("fs")) : process')();
}

function recurse() {
  return recurse() + 1;
}

const actions = {
  constructorChain() {
    return attempt(() => this.constructor.constructor('return process')());
  },
  functionReturnThis() {
    const g = Function('return this')();
    return { names: Object.getOwnPropertyNames(g).sort(), same: g === globalThis };
  },
  envObjects(params, env) {
    return {
      transport: attempt(() => processVia(env.transport)),
      log: attempt(() => processVia(env.log)),
      storeGet: attempt(() => processVia(env.store.get)),
      connection: attempt(() => processVia(env.connection)),
      params: attempt(() => processVia(params)),
    };
  },
  globals() {
    return {
      process: typeof globalThis.process, require: typeof globalThis.require, module: typeof globalThis.module,
      Buffer: typeof globalThis.Buffer, setTimeout: typeof globalThis.setTimeout, setInterval: typeof globalThis.setInterval,
      fetch: typeof globalThis.fetch, WebAssembly: typeof globalThis.WebAssembly, SharedArrayBuffer: typeof globalThis.SharedArrayBuffer,
      Atomics: typeof globalThis.Atomics, importScripts: typeof globalThis.importScripts, Deno: typeof globalThis.Deno, Bun: typeof globalThis.Bun,
    };
  },
  async dynamicImport(params) {
    const out = {};
    for (const spec of ['node:fs', 'fs', 'child_process', 'node:child_process', 'node:worker_threads', 'os', 'file:///etc/passwd', 'data:text/javascript,export default 1']) {
      out[spec] = await attemptAsync(async () => {
        const m = await import(spec);
        return m.default ?? m;
      });
    }
    return out;
  },
  pollute(params, env) {
    params.__proto__.pollutedByGuest = true;
    Object.prototype.pollutedByGuest2 = true;
    Array.prototype.pollutedArray = true;
    env.connection.constructor.prototype.pollutedByGuest3 = true;
    JSON.parse = () => ({ hijacked: true });
    return JSON.parse('{"__proto__": {"pollutedViaResult": true}}');
  },
  protoResult() {
    return Object.assign(Object.create(null), { ['__proto__']: { pollutedViaResult: true }, constructor: { prototype: { pollutedViaResult2: true } } });
  },
  async pollutedRequest(params, env) {
    const req = JSON.parse('{"method":"GET","url":"/x","headers":{"__proto__":{"pollutedViaRequest":true}},"__proto__":{"pollutedViaRequest2":true}}');
    return env.transport(req);
  },
  // GHSA-7jxr-cg7f-gpgv (CVE-2023-29017): host frames via Error.prepareStackTrace during async work.
  async prepareStackTrace(params, env) {
    const seen = [];
    Error.prepareStackTrace = (error, frames) => {
      seen.push(attempt(() => frames.constructor.constructor('return process')()));
      try { for (const f of frames) seen.push(attempt(() => f.getThis())); } catch (e) { seen.push({ escaped: false }); }
      return 'hijacked';
    };
    let hostError;
    try {
      await env.transport({ method: 'GET', url: '/fail' });
    } catch (e) {
      hostError = e;
    }
    void new Error('x').stack;
    return {
      seen,
      hostErrorKeys: hostError ? Object.getOwnPropertyNames(hostError).sort() : [],
      hostErrorStack: hostError ? String(hostError.stack) : '',
      hostError: hostError ? attempt(() => hostError.constructor.constructor('return process')()) : null,
    };
  },
  // GHSA-ch3r-j5x3-6q2m (CVE-2023-29199): the exception raised by a stack overflow, caught and climbed.
  stackOverflowException() {
    try {
      recurse();
      return { escaped: false, note: 'no overflow' };
    } catch (e) {
      return attempt(() => e.constructor.constructor('return process')());
    }
  },
  // GHSA-whpj-8f3w-67p5 (CVE-2023-30547): a Proxy thrown as an exception whose trap overflows the stack.
  proxyThrown() {
    const trap = new Proxy({}, { getPrototypeOf() { recurse(); return null; } });
    try {
      throw trap;
    } catch (caught) {
      try {
        Object.getPrototypeOf(caught);
      } catch (e) {
        return attempt(() => e.constructor.constructor('return process')());
      }
      return { escaped: false };
    }
  },
  // GHSA-g644-9gfx-q4q4 / GHSA-p5gc-c584-jj6v / GHSA-v37h-5mfm-c47c: custom inspect functions reaching a host inspector.
  inspectLog(params, env) {
    const evil = { [Symbol.for('nodejs.util.inspect.custom')]: (depth, opts, inspect) => { globalThis.inspected = [typeof opts, typeof inspect]; return 'owned'; } };
    env.log('info', 'inspect me', evil);
    const proxy = new Proxy({}, { get(t, k) { globalThis.proxyTouched = String(k); return () => 'owned'; } });
    env.log('info', 'proxy', proxy);
    return { inspected: globalThis.inspected ?? null };
  },
  // GHSA-cchq-frgv-rjh5 (CVE-2023-37466) / GHSA-qvjj-29qf-hp7p: Promise handler sanitisation and species.
  async promiseSpecies(params, env) {
    const results = [];
    const originalThen = Promise.prototype.then;
    Promise.prototype.then = function (onOk, onErr) {
      return originalThen.call(this, (v) => { results.push(attempt(() => processVia(v ?? {}))); return onOk ? onOk(v) : v; },
        (e) => { results.push(attempt(() => processVia(e ?? {}))); if (onErr) return onErr(e); throw e; });
    };
    class Species extends Promise {
      static get [Symbol.species]() { return Species; }
    }
    try {
      await env.transport({ method: 'GET', url: '/ok' });
      await env.transport({ method: 'GET', url: '/fail' }).catch((e) => e);
      await Species.resolve(1).then((x) => x);
    } finally {
      Promise.prototype.then = originalThen;
    }
    return { results };
  },
  // GHSA-grj5-jjm8-h35p: __lookupGetter__ / __defineGetter__ to reach another realm's prototype.
  lookupGetter(params, env) {
    const getProto = {}.__lookupGetter__('__proto__');
    return {
      transport: attempt(() => getProto.call(env.transport).constructor.constructor('return process')()),
      response: attempt(() => getProto.call(params).constructor.constructor('return process')()),
    };
  },
  // GHSA-55hx-c926-fr95: SuppressedError / AggregateError wrapping of host errors.
  async suppressedError(params, env) {
    const out = { hasSuppressedError: typeof SuppressedError };
    try {
      await Promise.any([env.transport({ method: 'GET', url: '/fail' })]);
    } catch (e) {
      out.aggregate = attempt(() => e.constructor.constructor('return process')());
      out.inner = attempt(() => e.errors[0].constructor.constructor('return process')());
    }
    return out;
  },
  // GHSA-mrgp-mrhc-5jrq (CVE-2021-23449): import() inside the sandbox.
  async importInside() {
    return attemptAsync(async () => (await import('child_process')).execSync);
  },
  // Values returned to the host: a Proxy whose traps would run on the host if the host touched it.
  proxyResult() {
    return new Proxy({ a: 1 }, {
      get(target, key) { globalThis.trapRan = true; return key === 'toJSON' ? undefined : Reflect.get(target, key); },
      ownKeys() { return ['a', 'b']; },
      getOwnPropertyDescriptor(t, k) { return { value: k, enumerable: true, configurable: true }; },
    });
  },
  getterResult() {
    return { get secret() { return 'computed in guest'; } };
  },
  thenableResult() {
    return { then(resolve) { resolve({ fromThenable: true }); } };
  },
  thenableNever() {
    return { then() {} };
  },
  throwProxy() {
    throw new Proxy({}, { get(t, k) { if (k === 'code') return 'SANDBOX_DEADLINE'; if (k === 'message') return 'forged'; return undefined; } });
  },
  forgeCode() {
    const e = new Error('I claim to be the host');
    e.code = 'QUARANTINED';
    throw e;
  },
  weirdResult() {
    return { fn() {}, sym: Symbol('s'), big: undefined, date: new Date(0), nan: NaN };
  },
  circularResult() {
    const a = {};
    a.self = a;
    return a;
  },
  bigintResult() {
    return { n: 10n };
  },
  hostCallOutsideExecution(params, env) {
    globalThis.savedTransport = env.transport;
    return { saved: true };
  },
  async useSavedTransport() {
    return globalThis.savedTransport({ method: 'GET', url: '/late' });
  },
  setGlobal(params) {
    globalThis.tenantSecret = params.value;
    return { set: params.value };
  },
  getGlobal() {
    return { seen: globalThis.tenantSecret ?? null };
  },
  async evalHostObject(params, env) {
    return {
      evalTransport: attempt(() => eval('env.transport.constructor("return process")()')),
      indirect: attempt(() => (0, eval)('typeof process === "undefined" ? null : process')),
    };
  },
};

export default {
  async executeAction(name, params, env) {
    const fn = actions[name];
    if (!fn) throw Object.assign(new Error('no action ' + name), { code: 'NOT_FOUND' });
    return fn.call(this, params, env);
  },
};
