import { afterAll, beforeAll, describe, it } from 'vitest';
import { createTestPglite, type TestDb } from './db/test-db.ts';
import { runE2eScenario, startE2eService, startMockApi, type E2eService, type MockApi } from './execution/e2e-scenario.ts';

describe('end to end on PGlite: publish → install → connect → execute → usage → isolation', () => {
  let store: TestDb;
  let service: E2eService;
  let mock: MockApi;

  beforeAll(async () => {
    store = await createTestPglite();
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
