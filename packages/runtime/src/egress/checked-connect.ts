import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction, type Socket } from 'node:net';
import { buildConnector } from 'undici';
import { ConnectorError, isConnectorError } from '@businessos/connector-sdk';
import { addressDenial, isLoopbackAddress } from './address-policy.ts';

/** Resolves a host name to addresses; the default is the system resolver (`dns.lookup`, all addresses). */
export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

/** Options of {@link createCheckedConnector}. */
export interface CheckedConnectOptions {
  /** Test mode: allow loopback addresses, and plain http to them. */
  allowLoopback: boolean;
  resolver?: Resolver;
  /** TCP/TLS connect timeout (default 10 s). */
  connectTimeoutMs?: number;
}

function denied(message: string): ConnectorError {
  return new ConnectorError('EGRESS_DENIED', message);
}

/** The ConnectorError a connect step put somewhere in an undici error's cause chain, if any. */
export function findConnectorError(error: unknown): ConnectorError | undefined {
  let e: unknown = error;
  for (let i = 0; i < 5 && e; i++) {
    if (isConnectorError(e) && e instanceof Error) return e as ConnectorError;
    if (e instanceof AggregateError) {
      const inner = e.errors.map(findConnectorError).find(Boolean);
      if (inner) return inner;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * An undici connector that checks every connection after DNS resolution, in the connect step itself, so the
 * address checked is the address connected to (no DNS-rebinding window): private, loopback (unless allowed),
 * link-local, metadata and other non-public addresses are refused with EGRESS_DENIED (see `addressDenial`), and
 * plain http is accepted only to a loopback address.
 */
export function createCheckedConnector(options: CheckedConnectOptions): buildConnector.connector {
  const resolver: Resolver = options.resolver ?? ((hostname) => dnsLookup(hostname, { all: true, verbatim: true }));
  const policy = { allowLoopback: options.allowLoopback };

  const checkedLookup: LookupFunction = (hostname, lookupOptions, callback) => {
    resolver(hostname).then(
      (addresses) => {
        const allowed = addresses.filter((a) => addressDenial(a.address, policy) === undefined);
        const first = allowed[0];
        if (!first) {
          const reasons = addresses.map((a) => addressDenial(a.address, policy) ?? a.address).join('; ');
          callback(denied(`${hostname} resolves only to addresses the runtime does not connect to (${reasons || 'no addresses'})`), '', 0);
          return;
        }
        if (lookupOptions.all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, allowed);
        else callback(null, first.address, first.family);
      },
      (error: Error) => callback(error as NodeJS.ErrnoException, '', 0),
    );
  };

  const baseConnect = buildConnector({ lookup: checkedLookup, timeout: options.connectTimeoutMs ?? 10_000 } as buildConnector.BuildOptions);
  return (opts, callback) => {
    const host = opts.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      // IP literals skip the lookup, so they are checked here.
      const denial = addressDenial(host, policy);
      if (denial) return callback(denied(`Refusing to connect to ${opts.hostname}: ${denial}`), null);
    }
    baseConnect(opts, (error, socket) => {
      if (error || !socket) return callback(error ?? new Error('connect failed'), null);
      const remote = (socket as Socket).remoteAddress ?? '';
      let denial = addressDenial(remote, policy);
      if (!denial && opts.protocol === 'http:' && !isLoopbackAddress(remote)) denial = `plain http is only allowed to loopback in test mode, not ${remote}`;
      if (denial) {
        socket.destroy();
        return callback(denied(`Refusing connection to ${opts.hostname}: ${denial}`), null);
      }
      callback(null, socket);
    });
  };
}

/** What {@link readCappedBody} reads: an undici answer body. */
interface AnswerBody extends AsyncIterable<unknown> {
  destroy(): unknown;
  on(event: 'error', listener: () => void): unknown;
}

/**
 * Reads an answer's body whole, refusing it past `max` bytes: at once when its Content-Length (`declared`, NaN when
 * absent or not to be trusted) says so, else as soon as the bytes read pass it; `tooLarge` makes the error, with the
 * declared size when that was the reason. `onBytes` hears the size of every chunk read (metering).
 */
export async function readCappedBody(body: AnswerBody, declared: number, max: number, tooLarge: (declared?: number) => Error, onBytes?: (bytes: number) => void): Promise<Buffer<ArrayBuffer>> {
  if (Number.isFinite(declared) && declared > max) {
    // Destroying an unread body emits 'error' (request aborted); unheard, it would crash the process.
    body.on('error', () => undefined);
    body.destroy();
    throw tooLarge(declared);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const bytes = (chunk as Buffer).length;
    size += bytes;
    onBytes?.(bytes);
    if (size > max) {
      body.destroy();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
