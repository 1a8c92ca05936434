import { describe, expect, it } from 'vitest';
import { createMemoryUsageSink, createUsageMeter, type UsageRecord, type UsageSink } from './usage.ts';

const rec = (i: number, tenant = 't1'): UsageRecord => ({
  executionId: `e${i}`, tenant, connector: 'acme', version: '1.0.0', action: 'ping', status: 'ok', durationMs: 1, attempts: 1, httpCalls: 1, bytesIn: 10, bytesOut: 5, startedAt: 1000 + i,
});

describe('usage meter', () => {
  it('writes full batches at once and the rest on close', async () => {
    const sink = createMemoryUsageSink();
    const meter = createUsageMeter({ sink, batchSize: 3, flushIntervalMs: 0 });
    for (let i = 0; i < 7; i++) meter.record(rec(i));
    await meter.flush();
    expect(sink.records).toHaveLength(7);
    meter.record(rec(7));
    expect(sink.records).toHaveLength(7);
    await meter.close();
    expect(sink.records.map((r) => r.executionId)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7']);
    expect(sink.batches).toBeGreaterThanOrEqual(3);
  });

  it('keeps records while the sink fails and writes them once it recovers', async () => {
    const memory = createMemoryUsageSink();
    let failing = true;
    const sink: UsageSink = { write: async (b) => { if (failing) throw new Error('db down'); await memory.write(b); } };
    const meter = createUsageMeter({ sink, batchSize: 100, flushIntervalMs: 0 });
    meter.record(rec(1));
    meter.record(rec(2));
    await expect(meter.flush()).rejects.toThrow('db down');
    expect(meter.buffered()).toBe(2);
    failing = false;
    await meter.close();
    expect(memory.records).toHaveLength(2);
    expect(meter.buffered()).toBe(0);
  });

  it('answers queries by tenant and period', async () => {
    const sink = createMemoryUsageSink();
    await sink.write([rec(1), rec(2, 't2'), rec(3), rec(50)]);
    expect(sink.query({ tenant: 't1', from: 1002, to: 1050 }).map((r) => r.executionId)).toEqual(['e3']);
    expect(sink.query({ tenant: 't2' })).toHaveLength(1);
  });
});
