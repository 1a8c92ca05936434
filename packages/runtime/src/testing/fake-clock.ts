import type { Clock } from '../clock.ts';

/** A clock tests move by hand; `sleep` resolves at once and advances the time, and records what was asked. */
export function createFakeClock(start = Date.UTC(2026, 0, 1)): Clock & { advance(ms: number): void; sleeps: number[] } {
  let now = start;
  const sleeps: number[] = [];
  return {
    now: () => now,
    async sleep(ms) {
      sleeps.push(ms);
      now += Math.max(0, ms);
    },
    advance(ms) {
      now += ms;
    },
    sleeps,
  };
}
