// The issue's "done when" scenario as a new user would run it, on each storage engine: PGlite always, PostgreSQL
// when DATABASE_URL is set (required under BOS_REQUIRE_SERVICES=1).
import { afterAll, beforeAll, describe, it } from 'vitest';
import { testEngines } from './db/engines.ts';
import type { TestDb } from './db/test-db.ts';
import { runE2eScenario, startE2eService, startMockApi, type E2eService, type MockApi } from './execution/e2e-scenario.ts';

for (const engine of testEngines(process.env)) {
  const create = engine.create;
  const suite = create ? describe : describe.skip;
  suite(`end to end on ${engine.name}: publish → install → connect → execute → usage → isolation${engine.skipReason ? ` (skipped: ${engine.skipReason})` : ''}`, () => {
    let store: TestDb;
    let service: E2eService;
    let mock: MockApi;

    beforeAll(async () => {
      store = await create!();
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
}
