import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines } from '../db/engines.ts';
import type { TestDb } from '../db/test-db.ts';
import { createDbArtifactStore } from './artifact-store.ts';
import { runHappyPath } from './flow.ts';
import { createTestApp, type TestApp } from '../test-app.ts';

// The publish → review → search → artifact path on real PostgreSQL (a throw-away database, dropped afterwards).
const postgres = testEngines(process.env).find((e) => e.name === 'postgres')!;
const suite = postgres.create ? describe : describe.skip;

suite(`publishing on postgres${postgres.skipReason ? ` (skipped: ${postgres.skipReason})` : ''}`, () => {
  let store: TestDb;
  let t: TestApp;

  beforeAll(async () => {
    store = await postgres.create!();
    t = await createTestApp({ store });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await store?.dispose();
  });

  it('publishes, approves, lists and serves the artifact; the published version is immutable', async () => {
    const { submission } = await runHappyPath(t, 'pgitems');
    const artifact = await createDbArtifactStore(store.db).get('pgitems', '0.1.0');
    expect(artifact?.sha256).toBe(submission.artifactSha256);
    await expect(store.db.query("UPDATE connectors.connector_versions SET manifest = '{}' WHERE version = '0.1.0'")).rejects.toThrow(/immutable/);
  }, 180_000);
});
