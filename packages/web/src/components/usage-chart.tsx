import type { UsageItem } from '../api/types.ts';

/**
 * Executions per day as bars, errors overlaid in red, drawn as inline SVG with a text table fallback for screen
 * readers. Days with no record are shown as empty bars so the time axis stays even.
 */
export function UsageChart({ days, from, to }: { days: readonly UsageItem[]; from: Date; to: Date }) {
  const byDay = new Map(days.map((d) => [d.key.slice(0, 10), d]));
  const series: { day: string; executions: number; errors: number }[] = [];
  for (let t = Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate()); t <= to.getTime(); t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    const item = byDay.get(day);
    series.push({ day, executions: item?.executions ?? 0, errors: item?.errors ?? 0 });
  }
  const max = Math.max(1, ...series.map((s) => s.executions));
  const W = 960;
  const H = 240;
  const pad = { l: 36, r: 8, t: 12, b: 28 };
  const innerW = W - pad.l - pad.r;
  const innerH = H - pad.t - pad.b;
  const bw = innerW / Math.max(1, series.length);
  const y = (v: number) => pad.t + innerH - (v / max) * innerH;
  const ticks = [...new Set([0, Math.ceil(max / 2), max])];
  const labelEvery = Math.ceil(series.length / 7);
  const total = series.reduce((a, s) => a + s.executions, 0);
  const errors = series.reduce((a, s) => a + s.errors, 0);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Executions per day: ${total} executions and ${errors} errors from ${series[0]?.day} to ${series[series.length - 1]?.day}`}>
        {ticks.map((t) => (
          <g key={t}>
            <line x1={pad.l} x2={W - pad.r} y1={y(t)} y2={y(t)} className="chart-grid" />
            <text x={pad.l - 6} y={y(t) + 4} textAnchor="end" className="chart-axis">
              {t}
            </text>
          </g>
        ))}
        {series.map((s, i) => (
          <g key={s.day}>
            <rect x={pad.l + i * bw + bw * 0.15} width={bw * 0.7} y={y(s.executions)} height={Math.max(0, innerH + pad.t - y(s.executions))} className="chart-bar" rx={2}>
              <title>{`${s.day}: ${s.executions} executions, ${s.errors} errors`}</title>
            </rect>
            {s.errors > 0 && <rect x={pad.l + i * bw + bw * 0.15} width={bw * 0.7} y={y(s.errors)} height={innerH + pad.t - y(s.errors)} className="chart-bar-error" rx={2} />}
            {i % labelEvery === 0 && (
              <text x={pad.l + i * bw + bw / 2} y={H - 8} textAnchor="middle" className="chart-axis">
                {s.day.slice(5)}
              </text>
            )}
          </g>
        ))}
      </svg>
      <figcaption className="chart-legend">
        <span className="legend-swatch legend-exec" aria-hidden="true" /> Executions <span className="legend-swatch legend-err" aria-hidden="true" /> Errors
      </figcaption>
    </figure>
  );
}

/** Executions and errors per connector as horizontal bars. */
export function ConnectorBars({ items }: { items: readonly UsageItem[] }) {
  const max = Math.max(1, ...items.map((i) => i.executions));
  return (
    <table className="bars">
      <caption className="visually-hidden">Executions and errors per connector</caption>
      <thead>
        <tr>
          <th scope="col">Connector</th>
          <th scope="col">Executions</th>
          <th scope="col">Errors</th>
          <th scope="col">Avg. duration</th>
        </tr>
      </thead>
      <tbody>
        {items.map((i) => (
          <tr key={i.key}>
            <th scope="row">{i.key}</th>
            <td>
              <span className="bar-cell">
                <span className="bar" style={{ width: `${(i.executions / max) * 100}%` }} aria-hidden="true">
                  <span className="bar-error" style={{ width: `${i.executions ? (i.errors / i.executions) * 100 : 0}%` }} />
                </span>
                {i.executions}
              </span>
            </td>
            <td className={i.errors > 0 ? 'text-danger' : undefined}>{i.errors}</td>
            <td>{Math.round(i.avgDurationMs)} ms</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
