import type { ReactNode } from 'react';
import { isApiError } from '../api/client.ts';
import type { Deprecation, Rating } from '../api/types.ts';
import { Link } from '../lib/router.tsx';

/** Placeholder blocks with the size of what is loading, so nothing jumps when it arrives. */
export function Skeleton({ lines = 3, height }: { lines?: number; height?: number }) {
  return (
    <div className="skeleton" aria-hidden="true" style={height ? { minHeight: height } : undefined}>
      {Array.from({ length: lines }, (_, i) => (
        <span key={i} className="skeleton-line" style={{ width: `${90 - ((i * 17) % 40)}%` }} />
      ))}
    </div>
  );
}

/** A polite "Loading …" for screen readers plus a skeleton for the eye. */
export function Loading({ label, lines, height }: { label: string; lines?: number; height?: number }) {
  return (
    <div role="status" aria-live="polite">
      <span className="visually-hidden">{label}</span>
      <Skeleton lines={lines} height={height} />
    </div>
  );
}

/**
 * Shows an API failure: the problem's code and detail, or "not available on this server" when the service does not
 * serve the route at all.
 */
export function ErrorNotice({ error, what, onRetry }: { error: unknown; what: string; onRetry?: () => void }) {
  if (isApiError(error) && error.routeMissing) {
    return (
      <div className="notice notice-muted" role="status">
        <strong>Not available on this server.</strong> {what} needs an API route this server does not serve yet.
        <div className="notice-detail">
          <code>{error.detail.replace(/; see .*$/, '')}</code>
        </div>
      </div>
    );
  }
  const code = isApiError(error) ? error.code : 'ERROR';
  const detail = isApiError(error) ? error.detail : error instanceof Error ? error.message : String(error);
  return (
    <div className="notice notice-error" role="alert">
      <strong>Could not {what.toLowerCase()}.</strong>
      <div className="notice-detail">
        <code className="error-code">{code}</code> {detail}
      </div>
      {isApiError(error) && error.problem.errors && error.problem.errors.length > 0 && (
        <ul className="notice-list">
          {error.problem.errors.map((e, i) => (
            <li key={i}>
              <code>{e.path}</code> {e.message}
            </li>
          ))}
        </ul>
      )}
      {onRetry && (
        <button type="button" className="btn btn-small" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** Nothing to show, and what to do about it. */
export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children && <div className="empty-body">{children}</div>}
    </div>
  );
}

export function Badge({ tone, children }: { tone: 'ok' | 'warn' | 'danger' | 'info' | 'neutral'; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

/** Average rating as stars with an accessible text. */
export function Stars({ rating }: { rating: Rating }) {
  if (rating.average === null || rating.count === 0) return <span className="muted">No ratings yet</span>;
  const avg = Math.round(rating.average * 10) / 10;
  return (
    <span className="stars" aria-label={`Rated ${avg} out of 5 by ${rating.count} ${rating.count === 1 ? 'tenant' : 'tenants'}`}>
      <span aria-hidden="true" className="stars-glyphs">
        {'★'.repeat(Math.round(avg))}
        <span className="stars-off">{'★'.repeat(5 - Math.round(avg))}</span>
      </span>{' '}
      <span aria-hidden="true">
        {avg} ({rating.count})
      </span>
    </span>
  );
}

/** The connector's icon (a data: or https: image) or its initial on a tinted square. */
export function ConnectorIcon({ icon, name, size = 48 }: { icon: string | null; name: string; size?: number }) {
  if (icon && /^(data:image\/|https:\/\/)/.test(icon)) return <img className="connector-icon" src={icon} alt="" width={size} height={size} />;
  return (
    <span className="connector-icon connector-icon-fallback" style={{ width: size, height: size }} aria-hidden="true">
      {name.charAt(0).toUpperCase()}
    </span>
  );
}

export function DeprecationNotice({ deprecation, replacement }: { deprecation: Deprecation; replacement?: ReactNode }) {
  return (
    <div className="notice notice-warn" role="note">
      <strong>Deprecated.</strong> {deprecation.message}
      {deprecation.replacement && (
        <>
          {' '}
          Use{' '}
          {replacement ?? <Link to={`/?q=${encodeURIComponent(deprecation.replacement)}`}>{deprecation.replacement}</Link>} instead.
        </>
      )}
    </div>
  );
}

/** Formats a count compactly: 1234 → "1.2k". */
export function formatCount(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(1).replace(/\.0$/, '')}M`;
  if (n >= 1000) return `${(n / 1000).toFixed(1).replace(/\.0$/, '')}k`;
  return String(n);
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

/** Pretty JSON in a scrollable, focusable block. */
export function JsonView({ value, label }: { value: unknown; label: string }) {
  return (
    <pre className="json" tabIndex={0} aria-label={label}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

/** Requires a signed-in session; otherwise explains and links to sign-in. */
export function NeedsSignIn({ what }: { what: string }) {
  return (
    <Empty title={`Sign in to ${what}`}>
      <p>These screens belong to a tenant. Sign in with one of your tenant's API keys.</p>
      <Link className="btn btn-primary" to="/signin">
        Sign in
      </Link>
    </Empty>
  );
}
