import type { TestDb } from './test-db.ts';
import { createTestPglite, createTestPostgres } from './test-db.ts';

/** One storage engine a suite runs against; `create` is undefined when it is not available here. */
export interface TestEngine {
  name: 'pglite' | 'postgres';
  create: (() => Promise<TestDb>) | undefined;
  /** Why the engine is skipped, for the suite title. */
  skipReason?: string;
}

/**
 * The engines integration suites repeat their cases on: PGlite always, PostgreSQL when `DATABASE_URL` is set.
 * With `BOS_REQUIRE_SERVICES=1` a missing `DATABASE_URL` fails instead of skipping.
 */
export function testEngines(env: Record<string, string | undefined>): TestEngine[] {
  const url = env.DATABASE_URL;
  if (!url && env.BOS_REQUIRE_SERVICES === '1') {
    throw new Error('BOS_REQUIRE_SERVICES=1 but DATABASE_URL is not set: set it to a PostgreSQL URL whose user may create databases');
  }
  return [
    { name: 'pglite', create: createTestPglite },
    url
      ? { name: 'postgres', create: () => createTestPostgres(url) }
      : { name: 'postgres', create: undefined, skipReason: 'DATABASE_URL is not set' },
  ];
}
