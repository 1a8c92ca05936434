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
  /** When the armed timer fires (epoch ms). */
  dueAt: number | undefined;
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
  // Polls still running for subscriptions that were unscheduled: a new schedule of one waits for its poll.
  const draining = new Map<string, Promise<void>>();
  let closed = false;

  const jitterMs = (sub: PollSubscription) => Math.floor(random() * jitter * options.poller.intervalMs(sub));

  function arm(entry: Entry, delayMs: number): void {
    if (closed || entries.get(entry.subscription.id) !== entry) return;
    entry.dueAt = clock.now() + Math.max(0, delayMs);
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.running = run(entry).finally(() => { entry.running = undefined; });
    }, Math.max(0, delayMs));
  }

  async function run(entry: Entry): Promise<void> {
    const previous = draining.get(entry.subscription.id);
    if (previous) await previous;
    if (closed || entries.get(entry.subscription.id) !== entry) return;
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
        const before = options.poller.intervalMs(existing.subscription);
        existing.subscription = subscription;
        // A shorter interval takes effect now, not after the wait armed for the old one (a backoff still applies:
        // the poller answers `backoff` with its own time).
        const soonest = clock.now() + options.poller.intervalMs(subscription);
        if (existing.timer && options.poller.intervalMs(subscription) < before && existing.dueAt !== undefined && soonest < existing.dueAt) {
          clearTimeout(existing.timer);
          existing.timer = undefined;
          arm(existing, soonest - clock.now() + jitterMs(subscription));
        }
        return;
      }
      const entry: Entry = { subscription, timer: undefined, dueAt: undefined, running: undefined };
      entries.set(subscription.id, entry);
      arm(entry, jitterMs(subscription));
    },
    async unschedule(subscriptionId) {
      const entry = entries.get(subscriptionId);
      if (!entry) return;
      entries.delete(subscriptionId);
      if (entry.timer) clearTimeout(entry.timer);
      const running = entry.running;
      if (!running) return;
      draining.set(subscriptionId, running);
      try {
        await running;
      } finally {
        if (draining.get(subscriptionId) === running) draining.delete(subscriptionId);
      }
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
