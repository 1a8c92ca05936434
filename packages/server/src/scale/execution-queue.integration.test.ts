import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../db/db.ts';
import type { PreparedExecution } from '../execution/executions.ts';
import { createExecutionQueue } from './execution-queue.ts';
import { keyspace } from './redis.ts';

// No Redis needed: a port that accepts nothing stands for a Redis that is down or restarting.
describe('execution queue while Redis is unreachable', () => {
  let closedPort = 0;
  let server: Server;
  beforeAll(async () => {
    // Take a free port, then close it, so connecting there is refused.
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closedPort = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('answers a clear 503 instead of leaving the request hanging', async () => {
    // Records what the queue writes to the execution row.
    const writes: unknown[][] = [];
    const db = { withTenant: async (_tenant: string, fn: (tx: { query: (sql: string, params: unknown[]) => Promise<unknown> }) => Promise<unknown>) => fn({ query: async (_sql, params) => writes.push(params) }) } as unknown as Db;
    const queue = createExecutionQueue({ redisUrl: `redis://127.0.0.1:${closedPort}`, keys: keyspace('bos-test-down'), db, perTenant: 5, total: 10, waitMs: 60_000 });
    const execution = { id: '00000000-0000-4000-8000-000000000001', tenantId: 't1', connector: 'c', action: 'a', params: {}, connectionId: 'x', version: '1.0.0', fields: {} } as PreparedExecution;
    try {
      await expect(queue.submit(execution)).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/Redis.*unreachable.*try again/i) });
      await expect(queue.run(execution)).rejects.toMatchObject({ status: 503, message: expect.stringMatching(/Redis/) });
      // The execution row says why it never ran instead of staying queued.
      expect(writes).toHaveLength(2);
      expect(writes[0]![0]).toBe(execution.id);
      expect(JSON.parse(writes[0]![1] as string)).toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/Redis/) });
    } finally {
      // Closing waits for BullMQ's connection to become ready, which it never does here.
      void queue.close().catch(() => undefined);
    }
  }, 10_000);
});
