import { useMemo, useState } from 'react';
import { ConnectorBars, UsageChart } from '../components/usage-chart.tsx';
import { Empty, ErrorNotice, Loading, NeedsSignIn } from '../components/ui.tsx';
import { useSession } from '../lib/session.tsx';
import { useAsync } from '../lib/use-async.ts';

const PERIODS = [
  { days: 7, label: 'Last 7 days' },
  { days: 30, label: 'Last 30 days' },
  { days: 90, label: 'Last 90 days' },
] as const;

/** Executions per day and errors per connector for the selected period, from `GET /usage`. */
export function UsageScreen() {
  const { api, key } = useSession();
  const [days, setDays] = useState<number>(7);
  const range = useMemo(() => {
    const to = new Date();
    const from = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate() - (days - 1)));
    return { from, to };
  }, [days]);
  const usage = useAsync(async () => {
    if (!key) return null;
    const q = { from: range.from.toISOString(), to: range.to.toISOString() };
    const [byDay, byConnector] = await Promise.all([api.usage({ ...q, groupBy: 'day' }), api.usage({ ...q, groupBy: 'connector' })]);
    return { byDay, byConnector };
  }, [api, key, range]);
  if (!key) return <NeedsSignIn what="see usage" />;
  const u = usage.data;
  const total = u ? u.byConnector.items.reduce((a, i) => a + i.executions, 0) : 0;
  const errors = u ? u.byConnector.items.reduce((a, i) => a + i.errors, 0) : 0;
  return (
    <div>
      <div className="title-row">
        <h1>Usage</h1>
        <div className="segmented" role="group" aria-label="Period">
          {PERIODS.map((p) => (
            <button key={p.days} type="button" className={days === p.days ? 'seg seg-on' : 'seg'} aria-pressed={days === p.days} onClick={() => setDays(p.days)}>
              {p.label}
            </button>
          ))}
        </div>
      </div>
      {usage.status === 'error' && <ErrorNotice error={usage.error} what="Load usage" onRetry={usage.reload} />}
      {!u && usage.status === 'loading' && <Loading label="Loading usage" lines={6} height={320} />}
      {u && (
        <div className={usage.status === 'loading' ? 'is-stale' : undefined}>
          <div className="stats">
            <div className="stat">
              <span className="stat-value">{total}</span>
              <span className="stat-label">executions</span>
            </div>
            <div className="stat">
              <span className={`stat-value${errors ? ' text-danger' : ''}`}>{errors}</span>
              <span className="stat-label">errors</span>
            </div>
            <div className="stat">
              <span className="stat-value">{total ? `${Math.round(((total - errors) / total) * 1000) / 10}%` : '—'}</span>
              <span className="stat-label">success rate</span>
            </div>
          </div>
          <section className="section" aria-labelledby="perday-h">
            <h2 id="perday-h">Executions per day</h2>
            <UsageChart days={u.byDay.items} from={range.from} to={range.to} />
          </section>
          <section className="section" aria-labelledby="perconn-h">
            <h2 id="perconn-h">By connector</h2>
            {u.byConnector.items.length === 0 ? (
              <Empty title="No executions in this period">
                <p>Run an action from an installed connector and it shows up here.</p>
              </Empty>
            ) : (
              <ConnectorBars items={u.byConnector.items} />
            )}
          </section>
        </div>
      )}
    </div>
  );
}
