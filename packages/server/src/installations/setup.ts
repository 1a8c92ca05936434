import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AuthSpec, ConnectionField, Credentials } from '@businessos/connector-sdk';
import type { ProblemFieldError } from '../http/problem.ts';

/** One input of the connection form a tenant fills in. */
export interface FormField {
  name: string;
  label: string;
  /** Secret inputs are encrypted in the vault and never shown again. */
  secret: boolean;
  required: boolean;
  /** Where the value goes when creating the connection: `credentials.<name>` or `fields.<name>`. */
  in: 'credentials' | 'fields';
  description?: string;
  pattern?: string;
  placeholder?: string;
  default?: string;
}

function declaredFields(fields: Record<string, ConnectionField> | undefined): FormField[] {
  return Object.entries(fields ?? {}).map(([name, f]) => {
    const out: FormField = { name, label: f.label, secret: f.secret === true, required: f.required !== false, in: 'fields' };
    if (f.description !== undefined) out.description = f.description;
    if (f.pattern !== undefined) out.pattern = f.pattern;
    if (f.placeholder !== undefined) out.placeholder = f.placeholder;
    if (f.default !== undefined) out.default = f.default;
    return out;
  });
}

/** The form a connection of this auth needs: its credential inputs, then the connector's declared fields. */
export function formFields(spec: AuthSpec): FormField[] {
  const secret = (name: string, label: string): FormField => ({ name, label, secret: true, required: true, in: 'credentials' });
  switch (spec.type) {
    case 'api_key':
      return [secret('apiKey', spec.label ?? 'API key'), ...declaredFields(spec.fields)];
    case 'bearer':
      return [secret('token', spec.label ?? 'Access token'), ...declaredFields(spec.fields)];
    case 'basic':
      return [{ name: 'username', label: spec.usernameLabel ?? 'Username', secret: false, required: true, in: 'credentials' }, secret('password', spec.passwordLabel ?? 'Password'), ...declaredFields(spec.fields)];
    default:
      return declaredFields(spec.fields);
  }
}

/** What a connection create request carries. */
export interface ConnectionInput {
  credentials?: Record<string, string>;
  fields?: Record<string, string>;
}

/**
 * Splits a connection request into vault credentials (secrets, including secret fields) and plain fields, checking
 * it against the form: required inputs present, nothing undeclared, patterns matched. Errors name the JSON path.
 */
export function splitConnectionInput(spec: AuthSpec, input: ConnectionInput): { credentials: Credentials; fields: Record<string, string>; errors: ProblemFieldError[] } {
  const form = formFields(spec);
  const errors: ProblemFieldError[] = [];
  const credentials: Credentials = {};
  const plain: Record<string, string> = {};
  const secretFields: Record<string, string> = {};
  for (const part of ['credentials', 'fields'] as const) {
    for (const name of Object.keys(input[part] ?? {})) {
      if (!form.some((f) => f.in === part && f.name === name)) {
        const known = form.filter((f) => f.in === part).map((f) => f.name);
        errors.push({ path: `/${part}/${name}`, in: 'body', message: `is not part of this connector's ${part}${known.length ? ` (expected: ${known.join(', ')})` : ' (none expected)'}` });
      }
    }
  }
  for (const f of form) {
    const value = input[f.in]?.[f.name] ?? (f.in === 'fields' ? f.default : undefined);
    if (value === undefined || value === '') {
      if (f.required) errors.push({ path: `/${f.in}/${f.name}`, in: 'body', message: `is required (${f.label})` });
      continue;
    }
    if (f.pattern !== undefined && !new RegExp(f.pattern).test(value)) {
      errors.push({ path: `/${f.in}/${f.name}`, in: 'body', message: `must match ${f.pattern}` });
      continue;
    }
    if (f.in === 'credentials') (credentials as Record<string, string>)[f.name] = value;
    else if (f.secret) secretFields[f.name] = value;
    else plain[f.name] = value;
  }
  if (Object.keys(secretFields).length > 0 || Object.keys(plain).length > 0) credentials.fields = { ...plain, ...secretFields };
  return { credentials, fields: plain, errors };
}

/** Signs an OAuth `state` id so the callback can reject forged or altered values before touching the store. */
export function signState(id: string, key: Buffer): string {
  return `${id}.${createHmac('sha256', key).update(`oauth-state:${id}`).digest('base64url')}`;
}

/** The state id when the signature is valid; undefined otherwise. */
export function verifyState(state: string, key: Buffer): string | undefined {
  const dot = state.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const id = state.slice(0, dot);
  const expected = Buffer.from(signState(id, key));
  const given = Buffer.from(state);
  return expected.length === given.length && timingSafeEqual(expected, given) ? id : undefined;
}

/** The HMAC key for OAuth states, derived from the master key so every process agrees on it. */
export function stateKey(masterKey: Buffer): Buffer {
  return createHmac('sha256', masterKey).update('businessos/oauth-state/v1').digest();
}
