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
