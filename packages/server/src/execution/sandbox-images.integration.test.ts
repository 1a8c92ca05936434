// Sandbox images in the store: a bundle loaded by one pool (as the publish checks' dry load does) starts from its
// image in another pool that shares only the database, on PGlite and on real PostgreSQL.
import { createHash } from 'node:crypto';
import { createSandboxPool, engineBuildId, type SandboxHost } from '@businessos/connector-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testEngines } from '../db/engines.ts';
import type { TestDb } from '../db/test-db.ts';
import { createDbImageStore } from './sandbox-images.ts';

const code = `
  let calls = 0;
  export default { async executeAction(name, params) { calls += 1; if (name === 'keep') globalThis.kept = params.value; return { calls, kept: globalThis.kept ?? null }; } };
  // ${Date.now()}`;
const bundle = { key: 'images-test@1.0.0', code, sha256: createHash('sha256').update(code).digest('hex') };
const host: SandboxHost = { request: () => Promise.reject(new Error('no HTTP here')), log: () => undefined };
const job = (tenant: string, action: string, params: unknown = {}) => ({ tenant, bundle, call: { kind: 'action' as const, action, params } });

for (const engine of testEngines(process.env)) {
  const suite = engine.create ? describe : describe.skip;
  suite(`sandbox images on ${engine.name}${engine.skipReason ? ` (skipped: ${engine.skipReason})` : ''}`, () => {
    let store: TestDb;
    beforeAll(async () => {
      store = await engine.create!();
    });
    afterAll(() => store?.dispose());

    it('stores the first load image and restores it in another process-like pool', async () => {
      const first = createSandboxPool({ workers: 1, images: createDbImageStore(store.db) });
      try {
        expect(await first.run(job('tenant-a', 'keep', { value: 'secret-of-a' }), host)).toMatchObject({ ok: true, value: { calls: 1, kept: 'secret-of-a' } });
      } finally {
        await first.close();
      }
      const row = async () => (await store.db.withTenant(null, (tx) => tx.query<{ build: string; size: number }>('SELECT build, size FROM connectors.sandbox_images WHERE sha256 = $1', [bundle.sha256]))).rows;
      await expect.poll(row).toHaveLength(1);
      expect((await row())[0]).toMatchObject({ build: engineBuildId() });
      expect((await row())[0]!.size).toBeGreaterThan(0);
      // Stored gzip-compressed: the row holds far fewer bytes than the image.
      const stored = (await store.db.query<{ n: number; size: number }>('SELECT octet_length(image) AS n, size FROM connectors.sandbox_images WHERE sha256 = $1', [bundle.sha256])).rows[0]!;
      expect(stored.n * 2).toBeLessThan(stored.size);

      // A second pool with its own (empty) in-process cache: only the table can give it the image.
      const second = createSandboxPool({ workers: 1, images: createDbImageStore(store.db) });
      try {
        const r = await second.run(job('tenant-b', 'look'), host);
        expect(r).toMatchObject({ ok: true, value: { calls: 1, kept: null }, stats: { warm: false, restored: true } });
      } finally {
        await second.close();
      }
    });

    it('prunes images of other builds only', async () => {
      const images = createDbImageStore(store.db);
      await images.put('qjs-old-build', bundle.sha256, new Uint8Array([1, 2, 3]));
      await store.db.query("UPDATE connectors.sandbox_images SET created_at = now() - interval '30 days' WHERE build = 'qjs-old-build'");
      expect(await images.prune(engineBuildId())).toBe(1);
      const builds = (await store.db.withTenant(null, (tx) => tx.query<{ build: string }>('SELECT build FROM connectors.sandbox_images'))).rows.map((r) => r.build);
      expect(builds).toEqual([engineBuildId()]);
    });

    it('reads raw rows as they are and refuses a damaged compressed row', async () => {
      const sha = 'b'.repeat(64);
      await store.db.query("INSERT INTO connectors.sandbox_images (build, sha256, image, size) VALUES ('raw-build', $1, '\\x0102030405', 5)", [sha]);
      expect([...((await createDbImageStore(store.db).get('raw-build', sha)) ?? [])]).toEqual([1, 2, 3, 4, 5]);
      await store.db.query("INSERT INTO connectors.sandbox_images (build, sha256, image, size) VALUES ('damaged-build', $1, '\\x1f8b0800000000000003ffff', 9)", [sha]);
      const errors: string[] = [];
      expect(await createDbImageStore(store.db, { onError: (op) => errors.push(op) }).get('damaged-build', sha)).toBeUndefined();
      expect(errors).toEqual(['get']);
    });

    it('reports a failing table and answers no image', async () => {
      const errors: string[] = [];
      const down = () => Promise.reject(new Error('database down'));
      const broken = createDbImageStore({ ...store.db, withTenant: down }, { onError: (op) => errors.push(op) });
      expect(await broken.get('b', 'a'.repeat(64))).toBeUndefined();
      await broken.put('b', 'a'.repeat(64), new Uint8Array([1]));
      await expect.poll(() => [...errors].sort()).toEqual(['get', 'prune', 'put']);
    });
  });
}
