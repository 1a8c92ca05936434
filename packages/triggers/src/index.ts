// Public surface of @businessos/connector-triggers: host-side webhook verification, replay protection, the
// framework-free ingress handler, the events outbox contract, the polling engine with its schedulers, and the bounded
// close of Redis-backed parts (also used by the server's).
// Test helpers (the outbox conformance suite) are in `@businessos/connector-triggers/testing`.
export { systemClock } from './clock.ts';
export type { Clock } from './clock.ts';
export { closeOrDrop, dropWorker, quitOrDrop } from './close-or-drop.ts';
export type { CloseOrDropOptions } from './close-or-drop.ts';

export { decodeSignature, digestEquals } from './verify/constant-time.ts';
export { normalizeHeaders } from './verify/headers.ts';
export type { RawHeaders } from './verify/headers.ts';
export { resolveSigningSecret } from './verify/secret.ts';
export type { SecretContext } from './verify/secret.ts';
export { DEFAULT_TOLERANCE_SECONDS, signDelivery, verifySignature } from './verify/signature.ts';
export type { VerifyFailure, VerifyInput, VerifyResult } from './verify/signature.ts';
export { slackChallenge } from './verify/slack-challenge.ts';

export { extractEventId, MAX_EVENT_ID_LENGTH } from './replay/event-id.ts';
export { readPointer } from './replay/json-pointer.ts';
export { createMemorySeenEvents, createRedisSeenEvents } from './replay/seen-events.ts';
export type { MemorySeenEventsOptions, RedisSeenEventsOptions, SeenEvents } from './replay/seen-events.ts';

export { createMemoryRateLimiter, createRedisRateLimiter } from './ratelimit/token-bucket.ts';
export type { MemoryRateLimiterOptions, RateDecision, RateLimiter, RedisRateLimiterOptions, TokenBucketConfig } from './ratelimit/token-bucket.ts';

export { handleDelivery, parseWebhookBody } from './ingress/handle-delivery.ts';
export type { IngressDeps, IngressLimits, IngressRequest, IngressResponse, TransformRequest, WebhookEndpoint } from './ingress/handle-delivery.ts';

export { MAX_READ_LIMIT } from './outbox/types.ts';
export type {
  AckRequest,
  AppendTarget,
  DeliveryInput,
  EventOutbox,
  OutboxEvent,
  OutboxEventInput,
  ReadAfterQuery,
  StoredDelivery,
  StoredDeliveryRef,
} from './outbox/types.ts';
export { checkReadAfterQuery } from './outbox/validate-query.ts';
export { storableJson } from './outbox/storable-json.ts';
export type { StorableJson } from './outbox/storable-json.ts';
export { createMemoryOutbox } from './outbox/memory-outbox.ts';
export type { MemoryOutbox } from './outbox/memory-outbox.ts';
export { createBullmqPublisher, eventJobId, withPublisher } from './outbox/bullmq-publisher.ts';
export type { BullmqPublisherOptions, EventPublisher, PublishingOutboxOptions } from './outbox/bullmq-publisher.ts';

export { createPoller } from './polling/poller.ts';
export type { Poller, PollerOptions, PollOnceOptions, PollOutcome, PollRunResult, PollSubscription, RunPoll } from './polling/poller.ts';
export { canonicalJson, itemHash } from './polling/item-keys.ts';
export { createMemoryPollStateStore, createRedisPollStateStore } from './polling/state-store.ts';
export type { PollState, PollStateStore } from './polling/state-store.ts';
export type { PollScheduler } from './polling/scheduler.ts';
export { createInProcessScheduler } from './polling/in-process-scheduler.ts';
export type { InProcessSchedulerOptions } from './polling/in-process-scheduler.ts';
export { createBullmqScheduler, pollSchedulerId } from './polling/bullmq-scheduler.ts';
export type { BullmqSchedulerOptions } from './polling/bullmq-scheduler.ts';
export { createRedisLock } from './polling/redis-lock.ts';
export type { DistributedLock } from './polling/redis-lock.ts';
