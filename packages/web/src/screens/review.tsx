import { useState } from 'react';
import type { Submission } from '../api/types.ts';
import { Badge, Empty, ErrorNotice, formatDate, Loading, NeedsSignIn } from '../components/ui.tsx';
import { useSession } from '../lib/session.tsx';
import { useAsync } from '../lib/use-async.ts';

function StatusBadge({ status }: { status: Submission['status'] }) {
  return status === 'approved' ? <Badge tone="ok">approved</Badge> : status === 'rejected' ? <Badge tone="danger">rejected</Badge> : <Badge tone="warn">pending review</Badge>;
}

function Checks({ s }: { s: Submission }) {
  return (
    <ul className="checks">
      {s.checks.map((c) => (
        <li key={c.id} className={`check check-${c.status}`}>
          <span className="check-mark" aria-hidden="true">
            {c.status === 'pass' ? '✓' : c.status === 'warn' ? '!' : '✗'}
          </span>
          <span>
            <strong>{c.title}</strong> <span className="visually-hidden">{c.status}</span>
            {c.details.length > 0 && (
              <ul className="check-details">
                {c.details.map((d, i) => (
                  <li key={i}>{d}</li>
                ))}
              </ul>
            )}
          </span>
        </li>
      ))}
    </ul>
  );
}

function SubmissionCard({ s, reviewer, onDecided }: { s: Submission; reviewer: boolean; onDecided(): void }) {
  const { api } = useSession();
  const [notes, setNotes] = useState('');
  const [busy, setBusy] = useState<'approve' | 'reject' | null>(null);
  const [error, setError] = useState<unknown>(null);
  const decide = async (d: 'approve' | 'reject') => {
    setBusy(d);
    setError(null);
    try {
      await api.decide(s.id, d, notes);
      onDecided();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };
  return (
    <li className="submission">
      <div className="installed-head">
        <div>
          <h3>
            {s.connector.name} <code>v{s.version}</code>
          </h3>
          <p className="muted small">
            submitted {formatDate(s.submittedAt)}
            {s.connector.visibility ? ` · ${s.connector.visibility}` : ''}
          </p>
        </div>
        <StatusBadge status={s.status} />
      </div>
      <div className="submission-grid">
        <div>
          <h4>Automated checks</h4>
          {s.checks.length ? <Checks s={s} /> : <p className="muted">No check results.</p>}
        </div>
        <div>
          <h4>Permissions</h4>
          {s.permissions.length ? (
            <ul className="plain checklist">
              {s.permissions.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          ) : (
            <p className="muted">None declared.</p>
          )}
          <h4>Hosts</h4>
          <ul className="hosts">
            {s.hosts.map((h) => (
              <li key={h}>
                <code>{h}</code>
              </li>
            ))}
          </ul>
        </div>
      </div>
      {s.review && (
        <p className="notice notice-muted">
          {s.review.decision} by {s.review.reviewer} on {formatDate(s.review.decidedAt)}
          {s.review.notes ? `: ${s.review.notes}` : ''}
        </p>
      )}
      {reviewer && s.status === 'pending' && (
        <div className="decision">
          <div className="field">
            <label htmlFor={`notes-${s.id}`}>Note to the publisher</label>
            <textarea id={`notes-${s.id}`} rows={2} value={notes} onChange={(e) => setNotes(e.target.value)} placeholder="Why you approve or reject (required to reject)" />
          </div>
          <div className="row">
            <button type="button" className="btn btn-primary" disabled={busy !== null} onClick={() => decide('approve')}>
              {busy === 'approve' ? 'Approving…' : 'Approve and publish'}
            </button>
            <button type="button" className="btn btn-danger-outline" disabled={busy !== null || notes.trim() === ''} onClick={() => decide('reject')}>
              {busy === 'reject' ? 'Rejecting…' : 'Reject'}
            </button>
          </div>
          {error !== null && <ErrorNotice error={error} what="Record the decision" />}
        </div>
      )}
    </li>
  );
}

/** The reviewer queue (pending submissions of every tenant) or the publisher's own submissions. */
export function SubmissionsScreen({ mode }: { mode: 'review' | 'mine' }) {
  const { api, key } = useSession();
  const list = useAsync(() => (key ? api.submissions(mode === 'review' ? { status: 'pending' } : { mine: true }) : Promise.resolve({ items: [] })), [api, key, mode]);
  if (!key) return <NeedsSignIn what={mode === 'review' ? 'review submissions' : 'see your submissions'} />;
  return (
    <div>
      <h1>{mode === 'review' ? 'Review queue' : 'My submissions'}</h1>
      <p className="lead">
        {mode === 'review'
          ? 'Connector versions waiting for review, with the automated checks and what they may access. Approving publishes the version.'
          : 'Versions you published with bos-connector publish, and where they are in review.'}
      </p>
      {list.status === 'error' && <ErrorNotice error={list.error} what={mode === 'review' ? 'Load the review queue' : 'Load your submissions'} onRetry={list.reload} />}
      {!list.data && list.status === 'loading' && <Loading label="Loading submissions" lines={6} height={240} />}
      {list.data && list.data.items.length === 0 && (
        <Empty title={mode === 'review' ? 'The queue is empty' : 'No submissions yet'}>
          <p>{mode === 'review' ? 'Nothing waits for review.' : 'Pack and publish a connector with bos-connector publish.'}</p>
        </Empty>
      )}
      <ul className="installed-list">
        {(list.data?.items ?? []).map((s) => (
          <SubmissionCard key={s.id} s={s} reviewer={mode === 'review'} onDecided={list.reload} />
        ))}
      </ul>
    </div>
  );
}
