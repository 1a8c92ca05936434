import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db, Queryable, QueryResult } from '../db/db.ts';
import { testEngines } from '../db/engines.ts';
import type { TestDb } from '../db/test-db.ts';
import { COUNT_LIMIT, RANK_LIMIT, searchListings, type SearchInput, type SearchResult } from './search.ts';

interface Seed {
  name: string;
  description: string;
  category: string | null;
  installs?: number;
  keywords?: string;
  tenant?: 'a' | 'b';
  approved?: boolean;
  deprecated?: boolean;
}

// Bulk listings (filler-0, filler-1, ...): one in ten says "sync", more than RANK_LIMIT in all, so the capped ranking
// and pagination over many matches are exercised; the many others make the plan test's statistics realistic.
const FILLER = 3000;
const FILLER_SYNC = FILLER / 10;
const CATALOGUE: Seed[] = [
  { name: 'stripe', description: 'Accept payments and manage subscriptions and refunds.', category: 'payments', installs: 500, keywords: 'Create Customer Create Refund' },
  { name: 'paypal', description: 'Send payouts and capture payments.', category: 'payments', installs: 300, keywords: 'Create Payout' },
  { name: 'shopify', description: 'Manage orders, products and customers of a store.', category: 'ecommerce', installs: 800, keywords: 'Create Order List Products' },
  { name: 'slack', description: 'Post messages to channels.', category: 'messaging', installs: 900, keywords: 'Post Message' },
  { name: 'mailer', description: 'Send transactional email.', category: 'messaging', installs: 50, keywords: 'Send Invoice Email', deprecated: true },
  { name: 'sync', description: 'Generic record copier.', category: null, installs: 0 },
  { name: 'acme-sync', description: 'Copies records.', category: 'productivity', installs: 0 },
  { name: 'calsync', description: 'Calendar sync for teams.', category: 'productivity', installs: 1 },
  { name: 'inhouse-erp', description: 'Our ERP, sync included.', category: 'productivity', tenant: 'a', installs: 5 },
  { name: 'other-erp', description: 'Their ERP.', category: 'productivity', tenant: 'b' },
  { name: 'pending-sync', description: 'Waiting for review, sync.', category: 'productivity', approved: false },
];

/** Records the statements of a search so a test can EXPLAIN exactly what it ran. */
function recording(tx: Queryable, seen: { sql: string; params: readonly unknown[] }[]): Queryable {
  return {
    query<R>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<R>> {
      seen.push({ sql, params });
      return tx.query<R>(sql, params);
    },
    exec: (sql) => tx.exec(sql),
  };
}

for (const engine of testEngines(process.env)) {
  const suite = engine.create ? describe : describe.skip;
  suite(`marketplace search on ${engine.name}${engine.skipReason ? ` (skipped: ${engine.skipReason})` : ''}`, () => {
    let store: TestDb;
    let db: Db;
    const tenants: Record<'a' | 'b', string> = { a: '', b: '' };
    const search = (input: Partial<SearchInput> & { q: string }, tenant: string | null = null): Promise<SearchResult> =>
      db.withTenant(tenant, (tx) => searchListings(tx, { sort: 'relevance', page: 1, pageSize: 20, ...input }));
    const names = (result: SearchResult) => result.results.map((r) => r.name);
    // Ground truth: the matching listings counted by a plain query through the table and its RLS policies.
    const bruteForceCounts = (q: string, tenant: string | null) =>
      db.withTenant(tenant, async (tx) => {
        const { rows } = await tx.query<{ category: string; count: number }>(
          `SELECT coalesce(category, 'other') AS category, count(*)::int AS count FROM connectors.marketplace
           WHERE approved AND version IS NOT NULL AND search @@ (websearch_to_tsquery('english', $1) || to_tsquery('english', $2))
           GROUP BY 1 ORDER BY 2 DESC, 1`,
          [q, `${q}:*`],
        );
        return rows.map((r) => ({ category: r.category, count: Number(r.count) }));
      });

    beforeAll(async () => {
      store = await engine.create!();
      db = store.db;
      await db.transaction(async (tx) => {
        const created = await tx.query<{ id: string }>("INSERT INTO connectors.tenants (name) VALUES ('search-a'), ('search-b') RETURNING id");
        tenants.a = created.rows[0]!.id;
        tenants.b = created.rows[1]!.id;
        for (const seed of CATALOGUE) {
          const approved = seed.approved ?? true;
          const { rows } = await tx.query<{ id: string; tenant_id: string | null }>(
            `INSERT INTO connectors.marketplace (tenant_id, name, display_name, description, npm_package, category, installs, keywords, approved, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id, tenant_id`,
            [seed.tenant ? tenants[seed.tenant] : null, seed.name, seed.name, seed.description, `@t/${seed.name}`, seed.category, seed.installs ?? 0, seed.keywords ?? '', approved, approved ? '1.0.0' : null],
          );
          await tx.query(
            `INSERT INTO connectors.connector_versions (connector_id, tenant_id, version, manifest, status, deprecation_message, replacement)
             VALUES ($1, $2, '1.0.0', '{}', $3, $4, $5)`,
            [rows[0]!.id, rows[0]!.tenant_id, approved ? 'published' : 'pending', seed.deprecated ? 'Use postmark' : null, seed.deprecated ? 'postmark' : null],
          );
        }
        await tx.query(
          `INSERT INTO connectors.marketplace (name, display_name, description, npm_package, category, installs, approved, version)
           SELECT 'filler-' || i, 'Filler ' || i, CASE WHEN i % 10 = 0 THEN 'Keeps records in sync with tool ' ELSE 'Keeps records tidy with tool ' END || i,
             '@t/filler-' || i, (ARRAY['crm', 'marketing', 'analytics'])[i % 3 + 1], 10 + i, true, '1.0.0'
           FROM generate_series(0, $1::int - 1) AS i`,
          [FILLER],
        );
        await tx.query(
          `INSERT INTO connectors.connector_versions (connector_id, version, manifest, status)
           SELECT id, version, '{}', 'published' FROM connectors.marketplace WHERE name LIKE 'filler-%'`,
        );
      });
      await db.query('ANALYZE connectors.marketplace');
    });

    afterAll(async () => {
      await store?.dispose();
    });

    it('ranks an exact name first, then name matches, then matches in the description', async () => {
      const result = await search({ q: 'sync' });
      expect(names(result).slice(0, 2)).toEqual(['sync', 'acme-sync']);
      expect(result.results[0]).toMatchObject({ category: null, private: false, latestVersion: '1.0.0', deprecation: null });
    });

    it('finds words in action names and shows deprecation', async () => {
      const result = await search({ q: 'invoice' });
      expect(names(result)).toEqual(['mailer']);
      expect(result.results[0]!.deprecation).toEqual({ message: 'Use postmark', replacement: 'postmark' });
    });

    it('matches the last word as a prefix and requires every word', async () => {
      expect(names(await search({ q: 'shop' }))).toEqual(['shopify']);
      expect(names(await search({ q: 'stri' }))).toEqual(['stripe']);
      expect(names(await search({ q: 'capture pay' }))).toEqual(['paypal']);
      expect(names(await search({ q: 'capture orders' }))).toEqual([]);
    });

    it('keeps web-search syntax: "or" between words, quoted phrases', async () => {
      expect(names(await search({ q: 'stripe or paypal' }))).toEqual(['stripe', 'paypal']);
      expect(names(await search({ q: 'stripe OR paypal', sort: 'installs' }))).toEqual(['stripe', 'paypal']);
      expect(names(await search({ q: '"capture payments"' }))).toEqual(['paypal']);
    });

    it('tolerates a typo in a name only when the words match nothing', async () => {
      expect(names(await search({ q: 'shopfy' }))).toContain('shopify');
      expect(names(await search({ q: 'strpe' }))).toContain('stripe');
      // "slack" matches, so no look-alike names are mixed in.
      expect(names(await search({ q: 'slack' }))).toEqual(['slack']);
    });

    it('counts categories over all matches (ignoring the category filter) exactly like a plain query', async () => {
      const all = await search({ q: 'sync' });
      expect(all.facets.categories).toEqual(await bruteForceCounts('sync', null));
      expect(all.total).toBe(FILLER_SYNC + 3);
      const crm = await search({ q: 'sync', category: 'crm' });
      expect(crm.facets.categories).toEqual(all.facets.categories);
      expect(crm.total).toBe(all.facets.categories.find((c) => c.category === 'crm')!.count);
      expect(crm.results.every((r) => r.category === 'crm')).toBe(true);
      const other = await search({ q: 'sync', category: 'other' });
      expect(names(other)).toEqual(['sync']);
    });

    it("shows a tenant its private listings, in results and facets, and never another tenant's", async () => {
      const a = await search({ q: 'erp' }, tenants.a);
      expect(a.results.map((r) => [r.name, r.private])).toEqual([['inhouse-erp', true]]);
      expect(names(await search({ q: 'erp' }, tenants.b))).toEqual(['other-erp']);
      expect(names(await search({ q: 'erp' }))).toEqual([]);
      const syncA = await search({ q: 'sync' }, tenants.a);
      expect(syncA.total).toBe(FILLER_SYNC + 4);
      expect(syncA.facets.categories).toEqual(await bruteForceCounts('sync', tenants.a));
      // A typo guess never reaches into another tenant's names either.
      expect(names(await search({ q: 'inhouse-epr' }, tenants.b))).toEqual([]);
    });

    it('never finds listings that are not approved', async () => {
      expect(names(await search({ q: 'pending' }))).toEqual([]);
      expect(names(await search({ q: 'waiting review' }))).toEqual([]);
    });

    it('pages through every match exactly once, past the ranked ones, in a stable order', async () => {
      const seen: string[] = [];
      for (let page = 1; ; page++) {
        const result = await search({ q: 'sync', page, pageSize: 50 });
        if (result.results.length === 0) break;
        seen.push(...names(result));
      }
      expect(seen.length).toBe(FILLER_SYNC + 3);
      expect(new Set(seen).size).toBe(seen.length);
      // A name containing the word is always among the ranked candidates, however few its installs.
      expect(seen.indexOf('calsync')).toBeLessThan(RANK_LIMIT);
      // Beyond the ranked candidates, the rest follow by installs.
      const tail = seen.slice(RANK_LIMIT).map((name) => Number(name.replace('filler-', '')));
      expect(tail).toEqual([...tail].sort((x, y) => y - x));
      expect(names(await search({ q: 'sync', page: 2, pageSize: 50 }))).toEqual(seen.slice(50, 100));
      // With a category filter the ranked candidates fill fewer pages; the pages still cover every match once.
      const crm: string[] = [];
      for (let page = 1; page <= 10; page++) crm.push(...names(await search({ q: 'sync', category: 'crm', page, pageSize: 30 })));
      expect(crm).toEqual(seen.filter((name) => crm.includes(name)));
      expect(crm.length).toBe((await search({ q: 'sync', category: 'crm' })).total);
    });

    // Every page of a search, in order (pages of 50 until an empty one).
    const allPages = async (input: Partial<SearchInput> & { q: string }, tenant: string | null = null): Promise<string[]> => {
      const seen: string[] = [];
      for (let page = 1; ; page++) {
        const result = await search({ ...input, page, pageSize: 50 }, tenant);
        if (result.results.length === 0) return seen;
        seen.push(...names(result));
      }
    };

    it('counts exactly up to the count limit, then reports the total and facets as lower bounds', async () => {
      const exact = await search({ q: 'sync' });
      expect(COUNT_LIMIT).toBeGreaterThan(FILLER_SYNC + 3);
      expect(exact).toMatchObject({ total: FILLER_SYNC + 3, totalIsLowerBound: false });
      // Exactly at the limit the count is still exact; one match more and it is "at least the limit".
      expect(await search({ q: 'sync', countLimit: FILLER_SYNC + 3 })).toMatchObject({ total: FILLER_SYNC + 3, totalIsLowerBound: false });
      expect(await search({ q: 'sync', countLimit: FILLER_SYNC + 2 })).toMatchObject({ total: FILLER_SYNC + 2, totalIsLowerBound: true });
      const capped = await search({ q: 'sync', countLimit: 50 });
      expect(capped).toMatchObject({ total: 50, totalIsLowerBound: true });
      // Facet counts are lower bounds of the exact ones, counted over more matches than the limit.
      const exactCounts = new Map(exact.facets.categories.map((c) => [c.category, c.count]));
      for (const c of capped.facets.categories) expect(c.count).toBeLessThanOrEqual(exactCounts.get(c.category)!);
      expect(capped.facets.categories.reduce((n, c) => n + c.count, 0)).toBeGreaterThan(50);
      const crm = await search({ q: 'sync', category: 'crm', countLimit: 50 });
      expect(crm.totalIsLowerBound).toBe(true);
      expect(crm.total).toBeLessThanOrEqual(exactCounts.get('crm')!);
      // Few matches: never a lower bound, whatever the limit.
      expect(await search({ q: 'erp', countLimit: 1 }, tenants.a)).toMatchObject({ total: 1, totalIsLowerBound: false });
      await expect(search({ q: 'sync', countLimit: 0 })).rejects.toThrow(/countLimit/);
    });

    it('gives the same pages in the same order beyond the count limit, for every sort, filter and tenant', async () => {
      for (const sort of ['relevance', 'installs', 'rating', 'newest'] as const) {
        for (const tenant of [null, tenants.a]) {
          for (const category of [undefined, 'crm', 'other']) {
            const input = { q: 'sync', sort, ...(category ? { category } : {}) };
            const exact = await allPages(input, tenant);
            expect(exact.length, `${sort} ${category}`).toBeGreaterThan(0);
            expect(await allPages({ ...input, countLimit: 50 }, tenant), `${sort} ${category} ${tenant}`).toEqual(exact);
          }
        }
      }
      // Ranking beyond the limit still puts the exact name and the names containing the word first.
      expect(names(await search({ q: 'sync', countLimit: 50 })).slice(0, 2)).toEqual(['sync', 'acme-sync']);
      expect((await allPages({ q: 'sync', countLimit: 50 })).indexOf('calsync')).toBeLessThan(RANK_LIMIT);
    });

    it('gives a one-word search with many matches the same pages from the prefix counts, read in sort order', async () => {
      // "records", "keeps" and "tid" (tidy) match (nearly) every filler: counted from the prefix table, pages in sort order.
      for (const q of ['records', 'keeps', 'tid']) {
        expect((await search({ q })).facets.categories, q).toEqual(await bruteForceCounts(q, null));
        expect((await search({ q }, tenants.a)).facets.categories, q).toEqual(await bruteForceCounts(q, tenants.a));
      }
      expect(await allPages({ q: 'tid' })).toEqual(await allPages({ q: 'tid', prefixCounts: false }));
      for (const sort of ['relevance', 'installs', 'rating', 'newest'] as const) {
        for (const category of [undefined, 'crm', 'other']) {
          for (const page of [1, 2, 7]) {
            const input = { q: 'records', sort, page, pageSize: 50, ...(category ? { category } : {}) };
            const [counted, visited] = [await search(input), await search({ ...input, prefixCounts: false })];
            expect(names(counted), `${sort} ${category} ${page}`).toEqual(names(visited));
            expect(counted.total, `${sort} ${category}`).toBe(visited.total);
          }
        }
      }
      expect(await search({ q: 'records', countLimit: 50 })).toMatchObject({ total: 50, totalIsLowerBound: true });
      // A category without matches of the word: no page, and the counts still say where the matches are.
      const none = await search({ q: 'tid', category: 'payments' });
      expect(none).toMatchObject({ results: [], total: 0 });
      expect(none.facets.categories.length).toBeGreaterThan(0);
    });

    it("never shows another tenant's private listing beyond the count limit, in pages or facets", async () => {
      const b = await allPages({ q: 'sync', countLimit: 50 }, tenants.b);
      expect(b).toHaveLength(FILLER_SYNC + 3);
      expect(b).not.toContain('inhouse-erp');
      expect(await allPages({ q: 'sync', countLimit: 50 }, tenants.a)).toContain('inhouse-erp');
      const bCounts = new Map((await bruteForceCounts('sync', tenants.b)).map((c) => [c.category, c.count]));
      for (const c of (await search({ q: 'sync', countLimit: 50 }, tenants.b)).facets.categories) {
        expect(c.count).toBeLessThanOrEqual(bCounts.get(c.category)!);
      }
      expect(await search({ q: 'erp', countLimit: 1 }, tenants.b)).toMatchObject({ total: 1, totalIsLowerBound: false });
    });

    it('sorts by installs, rating and newest', async () => {
      const byInstalls = await search({ q: 'pay', sort: 'installs' });
      expect(names(byInstalls)).toEqual(['stripe', 'paypal']);
      const newest = await search({ q: '', sort: 'newest', pageSize: 5 });
      expect(newest.total).toBe(CATALOGUE.filter((s) => (s.approved ?? true) && !s.tenant).length + FILLER);
      for (const sort of ['newest', 'rating', 'installs'] as const) {
        const sorted = await search({ q: 'sync', sort, pageSize: 5 });
        expect(sorted.total, sort).toBe(FILLER_SYNC + 3);
        expect(sorted.results, sort).toHaveLength(5);
      }
      expect(names(await search({ q: 'sync', sort: 'installs', pageSize: 2 }))).toEqual(['filler-2990', 'filler-2980']);
      // Browsing without words: relevance falls back to installs.
      expect(names(await search({ q: '', pageSize: 3 }))).toEqual(['filler-2999', 'filler-2998', 'filler-2997']);
      const rating = await search({ q: '', sort: 'rating', pageSize: 1 });
      expect(rating.results).toHaveLength(1);
    });

    it('finds nothing for a query without words', async () => {
      expect(await search({ q: ' -- && ' })).toMatchObject({ results: [], total: 0, facets: { categories: [] } });
    });

    it('keeps the search table in step with listings: publish, approve, edit, installs, ratings, yank, delete', async () => {
      // As bos_app in tenant b, like the service: the trigger writes the search table, which the app role cannot.
      const asB = <T>(fn: (tx: Queryable) => Promise<T>) => db.withTenant(tenants.b, fn);
      const found = async (q: string, tenant: string | null = tenants.b) => names(await search({ q }, tenant)).includes('zorblex');
      const id = await asB(async (tx) => {
        const { rows } = await tx.query<{ id: string }>(
          `INSERT INTO connectors.marketplace (tenant_id, name, display_name, description, npm_package, category, approved, version)
           VALUES ($1, 'zorblex', 'Zorblex', 'Quarterly widget ledger.', '@t/zorblex', 'accounting', false, NULL) RETURNING id`,
          [tenants.b],
        );
        return rows[0]!.id;
      });
      expect(await found('zorblex')).toBe(false); // submitted, not yet approved
      await asB((tx) => tx.query("UPDATE connectors.marketplace SET approved = true, version = '1.0.0' WHERE id = $1", [id]));
      await asB((tx) => tx.query("INSERT INTO connectors.connector_versions (connector_id, tenant_id, version, manifest, status) VALUES ($1, $2, '1.0.0', '{}', 'published')", [id, tenants.b]));
      expect(await found('zorblex')).toBe(true);
      expect(await found('ledger')).toBe(true);
      // Private to b: never in a's results or facets, nor anonymous ones.
      expect(await found('zorblex', tenants.a)).toBe(false);
      expect(await found('zorblex', null)).toBe(false);
      expect((await search({ q: 'zorblex' }, tenants.a)).facets.categories).toEqual([]);
      // A new version's description replaces the old words.
      await asB((tx) => tx.query("UPDATE connectors.marketplace SET description = 'Monthly gadget journal.', category = 'finance' WHERE id = $1", [id]));
      expect(await found('ledger')).toBe(false);
      expect(await found('gadget journal')).toBe(true);
      expect((await search({ q: 'zorblex' }, tenants.b)).facets.categories).toEqual([{ category: 'finance', count: 1 }]);
      // Install counts and ratings (kept on the listing by their own triggers) reach the search table too.
      await asB((tx) => tx.query("INSERT INTO connectors.installations (tenant_id, connector_id, version) VALUES ($1, $2, '1.0.0')", [tenants.b, id]));
      await asB((tx) => tx.query('INSERT INTO connectors.ratings (tenant_id, connector_id, stars) VALUES ($1, $2, 4)', [tenants.b, id]));
      const [row] = (await search({ q: 'zorblex' }, tenants.b)).results;
      expect(row).toMatchObject({ name: 'zorblex', installs: 1, rating: { average: 4, count: 1 } });
      const entry = await db.query<{ installs: number; rating_sum: number; rating_count: number }>('SELECT installs, rating_sum, rating_count FROM connectors.search_entries WHERE id = $1', [id]);
      expect(entry.rows[0]).toEqual({ installs: 1, rating_sum: 4, rating_count: 1 });
      // Yanking the last published version takes it out of search; publishing again brings it back; deleting removes it.
      await asB((tx) => tx.query('UPDATE connectors.marketplace SET version = NULL WHERE id = $1', [id]));
      expect(await found('zorblex')).toBe(false);
      await asB((tx) => tx.query("UPDATE connectors.marketplace SET version = '1.0.0' WHERE id = $1", [id]));
      expect(await found('zorblex')).toBe(true);
      await asB((tx) => tx.query('DELETE FROM connectors.marketplace WHERE id = $1', [id]));
      expect(await found('zorblex')).toBe(false);
      expect((await db.query('SELECT 1 FROM connectors.search_entries WHERE id = $1', [id])).rows).toEqual([]);
      // Every searchable listing has exactly its entry, with the listing's values.
      const drift = await db.query(
        `SELECT m.id FROM connectors.marketplace m FULL JOIN connectors.search_entries e ON e.id = m.id AND m.approved AND m.version IS NOT NULL
         WHERE (m.approved AND m.version IS NOT NULL OR e.id IS NOT NULL)
           AND (e.id IS NULL OR m.id IS NULL OR (m.tenant_id, m.name, m.category, m.installs, m.rating_sum, m.rating_count, m.created_at, m.search)
             IS DISTINCT FROM (e.tenant_id, e.name, e.category, e.installs, e.rating_sum, e.rating_count, e.created_at, e.search))`,
      );
      expect(drift.rows).toEqual([]);
      // The prefix counts (migration 011) are exactly what the entries say, after every step above.
      const countsDrift = await db.query(
        `WITH truth AS (
           SELECT p AS prefix, coalesce(e.tenant_id, '00000000-0000-0000-0000-000000000000'::uuid) AS tenant_key, coalesce(e.category, 'other') AS category, count(*)::int AS docs
           FROM connectors.search_entries e, connectors.search_prefixes(e.search) AS p GROUP BY 1, 2, 3)
         SELECT t.prefix, c.prefix FROM truth t FULL JOIN (SELECT * FROM connectors.search_prefix_counts WHERE docs <> 0) c
           ON (c.prefix, c.tenant_key, c.category) = (t.prefix, t.tenant_key, t.category)
         WHERE c.docs IS DISTINCT FROM t.docs`,
      );
      expect(countsDrift.rows).toEqual([]);
    });

    it('gives the app role no way into the search table except the view', async () => {
      await expect(db.withTenant(tenants.a, (tx) => tx.query('SELECT id FROM connectors.search_entries'))).rejects.toThrow(/permission denied/);
      await expect(
        db.withTenant(tenants.a, (tx) => tx.query("INSERT INTO connectors.search_entries (id, name, installs, rating_sum, rating_count, created_at, search) VALUES (gen_random_uuid(), 'x', 0, 0, 0, now(), ''::tsvector)")),
      ).rejects.toThrow(/permission denied/);
      // Through the view, a tenant sees global entries and its own, never the other tenant's.
      const seen = await db.withTenant(tenants.a, (tx) => tx.query<{ name: string }>("SELECT name FROM connectors.searchable_listings WHERE name LIKE '%erp'"));
      expect(seen.rows.map((r) => r.name)).toEqual(['inhouse-erp']);
    });

    it('matches through the full-text GIN index, which row-level security on the table would forbid', async () => {
      const explain = (sql: string) =>
        db.withTenant(tenants.a, async (tx) => {
          // With sequential scans priced out, a condition that cannot be an index condition still shows as a filter.
          await tx.query("SELECT set_config('enable_seqscan', 'off', true)");
          const { rows } = await tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`);
          return rows.map((r) => r['QUERY PLAN']).join('\n');
        });
      const seen: { sql: string; params: readonly unknown[] }[] = [];
      await db.withTenant(tenants.a, (tx) => searchListings(recording(tx, seen), { q: 'stripe', sort: 'relevance', page: 1, pageSize: 20 }));
      expect(seen.some((statement) => statement.sql.includes('FROM connectors.searchable_listings m'))).toBe(true);
      const fts = "SELECT id FROM %s WHERE search @@ to_tsquery('english', 'stripe')";
      expect(await explain(fts.replace('%s', 'connectors.searchable_listings'))).toContain('Bitmap Index Scan on search_entries_search');
      // The reason for the view: as bos_app on the table, `@@` (not leakproof) must wait for the policy, so no index.
      expect(await explain(fts.replace('%s', 'connectors.marketplace'))).not.toContain('marketplace_search');
    });
  });
}
