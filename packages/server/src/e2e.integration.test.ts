import { afterAll, beforeAll, describe, it } from 'vitest';
import { createTestPostgres, type TestDb } from './db/test-db.ts';
import { runE2eScenario, startE2eService, startMockApi, type E2eService, type MockApi } from './execution/e2e-scenario.ts';

const url = process.env.DATABASE_URL;
if (!url && process.env.BOS_REQUIRE_SERVICES === '1') throw new Error('BOS_REQUIRE_SERVICES=1 but DATABASE_URL is not set: the end-to-end test needs PostgreSQL');
const suite = url ? describe : describe.skip;

suite(`end to end on PostgreSQL (throwaway database)${url ? '' : ': skipped, DATABASE_URL is not set'}`, () => {
  let store: TestDb;
  let service: E2eService;
  let mock: MockApi;

  beforeAll(async () => {
    store = await createTestPostgres(url!);
    service = await startE2eService(store);
    mock = await startMockApi();
  }, 120_000);
  afterAll(async () => {
    await service?.close();
    await mock?.close();
    await store?.dispose();
  });

  it('runs the whole scenario as a new user would', async () => {
    await runE2eScenario(service, mock);
  }, 180_000);
});
