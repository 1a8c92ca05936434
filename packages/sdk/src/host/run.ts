import type { Credentials } from '../auth.ts';
import type { Connector, ExecutionEnv, LogLevel } from '../connector.ts';
import { ConnectorError, NotFoundError } from '../errors.ts';
import type { Transport } from '../http.ts';
import type { KeyValueStore } from '../store.ts';
import { createLocalTransport } from './local-transport.ts';
import type { PlatformConfig } from './oauth2.ts';
import { assertValid } from './validate.ts';

export interface RunOptions {
  /** A ready transport; otherwise one is made with {@link createLocalTransport} from the options below. */
  transport?: Transport;
  credentials?: Credentials;
  fields?: Record<string, string>;
  config?: PlatformConfig;
  baseUrlOverride?: string;
  fetch?: typeof fetch;
  store?: KeyValueStore;
  log?: (level: LogLevel, message: string, data?: unknown) => void;
  /** Validate params before and output after (default true). */
  validate?: boolean;
  onCredentials?: (credentials: Credentials) => void | Promise<void>;
}

/** Builds the execution env a host gives a connector, from run options. */
export function createLocalEnv(connector: Connector, options: RunOptions): ExecutionEnv {
  const fields = { ...(options.credentials?.fields ?? {}), ...(options.fields ?? {}) };
  const secretNames = new Set(Object.entries(connector.manifest.auth.fields ?? {}).filter(([, f]) => f.secret).map(([n]) => n));
  const transport = options.transport ?? createLocalTransport({
    manifest: connector.manifest,
    credentials: options.credentials,
    fields,
    config: options.config,
    baseUrlOverride: options.baseUrlOverride,
    fetch: options.fetch,
    onCredentials: options.onCredentials,
  });
  return {
    transport,
    log: options.log,
    // Secret connection fields stay on the host; connector code sees only the others.
    connection: { fields: Object.fromEntries(Object.entries(fields).filter(([k]) => !secretNames.has(k))) },
    store: options.store,
  };
}

/**
 * Runs one action the way a host does: params validated against the action's schema, the connector called with
 * a host transport that adds credentials, the output validated against the output schema.
 */
export async function runAction(connector: Connector, action: string, params: unknown, options: RunOptions = {}): Promise<unknown> {
  const def = connector.manifest.actions.find((a) => a.name === action);
  const label = `${connector.manifest.name}.${action}`;
  if (!def) {
    throw new NotFoundError(`Connector ${connector.manifest.name} has no action "${action}"; available: ${connector.manifest.actions.map((a) => a.name).join(', ') || 'none'}`);
  }
  const validate = options.validate ?? true;
  const input = params ?? {};
  if (validate) assertValid(def.params, input, `params of ${label}`);
  const output = await connector.executeAction(action, input, createLocalEnv(connector, options));
  if (validate && def.output) {
    try {
      assertValid(def.output, output, `output of ${label}`, 'INVALID_OUTPUT');
    } catch (error) {
      if (error instanceof ConnectorError) throw error;
      throw error;
    }
  }
  return output;
}
