import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPostgres, servicesRequired, type TestDb } from '../db/test-db.ts';
import { failExecution, findExecution, interruptedError, runExecution, settleExecution, type DiscardedOutcome, type PreparedExecution } from './executions.ts';
import type { ServiceRuntime } from './service-runtime.ts';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl && servicesRequired(process.env)) throw new Error('BOS_REQUIRE_SERVICES=1 but DATABASE_URL is not set: the execution rows test needs PostgreSQL');
const suite = databaseUrl ? describe : describe.skip;

/** A runtime whose one execution runs until the test lets it finish, with `outcome` (a value, or an error to throw). */
function heldRuntime() {
  let started!: () => void;
  let finish!: (outcome: { data: unknown } | { error: Error }) => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const finished = new Promise<{ data: unknown } | { error: Error }>((resolve) => (finish = resolve));
  const meta = { durationMs: 5, attempts: 1, httpCalls: 1 };
  const service = {
    runtime: {
      execute: async () => {
        started();
        const outcome = await finished;
        if ('error' in outcome) throw outcome.error;
        return { data: outcome.data, meta };
      },
    },
    asTenant: (_tenant: string, fn: () => Promise<unknown>) => fn(),
    background: () => undefined,
    close: async () => undefined,
  } as unknown as ServiceRuntime;
  return { service, running, finish };
}

// Execution rows on real PostgreSQL: an attempt that finishes after a redelivery marked its row interrupted (its worker
// lost the job's lock but went on) records its real outcome; a row settled any other way is never rewritten.
suite(`execution rows${databaseUrl ? '' : ': skipped, DATABASE_URL is not set'}`, () => {
  let store: TestDb;
  let tenantId = '';
  const redelivered = interruptedError();

  beforeAll(async () => {
    store = await createTestPostgres(databaseUrl!);
    tenantId = (await store.db.query<{ id: string }>("INSERT INTO connectors.tenants (name) VALUES ('rows') RETURNING id")).rows[0]!.id;
  }, 60_000);
  afterAll(async () => {
    await store?.dispose();
  });

  /** A queued execution row, as the API records it before enqueueing. */
  const queued = async (): Promise<PreparedExecution> => {
    const prepared: PreparedExecution = { id: randomUUID(), tenantId, connector: 'items', action: 'createItem', params: {}, connectionId: randomUUID(), version: '1.0.0', fields: {} };
    await store.db.withTenant(tenantId, (tx) =>
      tx.query(`INSERT INTO connectors.executions (id, tenant_id, connector_name, connector_version, action, status) VALUES ($1, $2, 'items', '1.0.0', 'createItem', 'queued')`, [prepared.id, tenantId]),
    );
    return prepared;
  };
  const row = async (id: string) => (await findExecution(store.db, tenantId, id))!;

  it('records the outcome of the attempt that claimed the execution', async () => {
    const prepared = await queued();
    const { service, finish } = heldRuntime();
    finish({ data: { id: 'i_1' } });
    const discarded: DiscardedOutcome[] = [];
    await expect(runExecution(store.db, service, prepared, { onDiscarded: (d) => discarded.push(d) })).resolves.toMatchObject({ data: { id: 'i_1' } });
    expect(await row(prepared.id)).toMatchObject({ status: 'succeeded', result: { id: 'i_1' }, error: null, meta: { executionId: prepared.id, httpCalls: 1 } });
    expect(discarded).toEqual([]);
  });

  it('records the late success of the attempt that lost its job over the redelivery\'s "may have partly run"', async () => {
    const prepared = await queued();
    const { service, running, finish } = heldRuntime();
    const discarded: DiscardedOutcome[] = [];
    const late = runExecution(store.db, service, prepared, { onDiscarded: (d) => discarded.push(d) });
    await running;
    // Meanwhile the job was redelivered; the redelivery found the row running and recorded it as interrupted.
    await failExecution(store.db, prepared, redelivered, 'running');
    expect(await row(prepared.id)).toMatchObject({ status: 'failed', error: { code: 'INTERNAL', details: { interrupted: true } } });
    finish({ data: { id: 'i_late' } });
    await late;
    // The action did take effect: the row says so, instead of telling the caller to repeat it.
    expect(await row(prepared.id)).toMatchObject({ status: 'succeeded', result: { id: 'i_late' }, error: null });
    expect(discarded).toEqual([]);
  });

  it('records the late failure of that attempt with its own error, and keeps a row failed for another reason', async () => {
    const prepared = await queued();
    const { service, running, finish } = heldRuntime();
    const discarded: DiscardedOutcome[] = [];
    const late = runExecution(store.db, service, prepared, { onDiscarded: (d) => discarded.push(d) });
    await running;
    await failExecution(store.db, prepared, redelivered, 'running');
    finish({ error: new Error('socket hang up') });
    await expect(late).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringMatching(/socket hang up/) });
    expect(await row(prepared.id)).toMatchObject({ status: 'failed', error: { code: 'INTERNAL', message: expect.stringMatching(/socket hang up/) } });
    expect(discarded).toEqual([]);

    // Failed for another reason (not marked interrupted): a late outcome is discarded and the row stays as it was.
    const other = await queued();
    const held = heldRuntime();
    const otherDiscarded: DiscardedOutcome[] = [];
    const lateOther = runExecution(store.db, held.service, other, { onDiscarded: (d) => otherDiscarded.push(d) });
    await held.running;
    await failExecution(store.db, other, { code: 'TIMEOUT', message: 'gave up waiting' }, 'running');
    const before = await row(other.id);
    held.finish({ data: { id: 'i_other' } });
    await lateOther;
    expect(await row(other.id)).toEqual(before);
    expect(otherDiscarded).toEqual([{ executionId: other.id, outcome: 'succeeded', recordedStatus: 'failed' }]);
  });

  it('never changes a row that is already final, whichever outcome arrives', async () => {
    const prepared = await queued();
    await store.db.withTenant(tenantId, (tx) => tx.query(`UPDATE connectors.executions SET status = 'running' WHERE id = $1`, [prepared.id]));
    const meta = { executionId: prepared.id, durationMs: 1, attempts: 1, httpCalls: 1 };
    expect(await settleExecution(store.db, prepared, { status: 'succeeded', result: { id: 'first' }, meta })).toEqual({ recorded: true });
    const finished = await row(prepared.id);
    expect(finished).toMatchObject({ status: 'succeeded', result: { id: 'first' } });
    expect(await settleExecution(store.db, prepared, { status: 'failed', error: { code: 'INTERNAL', message: 'late' }, meta })).toEqual({ recorded: false, status: 'succeeded' });
    expect(await settleExecution(store.db, prepared, { status: 'succeeded', result: { id: 'second' }, meta })).toEqual({ recorded: false, status: 'succeeded' });
    expect(await row(prepared.id)).toEqual(finished);
    // Nor one still queued, which no attempt has claimed.
    const unclaimed = await queued();
    expect(await settleExecution(store.db, unclaimed, { status: 'succeeded', result: null, meta })).toEqual({ recorded: false, status: 'queued' });
    expect(await row(unclaimed.id)).toMatchObject({ status: 'queued', finishedAt: null });
  });
});
