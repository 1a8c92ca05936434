import { toErrorData, type LogLevel } from '@businessos/connector-sdk';
import type { Clock } from '../clock.ts';
import { systemClock } from '../clock.ts';
import type { Poller, PollOutcome, PollSubscription } from './poller.ts';
import type { PollScheduler } from './scheduler.ts';

export interface InProcessSchedulerOptions {
  poller: Poller;
  clock?: Clock;
  /** Extra random delay added to each wait, as a fraction of the interval (default 0.1), so polls spread out. */
  jitter?: number;
  /** Random source in [0, 1) (tests pin it). */
  random?: () => number;
  /** Called after each poll (metrics, tests). */
  onPoll?: (subscription: PollSubscription, outcome: PollOutcome) => void;
  log?: (level: LogLevel, message: string, data?: unknown) => void;
}

interface Entry {
  subscription: PollSubscription;
  timer: ReturnType<typeof setTimeout> | undefined;
  running: Promise<void> | undefined;
}

/**
 * A {@link PollScheduler} on timers in this process: for a single instance without Redis. Each subscription runs
 * its next poll only after the previous one finished, at the time the poller asks for (interval, or the backoff
 * after failures) plus jitter. The first poll comes after a random part of the jitter window.
 */
export function createInProcessScheduler(options: InProcessSchedulerOptions): PollScheduler {
  const clock = options.clock ?? systemClock;
  const jitter = options.jitter ?? 0.1;
  const random = options.random ?? Math.random;
  const log = options.log ?? (() => undefined);
  const entries = new Map<string, Entry>();
  let closed = false;

  const jitterMs = (sub: PollSubscription) => Math.floor(random() * jitter * options.poller.intervalMs(sub));

  function arm(entry: Entry, delayMs: number): void {
    if (closed || entries.get(entry.subscription.id) !== entry) return;
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.running = run(entry).finally(() => { entry.running = undefined; });
    }, Math.max(0, delayMs));
  }

  async function run(entry: Entry): Promise<void> {
    const sub = entry.subscription;
    let nextRunAt: number;
    try {
      const outcome = await options.poller.pollOnce(sub);
      nextRunAt = outcome.nextRunAt;
      options.onPoll?.(sub, outcome);
    } catch (error) {
      // pollOnce reports poll failures as outcomes; this is the state store itself failing.
      log('error', `polling subscription ${sub.id} failed outside the poll: ${toErrorData(error).message}`, { subscription: sub.id });
      nextRunAt = clock.now() + options.poller.intervalMs(sub);
    }
    arm(entry, nextRunAt - clock.now() + jitterMs(entry.subscription));
  }

  return {
    async schedule(subscription) {
      if (closed) return;
      options.poller.intervalMs(subscription);
      const existing = entries.get(subscription.id);
      if (existing) {
        existing.subscription = subscription;
        return;
      }
      const entry: Entry = { subscription, timer: undefined, running: undefined };
      entries.set(subscription.id, entry);
      arm(entry, jitterMs(subscription));
    },
    async unschedule(subscriptionId) {
      const entry = entries.get(subscriptionId);
      if (!entry) return;
      entries.delete(subscriptionId);
      if (entry.timer) clearTimeout(entry.timer);
      await entry.running;
    },
    async close() {
      closed = true;
      const all = [...entries.values()];
      entries.clear();
      for (const e of all) if (e.timer) clearTimeout(e.timer);
      await Promise.all(all.map((e) => e.running));
    },
  };
}
