import { runOutboxConformance } from '../testing/outbox-conformance.ts';
import { createMemoryOutbox } from './memory-outbox.ts';

runOutboxConformance(() => createMemoryOutbox(), { name: 'memory outbox conformance' });
