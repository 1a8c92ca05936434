// Source of the runner that starts inside a process-tier child (written next to the bundle in the child's
// private temp folder, so the child needs read access to nothing else). It loads the bundle and answers
// run requests over fd 3, a pipe carrying one JSON message per line each way (not Node's IPC channel, which
// the host cannot bound); HTTP, logs and the store go back to the host as JSON.
// Everything in the child, including this runner, is untrusted from the host's point of view.

/** The runner module's source (plain JavaScript, Node built-ins only). */
export const PROCESS_RUNNER_SOURCE = String.raw`
import { Socket } from 'node:net';
const bundleUrl = new URL('./bundle.mjs', import.meta.url).href;
const pending = new Map();
let nextCallId = 1;
let connector;

const channel = new Socket({ fd: 3, readable: true, writable: true });
let open = true;
// The host is gone (or closed the pipe): nothing left to do.
const quit = () => { open = false; process.exit(0); };
channel.on('end', quit);
channel.on('error', quit);

function send(message) {
  if (open) channel.write(JSON.stringify(message) + '\n');
}

function toError(data) {
  const err = new Error(String(data && data.message));
  err.name = 'ConnectorError';
  for (const k of ['code', 'retryAfter', 'path', 'upstreamStatus']) if (data && data[k] !== undefined) err[k] = data[k];
  return err;
}

function errorData(e) {
  if (e === null || e === undefined) return { code: 'INTERNAL', message: 'Connector threw a non-error value' };
  if (typeof e === 'string') return { code: 'INTERNAL', message: e };
  const out = { code: typeof e.code === 'string' ? e.code : 'INTERNAL', message: String(e.message || e.name || 'error') };
  for (const k of ['retryAfter', 'path', 'upstreamStatus', 'details']) if (e[k] !== undefined) out[k] = e[k];
  try { return JSON.parse(JSON.stringify(out)); } catch { return { code: out.code, message: out.message }; }
}

function envFor(id, connection) {
  const call = (op, args) => new Promise((resolve, reject) => {
    const callId = nextCallId++;
    pending.set(callId, { resolve, reject });
    send({ t: 'host', id, callId, op, args: JSON.stringify(args) });
  });
  return {
    transport: (request) => call('request', [request]),
    log: (level, message, data) => send({ t: 'log', id, level: String(level), message: String(message), data: data === undefined ? undefined : JSON.stringify(data) }),
    connection,
    store: {
      get: (key) => call('storeGet', [String(key)]),
      set: (key, value) => call('storeSet', [String(key), value === undefined ? null : value]).then(() => undefined),
      delete: (key) => call('storeDelete', [String(key)]).then(() => undefined),
    },
  };
}

async function run(msg) {
  const { id, call } = msg;
  const env = envFor(id, msg.connection || {});
  try {
    let value;
    switch (call.kind) {
      case 'manifest': value = connector.manifest; break;
      case 'authenticate': value = await connector.authenticate(env); break;
      case 'action': value = await connector.executeAction(call.action, call.params, env); break;
      case 'trigger': value = await connector.executeTrigger(call.trigger, call.operation, call.input, env); break;
      case 'transforms':
        value = [];
        for (const input of call.inputs) {
          try {
            const one = await connector.executeTrigger(call.trigger, 'transform', input, env);
            value.push({ ok: true, value: one === undefined ? null : one });
          } catch (e) {
            value.push({ ok: false, error: errorData(e) });
          }
        }
        break;
      default: throw { code: 'INVALID_INPUT', message: 'Unknown call kind' };
    }
    const json = JSON.stringify(value);
    send({ t: 'done', id, ok: true, json: json === undefined ? 'null' : json });
  } catch (e) {
    send({ t: 'done', id, ok: false, error: errorData(e) });
  }
}

let inbox = '';
channel.setEncoding('utf8');
channel.on('data', (chunk) => {
  inbox += chunk;
  for (let nl = inbox.indexOf('\n'); nl !== -1; nl = inbox.indexOf('\n')) {
    const line = inbox.slice(0, nl);
    inbox = inbox.slice(nl + 1);
    let msg;
    try { msg = JSON.parse(line); } catch { continue; }
    receive(msg);
  }
});

function receive(msg) {
  if (!msg || typeof msg !== 'object') return;
  if (msg.t === 'run') void run(msg);
  else if (msg.t === 'host-result') {
    const p = pending.get(msg.callId);
    if (!p) return;
    pending.delete(msg.callId);
    if (msg.ok) p.resolve(msg.json === '' ? undefined : JSON.parse(msg.json));
    else p.reject(toError(JSON.parse(msg.json)));
  }
}

try {
  const mod = await import(bundleUrl);
  connector = mod.default;
  if (connector === null || (typeof connector !== 'object' && typeof connector !== 'function')) throw new Error('The bundle has no default export; export the connector as default');
  send({ t: 'ready' });
} catch (e) {
  send({ t: 'load-error', message: String(e && e.message || e) });
}
`;
