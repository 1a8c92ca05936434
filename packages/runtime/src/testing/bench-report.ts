// Helpers of the runtime's `*.bench.ts` files (benchmarks, not tests): percentiles, CPU accounting and
// Markdown output with the measurement conditions. Not part of the public API.
import { availableParallelism, cpus, loadavg } from 'node:os';

/** The p-th percentile (nearest rank) of `values`. */
export function pct(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The median of `values`. */
export const median = (values: readonly number[]): number => pct(values, 50);

/** Milliseconds with three decimals. */
export const ms = (n: number): string => (Number.isFinite(n) ? `${n.toFixed(3)} ms` : 'n/a');

/** Process CPU time (all threads: main and sandbox workers) in milliseconds since `since`. */
export function cpuMsSince(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

/** Wall time of each call, and the process CPU time per call over the whole series. */
export async function measure(fn: () => Promise<unknown>, n: number): Promise<{ wall: number[]; cpuPerOp: number }> {
  const wall: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    wall.push(performance.now() - t);
  }
  return { wall, cpuPerOp: cpuMsSince(cpu) / n };
}

/**
 * Runs the candidates in alternating rounds (so a burst of load on the shared machine hits all of them
 * alike) and answers all wall samples plus the median of the per-round CPU time per call.
 */
export async function interleaved<K extends string>(
  candidates: Record<K, () => Promise<unknown>>,
  rounds: number,
  perRound: number,
): Promise<Record<K, { wall: number[]; cpuPerOp: number; cpuRounds: number[] }>> {
  const names = Object.keys(candidates) as K[];
  const out = Object.fromEntries(names.map((k) => [k, { wall: [] as number[], cpuPerOp: 0, cpuRounds: [] as number[] }])) as Record<K, { wall: number[]; cpuPerOp: number; cpuRounds: number[] }>;
  for (let r = 0; r < rounds; r++) {
    for (const k of names) {
      const m = await measure(candidates[k], perRound);
      out[k].wall.push(...m.wall);
      out[k].cpuRounds.push(m.cpuPerOp);
    }
  }
  for (const k of names) out[k].cpuPerOp = median(out[k].cpuRounds);
  return out;
}

/** A Markdown table. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Load averages as text. */
export const loadText = (): string => loadavg().map((l) => l.toFixed(2)).join(' / ');

/** Records the conditions at the start; `end()` answers the Markdown conditions block with a warning when the machine was busy. */
export function conditions(): { end(extra?: string): string } {
  const startLoad = loadavg()[0]!;
  const startText = loadText();
  const cores = availableParallelism();
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return {
    end(extra) {
      const endLoad = loadavg()[0]!;
      const lines = [
        `Conditions: ${cpu}, ${cores} cores, Node ${process.version}; load average (1/5/15 min) at start ${startText}, at end ${loadText()}.`,
        'Wall times include waiting for a core; CPU times are process CPU (main thread and sandbox workers) per call.',
      ];
      if (extra) lines.push(extra);
      if (Math.max(startLoad, endLoad) > cores) {
        lines.push(`**Warning:** the 1-minute load average (${Math.max(startLoad, endLoad).toFixed(2)}) was above the core count (${cores}): other processes competed for the CPU, so wall times are inflated and noisy; compare CPU times and figures from the same run.`);
      }
      return lines.join('\n\n');
    },
  };
}

/** "yes" / "no" for a goal check. */
export const met = (ok: boolean): string => (ok ? 'yes' : 'no');
