import { useEffect, useRef, useState } from 'react';
import type { Installation } from '../api/types.ts';
import { ConnectionItem } from '../components/connect-panel.tsx';
import { Badge, DeprecationNotice, Empty, ErrorNotice, formatDate, Loading, NeedsSignIn } from '../components/ui.tsx';
import { Link, useRouter } from '../lib/router.tsx';
import { useSession } from '../lib/session.tsx';
import { useAsync } from '../lib/use-async.ts';

function ConfirmUninstall({ inst, connections, onDone, onCancel }: { inst: Installation; connections: number; onDone(): void; onCancel(): void }) {
  const { api } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  useEffect(() => cancelRef.current?.focus(), []);
  const go = async () => {
    setBusy(true);
    try {
      await api.uninstall(inst.id);
      onDone();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <div className="confirm" role="alertdialog" aria-labelledby={`un-${inst.id}`} aria-describedby={`un-${inst.id}-d`}>
      <p id={`un-${inst.id}`}>
        <strong>Uninstall {inst.displayName}?</strong>
      </p>
      <p id={`un-${inst.id}-d`} className="muted">
        {connections > 0 ? `Its ${connections} ${connections === 1 ? 'connection' : 'connections'} and stored credentials are deleted, and tokens are revoked where the provider allows.` : 'It has no connections.'} Workflows using it stop working.
      </p>
      <div className="row">
        <button type="button" className="btn btn-danger" onClick={go} disabled={busy}>
          {busy ? 'Uninstalling…' : 'Uninstall'}
        </button>
        <button type="button" ref={cancelRef} className="btn" onClick={onCancel}>
          Cancel
        </button>
      </div>
      {error !== null && <ErrorNotice error={error} what={`Uninstall ${inst.displayName}`} />}
    </div>
  );
}

/** Installed connectors with their connections' status; upgrade, uninstall, test, try. */
export function InstalledScreen() {
  const { api, key } = useSession();
  const { search } = useRouter();
  const installs = useAsync(() => (key ? api.installations() : Promise.resolve({ items: [] })), [api, key]);
  const connections = useAsync(() => (key ? api.connections() : Promise.resolve({ items: [] })), [api, key]);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [upgrading, setUpgrading] = useState<string | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const connected = new URLSearchParams(search).get('connected');
  // Set by the service's OAuth callback when the provider or the exchange refused the connection.
  const oauthError = new URLSearchParams(search).get('oauth_error');
  if (!key) return <NeedsSignIn what="see your installed connectors" />;

  const upgrade = async (inst: Installation) => {
    setUpgrading(inst.id);
    setActionError(null);
    try {
      await api.install(inst.connectorId, { version: inst.latestVersion });
      installs.reload();
    } catch (err) {
      setActionError(err);
    } finally {
      setUpgrading(null);
    }
  };

  return (
    <div>
      <h1>Installed connectors</h1>
      {connected && (
        <p className="notice notice-ok" role="status">
          ✓ Account connected. Its status is below.
        </p>
      )}
      {oauthError && (
        <p className="notice notice-error" role="alert">
          The account was not connected ({oauthError === 'AUTH_FAILED' || oauthError === 'AUTH_EXPIRED' ? 'the provider refused the sign-in or the grant' : oauthError === 'INVALID_INPUT' ? 'the sign-in link was used already or has expired' : `error ${oauthError}`}). Open the connector and choose Connect to try again.
        </p>
      )}
      {actionError !== null && <ErrorNotice error={actionError} what="Upgrade" />}
      {installs.status === 'error' && <ErrorNotice error={installs.error} what="Load your installations" onRetry={installs.reload} />}
      {!installs.data && installs.status === 'loading' && <Loading label="Loading your installations" lines={6} height={240} />}
      {installs.data && installs.data.items.length === 0 && (
        <Empty title="Nothing installed yet">
          <p>Install a connector from the marketplace, then connect an account.</p>
          <Link className="btn btn-primary" to="/">
            Browse the marketplace
          </Link>
        </Empty>
      )}
      <ul className="installed-list">
        {(installs.data?.items ?? []).map((inst) => {
          const conns = (connections.data?.items ?? []).filter((c) => c.installationId === inst.id);
          return (
            <li key={inst.id} className="installed">
              <div className="installed-head">
                <div>
                  <h2>
                    <Link to={`/listing/${inst.connectorId}`}>{inst.displayName}</Link>
                  </h2>
                  <p className="muted small">
                    v{inst.version} · installed {formatDate(inst.createdAt)}
                    {inst.updateAvailable && (
                      <>
                        {' '}
                        · <Badge tone="info">v{inst.latestVersion} available</Badge>
                      </>
                    )}
                  </p>
                </div>
                <div className="row">
                  <Link className="btn btn-small btn-primary" to={`/try/${inst.id}`}>
                    Try an action
                  </Link>
                  {inst.updateAvailable && (
                    <button type="button" className="btn btn-small" onClick={() => upgrade(inst)} disabled={upgrading === inst.id}>
                      {upgrading === inst.id ? 'Upgrading…' : `Upgrade to v${inst.latestVersion}`}
                    </button>
                  )}
                  <button type="button" className="btn btn-small btn-danger-outline" onClick={() => setConfirming(inst.id)} aria-expanded={confirming === inst.id}>
                    Uninstall
                  </button>
                </div>
              </div>
              {inst.deprecation && <DeprecationNotice deprecation={inst.deprecation} />}
              {confirming === inst.id && (
                <ConfirmUninstall
                  inst={inst}
                  connections={conns.length}
                  onCancel={() => setConfirming(null)}
                  onDone={() => {
                    setConfirming(null);
                    installs.reload();
                    connections.reload();
                  }}
                />
              )}
              <h3 className="small-heading">Connections</h3>
              {connections.status === 'error' && <ErrorNotice error={connections.error} what="Load connections" onRetry={connections.reload} />}
              {connections.data && conns.length === 0 && (
                <p className="muted">
                  No account connected. <Link to={`/listing/${inst.connectorId}`}>Connect one</Link>.
                </p>
              )}
              {conns.length > 0 && (
                <ul className="conn-list">
                  {conns.map((c) => (
                    <li key={c.id}>
                      <ConnectionItem connection={c} />
                    </li>
                  ))}
                </ul>
              )}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
