import type { SecretSource } from '@businessos/connector-sdk';

/** What a host knows about one subscription when it resolves its signing secret. */
export interface SecretContext {
  /** The secret subscribe returned (decrypted by the host). */
  subscriptionSecret?: string | undefined;
  /** The connection's fields, secret ones included (host side only). */
  fields?: Record<string, string | undefined> | undefined;
  /** Platform configuration (e.g. an OAuth app's client secret). */
  config?: Record<string, string | undefined> | undefined;
}

/**
 * Resolves a manifest's {@link SecretSource}: `subscription`, `field:<name>` or `config:<key>`.
 * Returns undefined when the source names nothing that is set, so verification fails closed.
 */
export function resolveSigningSecret(source: SecretSource, context: SecretContext): string | undefined {
  let value: string | undefined;
  if (source === 'subscription') value = context.subscriptionSecret;
  else if (source.startsWith('field:')) value = context.fields?.[source.slice('field:'.length)];
  else if (source.startsWith('config:')) value = context.config?.[source.slice('config:'.length)];
  return value === '' ? undefined : value;
}
