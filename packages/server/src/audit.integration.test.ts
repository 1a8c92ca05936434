// The audit log on PGlite and on PostgreSQL: an entry whose details quote a provider or a connector (an error message
// with a NUL character, or cut in the middle of an emoji) is kept, with U+FFFD in their place, and the change it
// records commits with it instead of rolling back.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordAudit } from './audit.ts';
import { testEngines } from './db/engines.ts';
import type { TestDb } from './db/test-db.ts';

for (const engine of testEngines(process.env)) {
  const suite = engine.create ? describe : describe.skip;
  suite(`audit log on ${engine.name}${engine.skipReason ? ` (skipped: ${engine.skipReason})` : ''}`, () => {
    let store: TestDb;
    let tenantId = '';
    beforeAll(async () => {
      store = await engine.create!();
      tenantId = (await store.db.query<{ id: string }>("INSERT INTO connectors.tenants (name) VALUES ('audited') RETURNING id")).rows[0]!.id;
    }, 60_000);
    afterAll(async () => {
      await store?.dispose();
    });

    it('keeps an entry whose details hold a NUL character or a lone surrogate, and the change it records', async () => {
      const changed = randomUUID();
      await store.db.withTenant(tenantId, async (tx) => {
        await tx.query("INSERT INTO connectors.executions (id, tenant_id, connector_name, connector_version, action, status) VALUES ($1, $2, 'audited', '1.0.0', 'x', 'failed')", [changed, tenantId]);
        await recordAudit(tx, {
          tenantId,
          actor: 'system',
          action: 'trigger.enable_failed',
          targetType: 'trigger_subscription',
          targetId: 'sub\u0000',
          details: { error: 'provider said: a\u0000b', cut: `x${'🙂'.slice(0, 1)}`, ['key\ud800']: ['🙂'] },
        });
      });
      const { rows } = await store.db.query<{ target_id: string; details: unknown }>("SELECT target_id, details FROM connectors.audit_log WHERE action = 'trigger.enable_failed'");
      expect(rows).toEqual([{ target_id: 'sub\uFFFD', details: { error: 'provider said: a\uFFFDb', cut: 'x\uFFFD', ['key\uFFFD']: ['🙂'] } }]);
      expect((await store.db.query('SELECT 1 FROM connectors.executions WHERE id = $1', [changed])).rows).toHaveLength(1);
    });
  });
}
