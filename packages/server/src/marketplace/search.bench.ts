// Benchmark of marketplace search (not a test): 100,000 generated listings in a throw-away database, migrated by
// the service's own migrations; a fixed query mix (common word, two words, prefix, rare word, plus a typo) sent by
// 4 concurrent clients through the real HTTP API (Fastify on loopback, undici), beside the same search run directly
// in a tenant transaction (same role, same row-level security, same SQL) by 4 concurrent callers, and, as the
// baseline in the same rounds, that SQL counting every match instead of reading the prefix counts (migration 011).
// Run: node packages/server/src/marketplace/search.bench.ts  (DATABASE_URL: admin URL of a PostgreSQL server whose
// user may create databases; default postgres://postgres@127.0.0.1:5432/postgres; PGlite when unreachable).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Agent, request } from 'undici';
import { buildApp } from '../app.ts';
import { bootstrapPlatform } from '../bootstrap.ts';
import { loadConfig } from '../config.ts';
import type { Db } from '../db/db.ts';
import { migrate } from '../db/migrate.ts';
import { createPgDb } from '../db/pg.ts';
import { createPgliteDb } from '../db/pglite.ts';
import { generateApiKey } from '../http/api-key.ts';
import { searchListings } from './search.ts';

const LISTINGS = 100_000;
const PRIVATE_SHARE = 0.03;
const TENANTS = 20;
const CLIENTS = 4;
const PAGE_SIZE = 20;
const ROUNDS = 4;
const PER_CLIENT_PER_ROUND = 25;
const SOLO_REQUESTS = 40;
const GOAL_P95_MS = 50;
const GOAL_RATIO = 1.5;

// Deterministic data: the same listings and queries on every run.
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(20261126);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
// Skewed choice: early items are far more likely (a long tail, like real catalogues).
const pickSkewed = <T>(items: readonly T[]): T => items[Math.floor(items.length * random() ** 2.2)]!;
const title = (w: string): string => w[0]!.toUpperCase() + w.slice(1);

const CATEGORIES: Record<string, readonly string[]> = {
  productivity: ['task', 'project', 'note', 'document', 'calendar', 'event', 'board'],
  crm: ['contact', 'deal', 'lead', 'company', 'pipeline', 'account', 'opportunity'],
  marketing: ['campaign', 'audience', 'subscriber', 'list', 'segment', 'form', 'newsletter'],
  messaging: ['message', 'channel', 'email', 'sms', 'notification', 'chat', 'thread'],
  ecommerce: ['order', 'product', 'customer', 'inventory', 'cart', 'shipment', 'coupon'],
  'developer-tools': ['repository', 'issue', 'build', 'deployment', 'webhook', 'release', 'commit'],
  payments: ['payment', 'invoice', 'refund', 'payout', 'subscription', 'charge', 'dispute'],
  analytics: ['report', 'dashboard', 'metric', 'event', 'funnel', 'cohort', 'query'],
  support: ['ticket', 'conversation', 'agent', 'article', 'customer', 'survey', 'macro'],
  accounting: ['invoice', 'bill', 'expense', 'ledger', 'journal', 'vendor', 'receipt'],
  storage: ['file', 'folder', 'bucket', 'object', 'backup', 'share', 'upload'],
  hr: ['employee', 'candidate', 'job', 'applicant', 'payroll', 'timesheet', 'review'],
  social: ['post', 'comment', 'follower', 'mention', 'profile', 'story', 'page'],
  ai: ['prompt', 'completion', 'embedding', 'model', 'transcript', 'summary', 'classification'],
  other: ['record', 'item', 'entry', 'row', 'resource', 'asset', 'link'],
};
const CATEGORY_NAMES = Object.keys(CATEGORIES);
const SYLLABLES = ['ac', 'bo', 'ca', 'da', 'el', 'fi', 'go', 'ha', 'io', 'ju', 'ka', 'lu', 'mo', 'ne', 'ox', 'pi', 'qu', 'ra', 'si', 'tu', 'ul', 'vi', 'wa', 'xe', 'yo', 'za', 'bri', 'cro', 'dex', 'flo', 'gri', 'hub', 'lin', 'mar', 'nov', 'pro', 'sta', 'tri', 'ver', 'zen'];
const SUFFIXES = ['', '', '', 'ly', 'io', 'hq', 'app', 'ify', 'base', 'desk', 'flow', 'stack'];
const VERBS = ['Create', 'Get', 'List', 'Update', 'Delete', 'Search', 'Archive', 'Send', 'Find', 'Upsert'];
const OPENERS = [
  'Sync {a}s and {b}s with {brand}.',
  'Connect {brand} to your workflows: create {a}s, update {b}s and react to new ones.',
  'Automate {a} and {b} work in {brand} without writing code.',
  'The official {brand} connector for {cat} teams.',
  'Manage {brand} {a}s, {b}s and more from your automations.',
  'Keep {a}s in sync between {brand} and the rest of your stack.',
];
const CLOSERS = ['', '', 'Real-time triggers for every change.', 'Supports API keys and OAuth.', 'Built for growing teams.', 'Bulk import and export of data.', 'Works with sandbox and live accounts.'];

interface Listing {
  tenantId: string | null;
  name: string;
  displayName: string;
  description: string;
  category: string;
  keywords: string;
  installs: number;
  ratingSum: number;
  ratingCount: number;
  createdAt: string;
  verified: boolean;
  approved: boolean;
}

function generate(tenantIds: readonly string[]): Listing[] {
  const names = new Set<string>();
  const listings: Listing[] = [];
  for (let i = 0; i < LISTINGS; i++) {
    const category = pickSkewed(CATEGORY_NAMES);
    const nouns = CATEGORIES[category]!;
    const syllables = 2 + Math.floor(random() * 2);
    const brand = Array.from({ length: syllables }, () => pick(SYLLABLES)).join('') + pick(SUFFIXES);
    let name = random() < 0.4 ? `${brand}-${pick(nouns)}` : brand;
    for (let n = 2; names.has(name); n++) name = `${brand}-${n}`;
    names.add(name);
    const a = pick(nouns);
    const b = pick(nouns);
    const brandTitle = title(brand);
    const description = `${pick(OPENERS)} ${pick(CLOSERS)}`.replaceAll('{a}', a).replaceAll('{b}', b).replaceAll('{brand}', brandTitle).replaceAll('{cat}', category).trim();
    const actions = new Set<string>();
    const count = 2 + Math.floor(random() * 6);
    for (let k = 0; k < count; k++) {
      const noun = pick(nouns);
      const verb = pick(VERBS);
      actions.add(`${verb} ${title(noun)}${verb === 'List' || verb === 'Search' ? 's' : ''}`);
    }
    if (random() < 0.5) actions.add(`New ${title(pick(nouns))}`);
    const ratingCount = random() < 0.3 ? Math.floor(random() * 200) : 0;
    listings.push({
      tenantId: random() < PRIVATE_SHARE ? pick(tenantIds) : null,
      name,
      displayName: name.split('-').map(title).join(' '),
      description,
      category,
      keywords: [...actions].join(' '),
      installs: Math.floor(1 / (random() + 0.0001)) * 3,
      ratingSum: Math.round(ratingCount * (2 + random() * 3)),
      ratingCount,
      createdAt: new Date(Date.UTC(2023, 0, 1) + random() * 3 * 365 * 86_400_000).toISOString(),
      verified: random() < 0.05,
      approved: random() < 0.97,
    });
  }
  return listings;
}

// Stores ------------------------------------------------------------------------------------------------------------

interface Store {
  db: Db;
  engine: string;
  dispose(): Promise<void>;
}

async function openStore(): Promise<{ store: Store; note: string }> {
  const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `bos_bench_search_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const version = (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const db = createPgDb(url.toString(), { max: 10 });
    const dispose = async () => {
      await db.close();
      const dropper = new pg.Client({ connectionString: adminUrl });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    };
    return { store: { db, engine: `PostgreSQL ${version}`, dispose }, note: `PostgreSQL ${version} on ${url.host}, throw-away database ${name} (dropped afterwards).` };
  } catch (error) {
    await admin.end().catch(() => {});
    const db = await createPgliteDb();
    return {
      store: { db, engine: 'PGlite', dispose: () => db.close() },
      note: `**PostgreSQL was not reachable** at ${new URL(adminUrl).host} (${(error as Error).message}): this run used in-memory PGlite (one connection, so concurrent clients queue). Figures are not comparable with PostgreSQL runs.`,
    };
  }
}

async function load(db: Db): Promise<{ tenantKeys: { tenantId: string; secret: string }[]; ms: number }> {
  const started = performance.now();
  const tenantKeys: { tenantId: string; secret: string }[] = [];
  await db.transaction(async (tx) => {
    for (let i = 0; i < TENANTS; i++) {
      const tenantId = (await tx.query<{ id: string }>('INSERT INTO connectors.tenants (name) VALUES ($1) RETURNING id', [`bench-tenant-${i}`])).rows[0]!.id;
      const key = generateApiKey();
      await tx.query("INSERT INTO connectors.api_keys (tenant_id, name, prefix, key_hash, roles) VALUES ($1, 'bench', $2, $3, ARRAY['tenant_admin'])", [tenantId, key.prefix, key.hash]);
      tenantKeys.push({ tenantId, secret: key.secret });
    }
  });
  const listings = generate(tenantKeys.map((t) => t.tenantId));
  const BATCH = 5000;
  for (let i = 0; i < listings.length; i += BATCH) {
    const batch = listings.slice(i, i + BATCH);
    const col = <K extends keyof Listing>(k: K) => batch.map((l) => l[k]);
    // One multi-row INSERT per batch (unnest of column arrays): works on pg and PGlite alike.
    await db.query(
      `INSERT INTO connectors.marketplace (tenant_id, name, display_name, description, author, npm_package, category, keywords, installs,
         rating_sum, rating_count, created_at, verified, approved, version)
       SELECT t, n, d, descr, 'Bench Publisher', '@bench/' || n, c, k, i, rs, rc, ca, v, a, CASE WHEN a THEN '1.' || (length(n) % 5) || '.0' END
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::int[], $9::int[], $10::timestamptz[], $11::bool[], $12::bool[])
         AS u(t, n, d, descr, c, k, i, rs, rc, ca, v, a)`,
      [col('tenantId'), col('name'), col('displayName'), col('description'), col('category'), col('keywords'), col('installs'), col('ratingSum'), col('ratingCount'), col('createdAt'), col('verified'), col('approved')],
    );
  }
  // Every approved listing has its latest version; one in 50 is deprecated.
  await db.query(
    `INSERT INTO connectors.connector_versions (connector_id, tenant_id, version, manifest, status, published_at, deprecation_message, replacement)
     SELECT id, tenant_id, version, jsonb_build_object('name', name, 'version', version, 'displayName', display_name, 'category', category), 'published', created_at,
       CASE WHEN installs % 50 = 7 THEN 'Use the v2 connector instead.' END, CASE WHEN installs % 50 = 7 THEN name || '-v2' END
     FROM connectors.marketplace WHERE version IS NOT NULL`,
  );
  await db.query('VACUUM ANALYZE connectors.marketplace');
  await db.query('VACUUM ANALYZE connectors.connector_versions');
  await db.query('VACUUM ANALYZE connectors.search_entries');
  return { tenantKeys, ms: performance.now() - started };
}

// The query mix -------------------------------------------------------------------------------------------------------

interface Kind {
  kind: string;
  queries: string[];
  goal: boolean;
}

function mix(rareWords: string[]): Kind[] {
  return [
    { kind: 'common word', queries: ['sync', 'automate', 'order', 'message'], goal: true },
    { kind: 'two words', queries: ['create invoice', 'customer sync', 'send email', 'new lead'], goal: true },
    { kind: 'prefix (type-ahead)', queries: ['pay', 'inv', 'cust', 'sub'], goal: true },
    { kind: 'rare word', queries: rareWords, goal: true },
    { kind: 'typo (extra, pg_trgm)', queries: rareWords.map((w) => w.slice(0, 2) + w.slice(3)), goal: false },
  ];
}

// A few brand names that exist in exactly one global listing, picked deterministically.
async function rareWords(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT name FROM connectors.marketplace
     WHERE tenant_id IS NULL AND approved AND name !~ '-' AND length(name) BETWEEN 7 AND 10 ORDER BY md5(name) LIMIT 4`,
  );
  return rows.map((r) => r.name);
}

// What an anonymous search reports ("10000+" beyond the count limit), with the exact number of matches then.
async function matchCounts(db: Db, kind: Kind): Promise<string[]> {
  const counts: string[] = [];
  for (const q of kind.queries) {
    const result = await db.withTenant(null, (tx) => searchListings(tx, { q, sort: 'relevance', page: 1, pageSize: 1 }));
    if (!result.totalIsLowerBound) {
      counts.push(String(result.total));
      continue;
    }
    const exact = await db.withTenant(null, (tx) => searchListings(tx, { q, sort: 'relevance', page: 1, pageSize: 1, countLimit: Number.MAX_SAFE_INTEGER - 1 }));
    counts.push(`${result.total}+ of ${exact.total}`);
  }
  return counts;
}

// Measurement -----------------------------------------------------------------------------------------------------------

/** The p-th percentile (nearest rank). */
function pct(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

type Call = (client: number, q: string) => Promise<void>;

// `clients` callers in parallel, each running `perClient` calls one after another, cycling through the queries.
async function concurrent(call: Call, queries: readonly string[], perClient: number, clients = CLIENTS): Promise<number[]> {
  const samples: number[] = [];
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      for (let i = 0; i < perClient; i++) {
        const q = queries[(i + client) % queries.length]!;
        const t = performance.now();
        await call(client, q);
        samples.push(performance.now() - t);
      }
    }),
  );
  return samples;
}

const fmt = (n: number): string => `${n.toFixed(1)} ms`;

// Main -----------------------------------------------------------------------------------------------------------------

const { store, note } = await openStore();
const dataDir = mkdtempSync(path.join(tmpdir(), 'bos-bench-search-'));
const startLoad = loadavg()[0]!;
try {
  await migrate(store.db);
  await bootstrapPlatform(store.db);
  const loaded = await load(store.db);
  const config = loadConfig({ BOS_DATA_DIR: dataDir });
  const app = await buildApp({ config, db: store.db });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const agent = new Agent({ connections: CLIENTS });

  // Clients 0 and 1 are anonymous (public catalogue); 2 and 3 send a tenant's key and also see its private listings.
  const tenantOf = (client: number) => (client >= 2 ? loaded.tenantKeys[client - 2]! : null);
  const viaApi: Call = async (client, q) => {
    const tenant = tenantOf(client);
    const res = await request(`${origin}/marketplace/search?q=${encodeURIComponent(q)}&pageSize=${PAGE_SIZE}`, {
      dispatcher: agent,
      headers: tenant ? { authorization: `Bearer ${tenant.secret}` } : {},
    });
    const body = (await res.body.json()) as { total?: number };
    if (res.statusCode !== 200 || typeof body.total !== 'number') throw new Error(`search ${q} answered ${res.statusCode}: ${JSON.stringify(body)}`);
  };
  const viaSql: Call = async (client, q) => {
    await store.db.withTenant(tenantOf(client)?.tenantId ?? null, (tx) => searchListings(tx, { q, sort: 'relevance', page: 1, pageSize: PAGE_SIZE }));
  };
  // The baseline: the same search without the prefix counts (every match visited to count it, as before migration 011).
  const viaSqlCounting: Call = async (client, q) => {
    await store.db.withTenant(tenantOf(client)?.tenantId ?? null, (tx) =>
      searchListings(tx, { q, sort: 'relevance', page: 1, pageSize: PAGE_SIZE, prefixCounts: false }),
    );
  };

  const kinds = mix(await rareWords(store.db));
  const rows: string[][] = [];
  const verdicts: boolean[] = [];
  for (const kind of kinds) {
    const counts = await matchCounts(store.db, kind);
    // Warm up both paths (plans, caches, connections, JIT) before measuring.
    await concurrent(viaApi, kind.queries, 5);
    await concurrent(viaSql, kind.queries, 5);
    await concurrent(viaSqlCounting, kind.queries, 5);
    const api: number[] = [];
    const sql: number[] = [];
    const counting: number[] = [];
    // Alternating rounds, so a burst of load on the shared machine hits both paths alike.
    for (let r = 0; r < ROUNDS; r++) {
      api.push(...(await concurrent(viaApi, kind.queries, PER_CLIENT_PER_ROUND)));
      sql.push(...(await concurrent(viaSql, kind.queries, PER_CLIENT_PER_ROUND)));
      counting.push(...(await concurrent(viaSqlCounting, kind.queries, PER_CLIENT_PER_ROUND)));
    }
    // For attribution only: the same SQL from one caller, without the contention of 4 clients on the cores.
    const solo = await concurrent(viaSql, kind.queries, SOLO_REQUESTS, 1);
    const apiP50 = pct(api, 50);
    const apiP95 = pct(api, 95);
    const sqlP50 = pct(sql, 50);
    const sqlP95 = pct(sql, 95);
    const ratio = apiP95 / sqlP95;
    const ok = apiP95 <= GOAL_P95_MS && ratio <= GOAL_RATIO;
    if (kind.goal) verdicts.push(ok);
    rows.push([
      kind.kind,
      kind.queries.map((q, i) => `\`${q}\` (${counts[i]})`).join(', '),
      fmt(apiP50),
      fmt(apiP95),
      fmt(sqlP50),
      fmt(sqlP95),
      `${(apiP50 / sqlP50).toFixed(2)}× / ${ratio.toFixed(2)}×`,
      fmt(pct(solo, 50)),
      fmt(pct(counting, 95)),
      kind.goal ? (ok ? 'yes' : 'no') : '(not in the goal)',
    ]);
  }
  await app.close();
  await agent.close();

  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const header = ['Query kind', 'Queries (matches)', 'API p50', 'API p95', 'SQL p50', 'SQL p95', 'API/SQL p50 / p95', 'SQL p50, 1 client', 'SQL p95, counting every match', `Met (p95 ≤ ${GOAL_P95_MS} ms, API ≤ ${GOAL_RATIO}× SQL)`];
  const endLoad = loadavg()[0]!;
  const cores = availableParallelism();
  console.log(`### Search over ${LISTINGS.toLocaleString('en')} listings, ${CLIENTS} concurrent clients\n`);
  console.log([line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n'));
  console.log(
    `\nGoals (issue 4): p95 ≤ ${GOAL_P95_MS} ms through the HTTP API and API ≤ ${GOAL_RATIO}× the SQL time (compared at p95): ` +
      `**${verdicts.every(Boolean) ? 'met' : 'not met'}** (${verdicts.filter(Boolean).length} of ${verdicts.length} kinds).`,
  );
  console.log(
    `\nHow: ${note} ${LISTINGS.toLocaleString('en')} listings (${Math.round(PRIVATE_SHARE * 100)} % private to ${TENANTS} tenants, 3 % unapproved) loaded in ${(loaded.ms / 1000).toFixed(1)} s through the service's migrations. ` +
      `Per kind: ${CLIENTS} clients × ${PER_CLIENT_PER_ROUND} requests × ${ROUNDS} rounds per path after a warm-up, relevance order, page 1 of ${PAGE_SIZE}; ` +
      'clients 0–1 anonymous, 2–3 with a tenant key (the API then also resolves the key). ' +
      '"API": GET /marketplace/search on the real Fastify app over loopback HTTP (undici); "SQL": the same search (`searchListings`: same statements) in `withTenant` (role bos_app, RLS, tenant set) on the same pool. ' +
      '"Counting every match": the SQL path with `prefixCounts: false` (no prefix counts, migration 011), in the same rounds, as the baseline. ' +
        '"Matches" is the total an anonymous search reports (`10000+ of n`: counted up to the limit, n matches in all); "1 client" is the same SQL from one anonymous caller, for attribution. ' +
      'Without REDIS_URL, so no response cache: every request runs the search.',
  );
  console.log(
    `\nConditions: ${cores} cores; load average (1 min) ${startLoad.toFixed(2)} at start, ${endLoad.toFixed(2)} at end.` +
      (Math.max(startLoad, endLoad) > cores ? ` **Warning:** above the core count: other processes competed for the CPU, so wall times are inflated.` : ''),
  );
} finally {
  await store.dispose();
  rmSync(dataDir, { recursive: true, force: true });
}
