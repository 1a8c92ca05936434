import { useState, type FormEvent } from 'react';
import { isApiError } from '../api/client.ts';
import type { Connection, ConnectorDetail, InstallResponse, JsonSchema } from '../api/types.ts';
import { ConnectForm, ConnectionItem } from '../components/connect-panel.tsx';
import { Badge, ConnectorIcon, DeprecationNotice, Empty, ErrorNotice, formatCount, formatDate, Loading, Stars } from '../components/ui.tsx';
import { Link } from '../lib/router.tsx';
import { useSession } from '../lib/session.tsx';
import { useAsync } from '../lib/use-async.ts';

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  const t = Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? (s.anyOf || s.oneOf ? 'one of several' : 'any'));
  if (t === 'array' && s.items) return `array of ${typeOf(s.items)}`;
  return s.format ? `${t} (${s.format})` : t;
}

/** Parameters of an action or trigger as a table, from its JSON Schema. */
function ParamTable({ schema, caption }: { schema: JsonSchema | undefined; caption: string }) {
  const props = Object.entries(schema?.properties ?? {});
  if (props.length === 0) return <p className="muted small">No parameters.</p>;
  const required = new Set(schema?.required ?? []);
  return (
    <div className="table-wrap">
      <table className="params">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">Parameter</th>
            <th scope="col">Type</th>
            <th scope="col">Description</th>
          </tr>
        </thead>
        <tbody>
          {props.map(([name, p]) => (
            <tr key={name}>
              <th scope="row">
                <code>{name}</code>
                {required.has(name) && <span className="required-dot" title="required"> *</span>}
              </th>
              <td>
                <code className="type">{typeOf(p)}</code>
              </td>
              <td>{p.description ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** What the auth setup will ask for, in words. */
function authSummary(c: ConnectorDetail): string {
  const a = c.auth;
  switch (a.type) {
    case 'oauth2':
      return a.grant === 'client_credentials' ? 'OAuth2 (client credentials): the platform signs in as an app.' : `OAuth2: you sign in at ${c.displayName} and grant access${a.scopes?.length ? ` to ${a.scopes.join(', ')}` : ''}.`;
    case 'api_key':
    case 'apiKey':
      return `API key: you paste ${a.label ? `your ${String(a.label)}` : 'an API key'}; it is stored encrypted.`;
    case 'bearer':
      return `Token: you paste ${a.label ? `your ${String(a.label)}` : 'an access token'}; it is stored encrypted.`;
    case 'basic':
      return 'Username and password, stored encrypted.';
    case 'none':
      return 'No account needed.';
    default:
      return a.type;
  }
}

/** Install, then connect: the right-hand panel of the connector page. */
function InstallPanel({ c }: { c: ConnectorDetail }) {
  const { api, key } = useSession();
  const installs = useAsync(() => (key ? api.installations() : Promise.resolve({ items: [] })), [api, key]);
  const connections = useAsync(() => (key ? api.connections() : Promise.resolve({ items: [] })), [api, key]);
  const [install, setInstall] = useState<InstallResponse | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [justConnected, setJustConnected] = useState<Connection | null>(null);

  if (!key) {
    return (
      <div className="panel">
        <h2>Install</h2>
        <p className="muted">Sign in with your tenant's API key to install {c.displayName}.</p>
        <Link className="btn btn-primary btn-block" to="/signin">
          Sign in to install
        </Link>
      </div>
    );
  }
  const installed = installs.data?.items.find((i) => i.connectorId === c.id);
  const mine = (connections.data?.items ?? []).filter((x) => installed && x.installationId === installed.id);

  const runInstall = async (body: { version?: string; fields?: Record<string, string> } = {}) => {
    setBusy(true);
    setError(null);
    try {
      const res = await api.install(c.id, { ...(installed ? { version: installed.version } : {}), ...body });
      setInstall(res);
      installs.reload();
      if (body.fields && res.setup.authorizeUrl) window.location.assign(res.setup.authorizeUrl);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="panel" aria-busy={installs.status === 'loading'}>
      <h2>{installed ? 'Installed' : 'Install'}</h2>
      {installs.status === 'loading' && !installs.data && <Loading label="Checking your installations" lines={2} />}
      {installs.status === 'error' && <ErrorNotice error={installs.error} what="Load your installations" onRetry={installs.reload} />}
      {installs.data && !installed && (
        <>
          <p className="muted">Adds {c.displayName} v{c.latestVersion} to your tenant. You connect an account next.</p>
          <button type="button" className="btn btn-primary btn-block" onClick={() => runInstall()} disabled={busy}>
            {busy ? 'Installing…' : `Install ${c.displayName}`}
          </button>
        </>
      )}
      {installed && (
        <>
          <p>
            <Badge tone="ok">Installed</Badge> <span className="muted">v{installed.version}</span>
            {installed.updateAvailable && <span className="muted"> · v{installed.latestVersion} available</span>}
          </p>
          {mine.length > 0 && (
            <ul className="conn-list">
              {mine.map((x) => (
                <li key={x.id}>
                  <ConnectionItem connection={x} />
                </li>
              ))}
            </ul>
          )}
          {justConnected && (
            <p className="notice notice-ok" role="status">
              ✓ {justConnected.name} is connected. <Link to={`/try/${installed.id}`}>Try an action</Link>
            </p>
          )}
          {!install && (
            <button type="button" className={mine.length ? 'btn btn-block' : 'btn btn-primary btn-block'} onClick={() => runInstall()} disabled={busy}>
              {busy ? 'Preparing…' : mine.length ? 'Connect another account' : 'Connect an account'}
            </button>
          )}
          {install && (
            <ConnectForm
              setup={install.setup}
              installationId={install.installation.id}
              connector={c.displayName}
              onConnected={(conn) => {
                setJustConnected(conn);
                setInstall(null);
                connections.reload();
              }}
              onNeedAuthorizeUrl={(fields) => runInstall({ fields })}
            />
          )}
          <p className="panel-links">
            <Link to={`/try/${installed.id}`}>Try an action</Link> · <Link to="/installed">Manage installed</Link>
          </p>
        </>
      )}
      {error !== null && <ErrorNotice error={error} what={`Install ${c.displayName}`} />}
    </div>
  );
}

function Reviews({ id }: { id: string }) {
  const { api, key } = useSession();
  const reviews = useAsync(() => api.reviews(id), [api, id]);
  const mine = reviews.data?.items.find((r) => r.mine);
  const [stars, setStars] = useState(0);
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [state, setState] = useState<{ status: 'idle' | 'saving' | 'saved' } | { status: 'error'; error: unknown }>({ status: 'idle' });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (stars < 1) return setState({ status: 'error', error: new Error('Pick 1 to 5 stars first') });
    setState({ status: 'saving' });
    try {
      await api.rate(id, { stars, ...(title ? { title } : {}), ...(body ? { body } : {}) });
      setState({ status: 'saved' });
      reviews.reload();
    } catch (error) {
      setState({ status: 'error', error });
    }
  };
  return (
    <section aria-labelledby="reviews-h" className="section">
      <h2 id="reviews-h">Reviews</h2>
      {reviews.status === 'error' && <ErrorNotice error={reviews.error} what="Load reviews" onRetry={reviews.reload} />}
      {!reviews.data && reviews.status === 'loading' && <Loading label="Loading reviews" lines={3} />}
      {reviews.data && (
        <>
          <p>
            <Stars rating={reviews.data.rating} />
          </p>
          {reviews.data.items.length === 0 ? (
            <p className="muted">No reviews yet. Be the first tenant to review it.</p>
          ) : (
            <ul className="reviews">
              {reviews.data.items.map((r, i) => (
                <li key={i} className="review">
                  <span className="stars-glyphs" aria-label={`${r.stars} out of 5`}>
                    {'★'.repeat(r.stars)}
                    <span className="stars-off">{'★'.repeat(5 - r.stars)}</span>
                  </span>{' '}
                  <strong>{r.title ?? ''}</strong> {r.mine && <Badge tone="info">Yours</Badge>}
                  {r.body && <p>{r.body}</p>}
                  <span className="muted small">{formatDate(r.updatedAt)}</span>
                </li>
              ))}
            </ul>
          )}
        </>
      )}
      {key ? (
        <form className="review-form" onSubmit={submit}>
          <h3>{mine ? 'Edit your review' : 'Leave a review'}</h3>
          <fieldset className="star-picker">
            <legend>Your rating</legend>
            {[1, 2, 3, 4, 5].map((n) => (
              <label key={n} className={n <= stars ? 'star on' : 'star'}>
                <input type="radio" name="stars" value={n} checked={stars === n} onChange={() => setStars(n)} className="visually-hidden" />
                <span aria-hidden="true">★</span>
                <span className="visually-hidden">
                  {n} {n === 1 ? 'star' : 'stars'}
                </span>
              </label>
            ))}
          </fieldset>
          <div className="field">
            <label htmlFor="review-title">Title</label>
            <input id="review-title" maxLength={200} value={title} onChange={(e) => setTitle(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="review-body">Review</label>
            <textarea id="review-body" rows={3} maxLength={5000} value={body} onChange={(e) => setBody(e.target.value)} />
          </div>
          <button type="submit" className="btn" disabled={state.status === 'saving'}>
            {state.status === 'saving' ? 'Saving…' : 'Save review'}
          </button>
          <span aria-live="polite">{state.status === 'saved' && <span className="text-ok"> ✓ Saved</span>}</span>
          {state.status === 'error' && <ErrorNotice error={state.error} what="Save your review" />}
        </form>
      ) : (
        <p className="muted">
          <Link to="/signin">Sign in</Link> to leave a review.
        </p>
      )}
    </section>
  );
}

function Docs({ id }: { id: string }) {
  const { api } = useSession();
  const docs = useAsync(() => api.docs(id), [api, id]);
  return (
    <section aria-labelledby="docs-h" className="section">
      <h2 id="docs-h">Generated docs</h2>
      {docs.status === 'loading' && <Loading label="Loading docs" lines={3} />}
      {docs.status === 'error' && <ErrorNotice error={docs.error} what="Load the generated docs" />}
      {docs.status === 'ok' && (
        <pre className="docs" tabIndex={0} aria-label="Generated documentation (Markdown)">
          {typeof docs.data === 'string' ? docs.data : JSON.stringify(docs.data, null, 2)}
        </pre>
      )}
    </section>
  );
}

/** One connector: what it does, what it asks and may reach, actions, triggers, versions, reviews; install and connect. */
export function ConnectorScreen({ id }: { id: string }) {
  const { api } = useSession();
  const detail = useAsync(() => api.connector(id), [api, id]);
  const versions = useAsync(() => api.versions(id), [api, id]);
  if (detail.status === 'error') {
    return isApiError(detail.error) && detail.error.status === 404 && !detail.error.routeMissing ? (
      <Empty title="This connector does not exist or is not visible to you">
        <Link to="/">Back to the marketplace</Link>
      </Empty>
    ) : (
      <ErrorNotice error={detail.error} what="Load the connector" onRetry={detail.reload} />
    );
  }
  const c = detail.data;
  if (!c) return <Loading label="Loading the connector" lines={8} height={420} />;
  return (
    <article className="connector">
      <nav aria-label="Breadcrumb" className="crumbs">
        <Link to="/">Marketplace</Link> <span aria-hidden="true">/</span> <span aria-current="page">{c.displayName}</span>
      </nav>
      <header className="connector-head">
        <ConnectorIcon icon={c.icon} name={c.displayName} size={64} />
        <div>
          <h1>{c.displayName}</h1>
          <p className="muted">
            {c.category} · v{c.latestVersion} · by {c.author ?? 'unknown'} · {formatCount(c.installs)} {c.installs === 1 ? 'install' : 'installs'}
          </p>
          <p className="badges">
            {c.verified && <Badge tone="ok">✓ Verified</Badge>}
            {c.deprecation && <Badge tone="warn">Deprecated</Badge>}
            {c.private && <Badge tone="info">Private</Badge>}
            <Badge tone="neutral">runs in {c.runtime}</Badge> <Stars rating={c.rating} />
          </p>
        </div>
      </header>
      {c.deprecation && <DeprecationNotice deprecation={c.deprecation} />}
      <div className="connector-body">
        <div className="connector-main">
          <section className="section" aria-labelledby="about-h">
            <h2 id="about-h">About</h2>
            <p>{c.description}</p>
            {c.homepage && (
              <p>
                <a href={c.homepage} rel="noreferrer noopener" target="_blank">
                  Provider documentation<span className="visually-hidden"> (opens in a new tab)</span>
                </a>
              </p>
            )}
          </section>
          <section className="section" aria-labelledby="auth-h">
            <h2 id="auth-h">Authentication</h2>
            <p>
              <Badge tone="neutral">{c.auth.type}</Badge> {authSummary(c)}
            </p>
            {c.auth.fields && Object.keys(c.auth.fields).length > 0 && (
              <ul className="plain">
                {Object.entries(c.auth.fields).map(([name, f]) => (
                  <li key={name}>
                    You will be asked for <strong>{f.label ?? name}</strong>
                    {f.secret ? ' (secret)' : ''}
                    {f.description ? `: ${f.description}` : ''}
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section className="section" aria-labelledby="perm-h">
            <h2 id="perm-h">Permissions</h2>
            {c.permissions.length > 0 ? (
              <ul className="plain checklist">
                {c.permissions.map((p) => (
                  <li key={p}>{p}</li>
                ))}
              </ul>
            ) : (
              <p className="muted">The publisher declared no permissions.</p>
            )}
            <h3>Hosts it may call</h3>
            <ul className="hosts">
              {(c.hosts.length > 0 ? c.hosts : c.baseUrl ? [c.baseUrl] : []).map((h) => (
                <li key={h}>
                  <code>{h}</code>
                </li>
              ))}
            </ul>
          </section>
          <section className="section" aria-labelledby="actions-h">
            <h2 id="actions-h">Actions ({c.actions.length})</h2>
            {c.actions.map((a) => (
              <details key={a.name} className="op">
                <summary>
                  <span className="op-name">{a.displayName ?? a.name}</span> <code className="muted">{a.name}</code>
                </summary>
                {a.description && <p>{a.description}</p>}
                <ParamTable schema={a.params} caption={`Parameters of ${a.name}`} />
              </details>
            ))}
          </section>
          <section className="section" aria-labelledby="triggers-h">
            <h2 id="triggers-h">Triggers ({c.triggers.length})</h2>
            {c.triggers.length === 0 && <p className="muted">No triggers.</p>}
            {c.triggers.map((t) => (
              <details key={t.name} className="op">
                <summary>
                  <span className="op-name">{t.displayName ?? t.name}</span> <code className="muted">{t.name}</code> {t.type && <Badge tone="neutral">{t.type}</Badge>}
                </summary>
                {t.description && <p>{t.description}</p>}
                <ParamTable schema={t.params} caption={`Parameters of ${t.name}`} />
              </details>
            ))}
          </section>
          <section className="section" aria-labelledby="versions-h">
            <h2 id="versions-h">Versions</h2>
            {versions.status === 'loading' && <Loading label="Loading versions" lines={2} />}
            {versions.status === 'error' && <ErrorNotice error={versions.error} what="Load versions" onRetry={versions.reload} />}
            {versions.data && (
              <div className="table-wrap">
                <table className="params">
                  <thead>
                    <tr>
                      <th scope="col">Version</th>
                      <th scope="col">Status</th>
                      <th scope="col">Published</th>
                      <th scope="col">Notes</th>
                    </tr>
                  </thead>
                  <tbody>
                    {versions.data.items.map((v) => (
                      <tr key={v.version}>
                        <th scope="row">
                          <code>{v.version}</code>
                        </th>
                        <td>{v.status === 'yanked' ? <Badge tone="danger">yanked</Badge> : <Badge tone="ok">published</Badge>}</td>
                        <td>{formatDate(v.publishedAt)}</td>
                        <td>
                          {v.changelog ?? ''}
                          {v.deprecation ? `Deprecated: ${v.deprecation.message}` : ''}
                          {v.artifactSha256 && <code className="muted small sha"> sha256 {v.artifactSha256.slice(0, 12)}…</code>}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
          <Reviews id={c.id} />
          <Docs id={c.id} />
        </div>
        <aside className="connector-side">
          <InstallPanel c={c} />
        </aside>
      </div>
    </article>
  );
}
