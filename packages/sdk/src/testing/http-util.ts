// Small node:http helpers shared by the local OAuth2 provider, the mock API and the dev server.
// Everything listens on 127.0.0.1 only: the simulator never opens a port on another interface.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectorError } from '../errors.ts';

/** Largest request body the simulator accepts (it is a test tool, not a file server). */
export const MAX_BODY_BYTES = 5 * 1024 * 1024;

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** A started loopback server. */
export interface LoopbackServer {
  /** `http://127.0.0.1:<port>` without a trailing slash. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts a node:http server on 127.0.0.1 (port 0 picks a free one). Handler failures answer 500 with the message. */
export async function listenLoopback(handler: RequestHandler, port = 0, name = 'simulator'): Promise<LoopbackServer> {
  const server: Server = createServer((req, res) => {
    handler(req, res).catch((error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: `${name} failed: ${message}` });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      reject(
        new ConnectorError(
          'INTERNAL',
          error.code === 'EADDRINUSE'
            ? `The ${name} cannot listen on 127.0.0.1:${port}: the port is in use; pick another port or pass 0 for a free one`
            : `The ${name} cannot listen on 127.0.0.1:${port}: ${error.message}`,
        ),
      );
    };
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets from fetch would otherwise hold close() open until they time out.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Reads the whole request body as text, refusing bodies above {@link MAX_BODY_BYTES}. */
export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) throw new ConnectorError('PAYLOAD_TOO_LARGE', `Request body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Sends a JSON answer. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** Header values as one string each, names lower-cased (repeated headers joined with `, `). */
export function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Query parameters: a single value as a string, repeated ones as a list. */
export function queryObject(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of params) {
    const prev = out[key];
    if (prev === undefined) out[key] = value;
    else out[key] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

const isIndex = (key: string) => /^(0|[1-9]\d*)$/.test(key);

/**
 * Parses `application/x-www-form-urlencoded` into an object, unfolding bracket keys
 * (`items[0][price]=p1` becomes `{ items: [{ price: 'p1' }] }`) the way Stripe-style APIs and the SDK's form encoder write them.
 */
export function parseForm(text: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const m = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(rawKey);
    const parts = m ? [m[1] as string, ...[...(m[2] ?? '').matchAll(/\[([^[\]]*)\]/g)].map((x) => x[1] as string)] : [rawKey];
    let node: Record<string, unknown> = root;
    parts.forEach((part, i) => {
      const key = part === '' ? String(Object.keys(node).length) : part;
      if (i === parts.length - 1) {
        const prev = node[key];
        if (prev === undefined) node[key] = value;
        else node[key] = Array.isArray(prev) ? [...prev, value] : [prev, value];
        return;
      }
      const next = node[key];
      if (typeof next === 'object' && next !== null && !Array.isArray(next)) node = next as Record<string, unknown>;
      else {
        const created: Record<string, unknown> = {};
        node[key] = created;
        node = created;
      }
    });
  }
  return arrayify(root) as Record<string, unknown>;
}

function arrayify(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, arrayify(v)] as const);
  const keys = entries.map(([k]) => k);
  if (keys.length > 0 && keys.every(isIndex) && keys.map(Number).sort((a, b) => a - b).every((n, i) => n === i)) {
    const list: unknown[] = [];
    for (const [k, v] of entries) list[Number(k)] = v;
    return list;
  }
  return Object.fromEntries(entries);
}

/** Parses a body by its content type: JSON, form, or the raw text. Empty bodies are `undefined`. */
export function parseBody(text: string, contentType: string | undefined): unknown {
  if (text === '') return undefined;
  const type = (contentType ?? '').toLowerCase();
  if (type.includes('application/x-www-form-urlencoded')) return parseForm(text);
  if (type.includes('json') || /^\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}
