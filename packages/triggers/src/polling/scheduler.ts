import type { PollSubscription } from './poller.ts';

/**
 * Runs each scheduled polling subscription on its interval, one poll at a time per subscription.
 * Implementations: {@link createInProcessScheduler} (timers) and `createBullmqScheduler` (Redis, many workers).
 */
export interface PollScheduler {
  /** Starts polling a subscription, or updates it (interval, trigger) when already scheduled. Idempotent. */
  schedule(subscription: PollSubscription): Promise<void>;
  /** Stops polling it; a poll in progress finishes. */
  unschedule(subscriptionId: string): Promise<void>;
  /** Stops this scheduler (its timers or worker) and waits for polls in progress. Schedules in Redis stay. */
  close(): Promise<void>;
}
