import { useMemo, useState, type FormEvent } from 'react';
import type { ExecuteResponse } from '../api/types.ts';
import { SchemaFields } from '../components/schema-form.tsx';
import { Empty, ErrorNotice, JsonView, Loading, NeedsSignIn } from '../components/ui.tsx';
import { Link, useRouter } from '../lib/router.tsx';
import { initialValues, schemaToFields, valuesToParams, type FieldError, type FormValues } from '../lib/schema-form.ts';
import { useSession } from '../lib/session.tsx';
import { useAsync } from '../lib/use-async.ts';

/** Run one action of an installed connector with a form generated from its parameter schema. */
export function TryActionScreen({ installationId }: { installationId: string }) {
  const { api, key } = useSession();
  const { search, navigate } = useRouter();
  const data = useAsync(async () => {
    if (!key) return null;
    const [installs, connections] = await Promise.all([api.installations(), api.connections()]);
    const inst = installs.items.find((i) => i.id === installationId);
    if (!inst) return { inst: undefined, detail: undefined, connections: [] };
    const detail = await api.connector(inst.connectorId);
    return { inst, detail, connections: connections.items.filter((c) => c.installationId === installationId) };
  }, [api, key, installationId]);
  const actionName = new URLSearchParams(search).get('action') ?? '';
  const d = data.data;
  const action = d?.detail?.actions.find((a) => a.name === actionName) ?? d?.detail?.actions[0];
  const fields = useMemo(() => schemaToFields(action?.params), [action]);
  const [values, setValues] = useState<FormValues>({});
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [connection, setConnection] = useState('');
  const [run, setRun] = useState<{ status: 'idle' | 'running' } | { status: 'ok'; result: ExecuteResponse } | { status: 'error'; error: unknown }>({ status: 'idle' });
  const [formKey, setFormKey] = useState('');

  if (!key) return <NeedsSignIn what="try actions" />;
  if (data.status === 'error') return <ErrorNotice error={data.error} what="Load the installation" onRetry={data.reload} />;
  if (!d) return <Loading label="Loading the installation" lines={6} height={300} />;
  if (!d.inst || !d.detail) {
    return (
      <Empty title="This installation does not exist">
        <Link to="/installed">See your installed connectors</Link>
      </Empty>
    );
  }
  // Reset the form when the action changes.
  const currentKey = `${installationId}:${action?.name ?? ''}`;
  if (formKey !== currentKey) {
    setFormKey(currentKey);
    setValues(initialValues(fields));
    setErrors([]);
    setRun({ status: 'idle' });
  }
  const conn = connection || d.connections[0]?.id || '';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!action) return;
    const converted = valuesToParams(fields, values);
    if (!converted.ok) {
      setErrors(converted.errors);
      return;
    }
    setErrors([]);
    setRun({ status: 'running' });
    try {
      setRun({ status: 'ok', result: await api.execute(d.inst!.connector, { action: action.name, params: converted.params, connection: conn }) });
    } catch (error) {
      setRun({ status: 'error', error });
    }
  };

  return (
    <div className="try">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/installed">Installed</Link> <span aria-hidden="true">/</span> <span aria-current="page">Try {d.detail.displayName}</span>
      </nav>
      <h1>Try an action: {d.detail.displayName}</h1>
      {d.connections.length === 0 && (
        <p className="notice notice-warn">
          No account is connected, so actions cannot reach {d.detail.displayName}. <Link to={`/listing/${d.inst.connectorId}`}>Connect one first</Link>.
        </p>
      )}
      <form onSubmit={submit} className="try-form" noValidate>
        <div className="form-grid">
          <div className="field">
            <label htmlFor="try-action">Action</label>
            <select id="try-action" value={action?.name ?? ''} onChange={(e) => navigate(`/try/${installationId}?action=${encodeURIComponent(e.target.value)}`, { replace: true })}>
              {d.detail.actions.map((a) => (
                <option key={a.name} value={a.name}>
                  {a.displayName ?? a.name}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="try-conn">Connection</label>
            <select id="try-conn" value={conn} onChange={(e) => setConnection(e.target.value)}>
              {d.connections.length === 0 && <option value="">(none)</option>}
              {d.connections.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          </div>
        </div>
        {action?.description && <p className="muted">{action.description}</p>}
        <fieldset className="params-fieldset">
          <legend>Parameters</legend>
          <SchemaFields fields={fields} values={values} errors={errors} onChange={(name, value) => setValues((v) => ({ ...v, [name]: value }))} />
        </fieldset>
        {errors.length > 0 && (
          <p className="field-error" role="alert">
            Fix {errors.length} {errors.length === 1 ? 'field' : 'fields'} above.
          </p>
        )}
        <button type="submit" className="btn btn-primary" disabled={run.status === 'running' || !action}>
          {run.status === 'running' ? 'Running…' : 'Run action'}
        </button>
      </form>
      <section aria-labelledby="result-h" className="section result" aria-live="polite">
        <h2 id="result-h">Result</h2>
        {run.status === 'idle' && <p className="muted">Run the action to see its result here.</p>}
        {run.status === 'running' && <Loading label="Running the action" lines={3} />}
        {run.status === 'ok' && (
          <>
            <p className="text-ok">
              ✓ Succeeded
              {run.result.meta?.durationMs !== undefined && ` in ${Math.round(run.result.meta.durationMs)} ms`}
              {run.result.meta?.attempts !== undefined && ` (${run.result.meta.attempts} ${run.result.meta.attempts === 1 ? 'attempt' : 'attempts'})`}
            </p>
            <JsonView value={run.result.data} label="Result data (JSON)" />
          </>
        )}
        {run.status === 'error' && <ErrorNotice error={run.error} what="Run the action" />}
      </section>
    </div>
  );
}
