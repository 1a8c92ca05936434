import type { ErrorCode } from '@businessos/connector-sdk';
import { silentLogger, type RuntimeLogger } from '../clock.ts';

/** One execution, as billed and audited. */
export interface UsageRecord {
  executionId: string;
  tenant: string;
  connector: string;
  version: string;
  /** Action name, `trigger:<name>:<operation>`, or `authenticate`. */
  action: string;
  status: 'ok' | 'error';
  /** Catalogue code when status is `error`. */
  code?: ErrorCode;
  durationMs: number;
  attempts: number;
  httpCalls: number;
  bytesIn: number;
  bytesOut: number;
  /** Epoch milliseconds. */
  startedAt: number;
}

/** Where usage records end up (PostgreSQL in the service). `write` gets whole batches. */
export interface UsageSink {
  write(records: UsageRecord[]): Promise<void>;
}

export interface UsageQuery {
  tenant: string;
  /** Inclusive lower bound of `startedAt` (epoch ms). */
  from?: number;
  /** Exclusive upper bound of `startedAt` (epoch ms). */
  to?: number;
}

/** An in-memory sink with a query, for tests, embedding and benchmarks. */
export function createMemoryUsageSink(): UsageSink & { records: UsageRecord[]; batches: number; query(q: UsageQuery): UsageRecord[] } {
  const records: UsageRecord[] = [];
  const sink = {
    records,
    batches: 0,
    async write(batch: UsageRecord[]) {
      sink.batches++;
      records.push(...batch.map((r) => ({ ...r })));
    },
    query(q: UsageQuery) {
      return records.filter((r) => r.tenant === q.tenant && (q.from === undefined || r.startedAt >= q.from) && (q.to === undefined || r.startedAt < q.to));
    },
  };
  return sink;
}

export interface UsageMeterOptions {
  sink: UsageSink;
  /** Records per batch; a full batch is written at once (default 100). */
  batchSize?: number;
  /** Buffered records are written at least this often (default 1000 ms; 0 turns the timer off). */
  flushIntervalMs?: number;
  /** Records kept while the sink fails (default 100 000); beyond it the oldest are dropped and logged. */
  maxBuffered?: number;
  logger?: RuntimeLogger;
}

/** Buffers usage records and writes them in batches. */
export interface UsageMeter {
  record(record: UsageRecord): void;
  /** Writes everything buffered; a failed write keeps the records for the next flush and rejects. */
  flush(): Promise<void>;
  /** Stops the timer and flushes: nothing is lost on a clean shutdown. */
  close(): Promise<void>;
  buffered(): number;
}

/** Creates the batching meter. */
export function createUsageMeter(options: UsageMeterOptions): UsageMeter {
  const batchSize = options.batchSize ?? 100;
  const maxBuffered = options.maxBuffered ?? 100_000;
  const logger = options.logger ?? silentLogger;
  let buffer: UsageRecord[] = [];
  let flushing: Promise<void> | undefined;
  let closed = false;

  async function writeAll(): Promise<void> {
    while (buffer.length > 0) {
      const batch = buffer.slice(0, batchSize);
      await options.sink.write(batch);
      buffer = buffer.slice(batch.length);
    }
  }

  function flush(): Promise<void> {
    // One flush at a time; a caller arriving during a flush waits for it and then for its own records.
    const run = (flushing ?? Promise.resolve()).catch(() => undefined).then(writeAll);
    const tracked = run.finally(() => {
      if (flushing === tracked) flushing = undefined;
    });
    flushing = tracked;
    return tracked;
  }

  const timer = (options.flushIntervalMs ?? 1000) > 0
    ? setInterval(() => {
        if (buffer.length > 0) flush().catch((error: unknown) => logger.warn('usage flush failed; records kept for the next try', { error: String(error), buffered: buffer.length }));
      }, options.flushIntervalMs ?? 1000)
    : undefined;
  timer?.unref();

  return {
    record(record) {
      if (closed) {
        logger.warn('usage record after close(); writing it directly', { executionId: record.executionId });
        options.sink.write([record]).catch((error: unknown) => logger.error('usage record lost after close()', { error: String(error), executionId: record.executionId }));
        return;
      }
      buffer.push(record);
      if (buffer.length > maxBuffered) {
        const dropped = buffer.splice(0, buffer.length - maxBuffered);
        logger.error('usage buffer overflow: the sink has been failing; oldest records dropped', { dropped: dropped.length });
      }
      if (buffer.length >= batchSize) flush().catch((error: unknown) => logger.warn('usage flush failed; records kept for the next try', { error: String(error), buffered: buffer.length }));
    },
    flush,
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      await flush();
    },
    buffered: () => buffer.length,
  };
}
