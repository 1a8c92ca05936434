import type { SearchResult } from '../api/types.ts';
import { SearchBox } from '../components/search-box.tsx';
import { Badge, ConnectorIcon, Empty, ErrorNotice, formatCount, Stars } from '../components/ui.tsx';
import { Link, useRouter } from '../lib/router.tsx';
import { useSession } from '../lib/session.tsx';
import { useAsync } from '../lib/use-async.ts';
import { countText, pageCountOf, pageWindow, parseBrowseState, SORTS, toBrowseSearch, updateBrowseState, type BrowseState } from '../lib/url-state.ts';

const PAGE_SIZE = 12;
const SORT_LABELS: Record<(typeof SORTS)[number], string> = { relevance: 'Relevance', installs: 'Most installed', rating: 'Top rated', newest: 'Newest' };

function Card({ c }: { c: SearchResult }) {
  return (
    <li className="card">
      <div className="card-head">
        <ConnectorIcon icon={c.icon} name={c.displayName} />
        <div className="card-title">
          <h3>
            <Link to={`/listing/${encodeURIComponent(c.id)}`} className="stretched">
              {c.displayName}
            </Link>
          </h3>
          <span className="muted small">
            {c.category} · v{c.latestVersion}
          </span>
        </div>
      </div>
      <p className="card-desc">{c.description}</p>
      <div className="card-foot">
        <span className="badges">
          {c.verified && <Badge tone="ok">✓ Verified</Badge>}
          {c.deprecation && <Badge tone="warn">Deprecated</Badge>}
          {c.private && <Badge tone="info">Private</Badge>}
        </span>
        <span className="card-stats">
          <span>{formatCount(c.installs)} {c.installs === 1 ? 'install' : 'installs'}</span>
          <Stars rating={c.rating} />
        </span>
      </div>
    </li>
  );
}

/** The catalogue: search with type-ahead, category facets, sort, cards and pages, all kept in the URL. */
export function BrowseScreen() {
  const { api } = useSession();
  const { search, navigate } = useRouter();
  const state = parseBrowseState(search);
  const go = (change: Partial<BrowseState>) => navigate(`/${toBrowseSearch(updateBrowseState(state, change))}`);
  const result = useAsync((signal) => api.search({ q: state.q, category: state.category, sort: state.sort, page: state.page, pageSize: PAGE_SIZE }, signal), [api, state.q, state.category, state.sort, state.page]);
  const data = result.data;
  const pageCount = data ? pageCountOf(data, state.page) : 1;

  return (
    <div className="browse">
      <section className="hero">
        <h1>Connector marketplace</h1>
        <p className="lead">Find a connector, install it for your tenant, connect an account and try its actions.</p>
        <SearchBox initial={state.q} onSearch={(q) => go({ q })} onPick={(c) => navigate(`/listing/${encodeURIComponent(c.id)}`)} />
      </section>
      <div className="browse-body">
        <aside className="filters" aria-label="Filters">
          <fieldset>
            <legend>Category</legend>
            <ul className="facet-list">
              <li>
                <button type="button" className={`facet${state.category === '' ? ' facet-on' : ''}`} aria-pressed={state.category === ''} onClick={() => go({ category: '' })}>
                  <span>All categories</span>
                </button>
              </li>
              {(data?.facets.categories ?? []).map((f) => (
                <li key={f.category}>
                  <button type="button" className={`facet${state.category === f.category ? ' facet-on' : ''}`} aria-pressed={state.category === f.category} onClick={() => go({ category: state.category === f.category ? '' : f.category })}>
                    <span className="facet-name">{f.category}</span>
                    <span className="facet-count" aria-label={`${data?.totalIsLowerBound ? 'at least ' : ''}${f.count} connectors`}>
                      {countText(f.count, data?.totalIsLowerBound ?? false)}
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          </fieldset>
        </aside>
        <section className="results" aria-labelledby="results-heading">
          <div className="results-bar">
            <h2 id="results-heading" aria-live="polite">
              {data ? `${countText(data.total, data.totalIsLowerBound)} ${data.total === 1 && !data.totalIsLowerBound ? 'connector' : 'connectors'}${state.q ? ` for “${state.q}”` : ''}` : 'Loading connectors…'}
            </h2>
            <label className="sort">
              <span>Sort by</span>
              <select value={state.sort} onChange={(e) => go({ sort: e.target.value as BrowseState['sort'] })}>
                {SORTS.map((s) => (
                  <option key={s} value={s}>
                    {SORT_LABELS[s]}
                  </option>
                ))}
              </select>
            </label>
          </div>
          {result.status === 'error' && <ErrorNotice error={result.error} what="Search the catalogue" onRetry={result.reload} />}
          {!data && result.status === 'loading' && (
            <ul className="cards" aria-hidden="true">
              {Array.from({ length: 6 }, (_, i) => (
                <li key={i} className="card card-skeleton" />
              ))}
            </ul>
          )}
          {data && data.results.length === 0 && (
            <Empty title="No connector matches">
              <p>Try fewer words, another spelling, or clear the category filter.</p>
              {(state.q || state.category) && (
                <button type="button" className="btn" onClick={() => navigate('/')}>
                  Clear search
                </button>
              )}
            </Empty>
          )}
          {data && data.results.length > 0 && (
            <ul className={`cards${result.status === 'loading' ? ' is-stale' : ''}`}>
              {data.results.map((c) => (
                <Card key={c.id} c={c} />
              ))}
            </ul>
          )}
          {data && pageCount > 1 && (
            <nav className="pagination" aria-label="Pages">
              <Link to={`/${toBrowseSearch({ ...state, page: state.page - 1 })}`} className="btn btn-small" aria-disabled={state.page <= 1} tabIndex={state.page <= 1 ? -1 : undefined} onClick={(e) => state.page <= 1 && e.preventDefault()}>
                ← Previous
              </Link>
              {pageWindow(state.page, pageCount).map((p, i) =>
                p === null ? (
                  <span key={`gap-${i}`} className="page-gap" aria-hidden="true">
                    …
                  </span>
                ) : (
                  <Link key={p} to={`/${toBrowseSearch({ ...state, page: p })}`} className={`btn btn-small page${p === state.page ? ' page-on' : ''}`} aria-current={p === state.page ? 'page' : undefined} aria-label={`Page ${p}`}>
                    {p}
                  </Link>
                ),
              )}
              <Link to={`/${toBrowseSearch({ ...state, page: state.page + 1 })}`} className="btn btn-small" aria-disabled={state.page >= pageCount} tabIndex={state.page >= pageCount ? -1 : undefined} onClick={(e) => state.page >= pageCount && e.preventDefault()}>
                Next →
              </Link>
            </nav>
          )}
        </section>
      </div>
    </div>
  );
}
