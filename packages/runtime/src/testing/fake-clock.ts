import type { Clock } from '../clock.ts';

/**
 * A clock tests move by hand. `sleep` advances the time by what was asked (recorded in `sleeps`) after a
 * real pause of at most 5 ms, so polling loops still let real I/O make progress.
 */
export function createFakeClock(start = Date.UTC(2026, 0, 1)): Clock & { advance(ms: number): void; sleeps: number[] } {
  let now = start;
  const sleeps: number[] = [];
  return {
    now: () => now,
    async sleep(ms) {
      sleeps.push(ms);
      await new Promise((r) => setTimeout(r, Math.min(5, Math.max(0, ms))));
      now += Math.max(0, ms);
    },
    advance(ms) {
      now += ms;
    },
    sleeps,
  };
}
