import { useId, useState, type FormEvent } from 'react';
import type { Connection, ConnectionTest, Setup } from '../api/types.ts';
import { useSession } from '../lib/session.tsx';
import { Badge, ErrorNotice } from './ui.tsx';

/** Connection status as a badge. */
export function ConnectionStatus({ status }: { status: Connection['status'] }) {
  if (status === 'ok') return <Badge tone="ok">Connected</Badge>;
  if (status === 'needs_reauth') return <Badge tone="warn">Needs re-auth</Badge>;
  return <Badge tone="danger">Error</Badge>;
}

/** "Test connection" and its result (works, not checked, failure with the reason, or the request failed). */
export function TestConnection({ connection, onTested }: { connection: Connection; onTested?(result: ConnectionTest): void }) {
  const { api } = useSession();
  const [state, setState] = useState<{ status: 'idle' | 'running' } | { status: 'done'; result: ConnectionTest } | { status: 'error'; error: unknown }>({ status: 'idle' });
  const run = async () => {
    setState({ status: 'running' });
    try {
      const result = await api.testConnection(connection.id);
      setState({ status: 'done', result });
      onTested?.(result);
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  return (
    <div className="test-connection">
      <button type="button" className="btn btn-small" onClick={run} disabled={state.status === 'running'}>
        {state.status === 'running' ? 'Testing…' : 'Test connection'}
      </button>
      <div aria-live="polite">
        {state.status === 'done' &&
          (state.result.ok ? (
            state.result.checked === false ? (
              <p className="muted">Nothing to check: this connector declares no test request, so the credentials were saved unchecked.</p>
            ) : (
              <p className="text-ok">✓ The connection works.</p>
            )
          ) : (
            <p className="text-danger">✗ The test failed{state.result.error ? `: ${state.result.error.message}` : '.'}</p>
          ))}
        {state.status === 'error' && <ErrorNotice error={state.error} what="Test the connection" />}
      </div>
    </div>
  );
}

/**
 * One connection: name, status badge and what is wrong, and "Test connection". A test updates the badge at once (the
 * service stored the new status too); its reason is then shown by the test result rather than twice.
 */
export function ConnectionItem({ connection }: { connection: Connection }) {
  const [tested, setTested] = useState<ConnectionTest | null>(null);
  const status = tested?.status ?? connection.status;
  const detail = tested ? null : connection.statusDetail;
  return (
    <>
      <span className="conn-name">{connection.name}</span> <ConnectionStatus status={status} />
      {detail && <span className="muted small"> {detail}</span>}
      <TestConnection connection={connection} onTested={setTested} />
    </>
  );
}

/**
 * The auth setup an installation needs, from the install answer: a form for API-key/basic/bearer fields (secrets in
 * password inputs, cleared once sent and never shown again), "Connect" for OAuth2, or nothing to ask.
 */
export function ConnectForm({ setup, installationId, connector, onConnected, onNeedAuthorizeUrl }: { setup: Setup; installationId: string; connector: string; onConnected(c: Connection): void; onNeedAuthorizeUrl(fields: Record<string, string>): Promise<void> }) {
  const { api } = useSession();
  const base = useId();
  const [name, setName] = useState(`${connector} account`);
  const [values, setValues] = useState<Record<string, string>>(() => Object.fromEntries(setup.fields.map((f) => [f.name, f.default ?? ''])));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const oauth = setup.type === 'oauth2';
  const visible = oauth ? setup.fields.filter((f) => f.in === 'fields') : setup.fields;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (oauth) {
        const fields = Object.fromEntries(visible.map((f) => [f.name, values[f.name] ?? '']).filter(([, v]) => v !== ''));
        if (setup.authorizeUrl && Object.keys(fields).length === 0) window.location.assign(setup.authorizeUrl);
        else await onNeedAuthorizeUrl(fields);
        return;
      }
      const credentials: Record<string, string> = {};
      const fields: Record<string, string> = {};
      for (const f of setup.fields) {
        const v = values[f.name] ?? '';
        if (v === '') continue;
        if (f.in === 'credentials') credentials[f.name] = v;
        else fields[f.name] = v;
      }
      const connection = await api.connect({ installationId, name, ...(Object.keys(credentials).length ? { credentials } : {}), ...(Object.keys(fields).length ? { fields } : {}) });
      // The secrets have been sent; drop them from the page.
      setValues((v) => Object.fromEntries(Object.entries(v).map(([k, val]) => [k, setup.fields.find((f) => f.name === k)?.secret ? '' : val])));
      onConnected(connection);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="connect-form" onSubmit={submit} aria-describedby={`${base}-about`}>
      <p id={`${base}-about`} className="muted">
        {oauth
          ? `Connecting signs you in at the provider, who asks you to grant access, then sends you back here.`
          : setup.type === 'none'
            ? 'This connector needs no account; create a connection to use it.'
            : 'Secrets go straight to the encrypted vault and are never shown again.'}
      </p>
      {!oauth && (
        <div className="field">
          <label htmlFor={`${base}-name`}>Connection name</label>
          <input id={`${base}-name`} value={name} required maxLength={200} onChange={(e) => setName(e.target.value)} />
        </div>
      )}
      {visible.map((f) => (
        <div className="field" key={f.name}>
          <label htmlFor={`${base}-${f.name}`}>
            {f.label}
            {f.required ? <span className="required"> (required)</span> : null}
            {f.secret && <span className="field-kind">secret</span>}
          </label>
          <input
            id={`${base}-${f.name}`}
            name={f.name}
            type={f.secret ? 'password' : 'text'}
            autoComplete={f.secret ? 'new-password' : 'off'}
            required={f.required}
            pattern={f.pattern}
            placeholder={f.placeholder}
            aria-describedby={f.description ? `${base}-${f.name}-help` : undefined}
            value={values[f.name] ?? ''}
            onChange={(e) => setValues((v) => ({ ...v, [f.name]: e.target.value }))}
          />
          {f.description && (
            <p id={`${base}-${f.name}-help`} className="help">
              {f.description}
            </p>
          )}
        </div>
      ))}
      {oauth && !setup.authorizeUrl && setup.detail && <p className="notice notice-muted">{setup.detail}</p>}
      <button type="submit" className="btn btn-primary" disabled={busy || (oauth && !setup.authorizeUrl && visible.length === 0)}>
        {busy ? 'Connecting…' : oauth ? `Connect with ${connector}` : setup.type === 'none' ? 'Create connection' : 'Save and connect'}
      </button>
      {error !== null && <ErrorNotice error={error} what="Connect the account" />}
    </form>
  );
}
