// Source of the glue that runs INSIDE the guest, before the bundle. It is a string: nothing here executes on
// the host. It receives two host functions (JSON strings in and out), keeps them in a closure (no global
// names), installs the few globals the SDK needs (a JSON structuredClone), and returns `run`, which the host
// keeps as a handle and calls once per execution.

/**
 * Evaluates to a function `(hostCall, hostLog, seed) => run` (seed: 32 hex digits for Math.random while the bundle loads).
 * `run.drewRandom` is true once guest code called Math.random.
 * `run(connector, callJson, connectionJson, seed)` (seed: 32 hex digits for Math.random) returns a promise of a string: `'1' + resultJson` on success,
 * `'0' + errorJson` on failure, where errorJson is `{ code, message, ..., fault? }`.
 */
export const GUEST_PRELUDE = String.raw`(function (hostCall, hostLog, firstSeed) {
  'use strict';
  var stringify = JSON.stringify;
  var parse = JSON.parse;
  var PromiseCtor = Promise;
  var resolve = Promise.resolve.bind(Promise);
  var then = Promise.prototype.then;
  var ErrorCtor = Error;
  var keys = ['retryAfter', 'path', 'upstreamStatus', 'details'];

  // Shared memory and atomics serve no purpose in a single-threaded guest and only sharpen timing attacks.
  delete globalThis.SharedArrayBuffer;
  delete globalThis.Atomics;
  Object.defineProperty(globalThis, 'structuredClone', {
    value: function structuredClone(value) { return value === undefined ? undefined : parse(stringify(value)); },
    writable: true, configurable: true, enumerable: false,
  });

  // Math.random from a generator the host reseeds before every call: QuickJS seeds its own once per context, and a
  // sandbox started from an image (see sandbox-image.ts) would otherwise repeat the image's sequence.
  var imul = Math.imul;
  var s0 = 1, s1 = 2, s2 = 3, s3 = 4;
  // Whether any number was drawn: the host captures no image of a bundle that drew some while it loaded, as every
  // sandbox restored from that image (any tenant's) would start with the same "random" values in its state.
  var drawn = false;
  function rotl(x, k) { return (x << k) | (x >>> (32 - k)); }
  function next32() {
    var out = imul(rotl(imul(s1, 5), 7), 9) >>> 0;
    var t = s1 << 9;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = rotl(s3, 11);
    return out;
  }
  Object.defineProperty(Math, 'random', {
    value: function random() { drawn = true; return ((next32() >>> 5) * 67108864 + (next32() >>> 6)) / 9007199254740992; },
    writable: true, configurable: true, enumerable: false,
  });
  function reseed(seed) {
    if (typeof seed !== 'string' || seed.length !== 32) return;
    s0 = parseInt(seed.slice(0, 8), 16) | 0; s1 = parseInt(seed.slice(8, 16), 16) | 0;
    s2 = parseInt(seed.slice(16, 24), 16) | 0; s3 = parseInt(seed.slice(24, 32), 16) | 0;
    if ((s0 | s1 | s2 | s3) === 0) s0 = 1;
  }
  reseed(firstSeed);

  function toError(data) {
    var err = new ErrorCtor(String(data && data.message));
    err.name = 'ConnectorError';
    err.code = data && data.code;
    for (var i = 0; i < keys.length; i++) if (data && data[keys[i]] !== undefined) err[keys[i]] = data[keys[i]];
    return err;
  }
  function call(op, args) {
    return then.call(hostCall(op, stringify(args)), function (json) { return json === '' ? undefined : parse(json); },
      function (errJson) { throw toError(parse(errJson)); });
  }
  function transport(request) { return call('request', [request]); }
  var store = {
    get: function (key) { return call('storeGet', [String(key)]); },
    set: function (key, value) { return then.call(call('storeSet', [String(key), value === undefined ? null : value]), function () {}); },
    delete: function (key) { return then.call(call('storeDelete', [String(key)]), function () {}); },
  };
  function log(level, message, data) {
    hostLog(String(level), String(message), data === undefined ? undefined : stringify(data));
  }
  function errorData(e) {
    var out = { code: 'INTERNAL', message: 'Connector threw a non-error value' };
    try {
      if (typeof e === 'string') { out.message = e; return out; }
      // Out of memory, QuickJS sometimes throws no value at all: null, undefined, or an internal one typeof calls 'unknown'.
      if (e === null || e === undefined || typeof e === 'unknown') { out.fault = 'empty'; return out; }
      if (typeof e !== 'object') return out;
      var name = String(e.name);
      var message = String(e.message);
      if (name === 'InternalError' && message === 'out of memory') out.fault = 'memory';
      else if (name === 'InternalError' && message === 'stack overflow') out.fault = 'stack';
      if (typeof e.code === 'string') out.code = e.code;
      out.message = message || name;
      for (var i = 0; i < keys.length; i++) if (e[keys[i]] !== undefined) out[keys[i]] = e[keys[i]];
      return parse(stringify(out));
    } catch (inner) {
      return { code: 'INTERNAL', message: 'Connector threw an error that could not be serialised' };
    }
  }
  function fail(e) {
    var data = errorData(e);
    try { return '0' + stringify(data); } catch (inner) { return '0{"code":"INTERNAL","message":"unserialisable error"}'; }
  }
  // Deliveries one after another (a connector may keep state between them, as between executions); each outcome
  // on its own, so one failing delivery does not fail the others.
  function transformEach(connector, trigger, inputs, env) {
    var outcomes = [];
    var i = 0;
    function next() {
      if (i >= inputs.length) return outcomes;
      var input = inputs[i++];
      var pending;
      try {
        pending = resolve(connector.executeTrigger(trigger, 'transform', input, env));
      } catch (e) {
        outcomes.push({ ok: false, error: errorData(e) });
        return next();
      }
      return then.call(pending, function (value) {
        outcomes.push({ ok: true, value: value === undefined ? null : value });
        return next();
      }, function (e) {
        outcomes.push({ ok: false, error: errorData(e) });
        return next();
      });
    }
    return next();
  }
  var run = function run(connector, callJson, connectionJson, seed) {
    reseed(seed);
    var job = parse(callJson);
    var connection = parse(connectionJson);
    var env = { transport: transport, log: log, connection: connection, store: store };
    var pending;
    try {
      if (connector === null || (typeof connector !== 'object' && typeof connector !== 'function')) {
        throw { code: 'INVALID_OUTPUT', message: 'The bundle has no default export; export the connector as default' };
      }
      switch (job.kind) {
        case 'manifest': pending = connector.manifest; break;
        case 'authenticate': pending = connector.authenticate(env); break;
        case 'action': pending = connector.executeAction(job.action, job.params, env); break;
        case 'trigger': pending = connector.executeTrigger(job.trigger, job.operation, job.input, env); break;
        case 'transforms': pending = transformEach(connector, job.trigger, job.inputs, env); break;
        default: throw { code: 'INVALID_INPUT', message: 'Unknown call kind' };
      }
    } catch (e) {
      return resolve(fail(e));
    }
    return then.call(resolve(pending), function (value) {
      try {
        var json = stringify(value);
        return '1' + (json === undefined ? 'null' : json);
      } catch (e) {
        return fail(e);
      }
    }, fail);
  };
  // Only the host holds run, so only the host reads this (before it captures an image, when no call has run yet).
  Object.defineProperty(run, 'drewRandom', { get: function () { return drawn; }, enumerable: false, configurable: false });
  return run;
})`;
