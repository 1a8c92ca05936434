import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPglite, type TestDb } from '../db/test-db.ts';
import { searchListings } from './search.ts';
import { BUNDLED_CONNECTORS, seedBundledConnectors } from './seed.ts';

describe('seeding the bundled connectors', () => {
  let store: TestDb;
  beforeAll(async () => {
    store = await createTestPglite();
  });
  afterAll(async () => {
    await store?.dispose();
  });

  it('adds shopify, stripe and slack as global published listings, and a broken package does not stop the rest', async () => {
    const broken = { packageName: '@businessos/connector-broken', load: async () => { throw new Error('SyntaxError: Unexpected token'); } };
    const outcomes = await seedBundledConnectors(store.db, [broken, ...BUNDLED_CONNECTORS]);
    expect(outcomes[0]).toMatchObject({ packageName: '@businessos/connector-broken', status: 'failed', error: expect.stringContaining('Unexpected token') });
    expect(outcomes.slice(1)).toEqual(BUNDLED_CONNECTORS.map((c) => expect.objectContaining({ packageName: c.packageName, status: 'added' })));

    const found = await store.db.withTenant(null, (tx) => searchListings(tx, { q: 'stripe', sort: 'relevance', page: 1, pageSize: 10 }));
    expect(found.results[0]).toMatchObject({ name: 'stripe', verified: true, private: false });
  });

  it('is idempotent on the next start', async () => {
    const outcomes = await seedBundledConnectors(store.db);
    expect(outcomes.map((o) => o.status)).toEqual(['present', 'present', 'present']);
    const { rows } = await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM connectors.marketplace');
    expect(rows[0]!.n).toBe(3);
  });

  it('rejects a default export that is not a connector', async () => {
    const [outcome] = await seedBundledConnectors(store.db, [{ packageName: 'x', load: async () => ({ default: { hello: 'world' } }) }]);
    expect(outcome).toMatchObject({ status: 'failed', error: expect.stringContaining('not a Connector') });
  });
});
