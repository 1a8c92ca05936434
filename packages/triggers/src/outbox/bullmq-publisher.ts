import { createHash } from 'node:crypto';
import { Queue, type ConnectionOptions } from 'bullmq';
import type { EventOutbox, OutboxEvent } from './types.ts';

/** Pushes outbox events to a queue for the workflow side. */
export interface EventPublisher {
  publish(events: OutboxEvent[]): Promise<void>;
  close(): Promise<void>;
}

export interface BullmqPublisherOptions {
  /** An ioredis instance or connection options, as BullMQ takes them. */
  connection: ConnectionOptions;
  /** Queue the workflow workers consume (e.g. `bos-trigger-events`). */
  queueName: string;
  /** BullMQ key prefix (default `bull`). */
  prefix?: string;
  /** Completed jobs kept (default 1000); the outbox stays the record. */
  keepCompleted?: number;
}

/**
 * The BullMQ job id of an event: derived from (subscription, key), so publishing an event twice (a retry, a
 * republish sweep) adds one job while it is still in the queue.
 */
export function eventJobId(event: Pick<OutboxEvent, 'subscriptionId' | 'key'>): string {
  return `evt-${createHash('sha256').update(event.subscriptionId).update('\u0000').update(event.key).digest('hex').slice(0, 40)}`;
}

/**
 * Publishes events as BullMQ jobs named `trigger-event` whose data is the {@link OutboxEvent}. Consumers ack in the
 * outbox once processed; the queue is a push channel on top of it, not the record.
 */
export function createBullmqPublisher(options: BullmqPublisherOptions): EventPublisher {
  const queue = new Queue(options.queueName, { connection: options.connection, ...(options.prefix ? { prefix: options.prefix } : {}) });
  // An outage surfaces as a failed publish(); without a listener BullMQ would also print the queue's connection
  // errors, once per reconnection attempt.
  queue.on('error', () => undefined);
  return {
    async publish(events) {
      if (events.length === 0) return;
      await queue.addBulk(events.map((event) => ({
        name: 'trigger-event',
        data: event,
        opts: { jobId: eventJobId(event), removeOnComplete: options.keepCompleted ?? 1000, removeOnFail: false, attempts: 5, backoff: { type: 'exponential', delay: 1000 } },
      })));
    },
    close: () => queue.close(),
  };
}

export interface PublishingOutboxOptions {
  /** Told when a publish fails; the events are already stored and stay readable through `readAfter`. */
  onPublishError?: (error: unknown, events: OutboxEvent[]) => void;
}

/**
 * Wraps an outbox so that the events `appendEvents` inserts are also pushed to `publisher` after they are stored.
 * A failing publish does not fail the append (the outbox is the durable record); it is reported to `onPublishError`.
 */
export function withPublisher(outbox: EventOutbox, publisher: EventPublisher, options: PublishingOutboxOptions = {}): EventOutbox {
  return {
    storeDelivery: (d) => outbox.storeDelivery(d),
    getDelivery: (tenantId, id) => outbox.getDelivery(tenantId, id),
    readAfter: (q) => outbox.readAfter(q),
    ack: (r) => outbox.ack(r),
    async appendEvents(target, events) {
      const appended = await outbox.appendEvents(target, events);
      if (appended.length > 0) {
        try {
          await publisher.publish(appended);
        } catch (error) {
          options.onPublishError?.(error, appended);
        }
      }
      return appended;
    },
  };
}
