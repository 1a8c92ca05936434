// Test helpers of @businessos/connector-triggers (they import Vitest): the outbox conformance suite.
export { runOutboxConformance } from './outbox-conformance.ts';
export type { OutboxConformanceOptions } from './outbox-conformance.ts';
