import { useEffect, useRef } from 'react';
import { Empty } from './components/ui.tsx';
import { Link, matchPath, useRouter } from './lib/router.tsx';
import { useSession } from './lib/session.tsx';
import { BrowseScreen } from './screens/browse.tsx';
import { ConnectorScreen } from './screens/connector.tsx';
import { InstalledScreen } from './screens/installed.tsx';
import { SubmissionsScreen } from './screens/review.tsx';
import { SignInScreen } from './screens/sign-in.tsx';
import { TryActionScreen } from './screens/try-action.tsx';
import { UsageScreen } from './screens/usage.tsx';

/**
 * Paths the page owns. They must not collide with API routes (see serve.ts): `/listing/:id` rather than
 * `/connectors/:id`, `/activity` rather than `/usage`.
 */
export const PAGE_PATHS = ['/', '/signin', '/listing/:id', '/installed', '/try/:installationId', '/activity', '/review', '/publisher'] as const;

function Screen() {
  const { pathname } = useRouter();
  let m: Record<string, string> | null;
  if (pathname === '/') return <BrowseScreen />;
  if (pathname === '/signin') return <SignInScreen />;
  if ((m = matchPath('/listing/:id', pathname))) return <ConnectorScreen id={m.id!} />;
  if (pathname === '/installed') return <InstalledScreen />;
  if ((m = matchPath('/try/:installationId', pathname))) return <TryActionScreen installationId={m.installationId!} />;
  if (pathname === '/activity') return <UsageScreen />;
  if (pathname === '/review') return <SubmissionsScreen mode="review" />;
  if (pathname === '/publisher') return <SubmissionsScreen mode="mine" />;
  return (
    <Empty title="There is no such page">
      <Link to="/">Back to the marketplace</Link>
    </Empty>
  );
}

const NAV = [
  { to: '/', label: 'Marketplace', match: (p: string) => p === '/' || p.startsWith('/listing/') },
  { to: '/installed', label: 'Installed', match: (p: string) => p === '/installed' || p.startsWith('/try/') },
  { to: '/activity', label: 'Usage', match: (p: string) => p === '/activity' },
  { to: '/publisher', label: 'Publishing', match: (p: string) => p === '/publisher' },
  { to: '/review', label: 'Review', match: (p: string) => p === '/review' },
];

/** The page: header with navigation and session, the current screen, footer. */
export function App() {
  const { pathname } = useRouter();
  const { key, signOut } = useSession();
  const { navigate } = useRouter();
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);
  // Move focus to the new screen after in-page navigation, as a full page load would.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    mainRef.current?.focus({ preventScroll: true });
  }, [pathname]);
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="topbar-inner">
          <Link to="/" className="brand">
            <span className="brand-mark" aria-hidden="true">
              B
            </span>
            <span className="brand-text">
              <span className="visually-hidden">BusinessOS </span>Connectors
            </span>
          </Link>
          <nav aria-label="Main" className="mainnav">
            <ul>
              {NAV.map((n) => (
                <li key={n.to}>
                  <Link to={n.to} aria-current={n.match(pathname) ? 'page' : undefined}>
                    {n.label}
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
          <div className="session">
            {key ? (
              <button
                type="button"
                className="btn btn-small"
                onClick={() => {
                  signOut();
                  navigate('/');
                }}
              >
                Sign out
              </button>
            ) : (
              <Link to="/signin" className="btn btn-small btn-primary">
                Sign in
              </Link>
            )}
          </div>
        </div>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1} className="container">
        <Screen />
      </main>
      <footer className="footer container">
        <span>BusinessOS Connectors</span> · <a href="/docs">API docs</a> · <a href="/openapi.json">OpenAPI</a>
      </footer>
    </>
  );
}
