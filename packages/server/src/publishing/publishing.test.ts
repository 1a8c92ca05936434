import { createSandboxPool, type SandboxPool } from '@businessos/connector-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDbArtifactStore } from './artifact-store.ts';
import { sha256Hex } from './checks.ts';
import { runHappyPath } from './flow.ts';
import { registerPublishingRoutes } from './index.ts';
import { rawTarGz } from './raw-tar.ts';
import type { SubmissionView } from './store.ts';
import { readConnectorTarball } from './tarball.ts';
import { createTestApp, type TestApp } from '../test-app.ts';
import { packConnector, setVersion } from './test-support.ts';

const gzip = { 'content-type': 'application/gzip' };

function retar(files: Map<string, Buffer>, change: (files: Map<string, Buffer>) => void): Buffer {
  const copy = new Map(files);
  change(copy);
  return rawTarGz([...copy].map(([name, body]) => ({ name: `package/${name}`, body })));
}

describe('publishing: submit → checks → review → publish (PGlite)', () => {
  let t: TestApp;
  let pool: SandboxPool;
  let dir: string;
  let publisher: { tenantId: string; key: string };
  let first: SubmissionView;
  let files: Map<string, Buffer>;

  beforeAll(async () => {
    pool = createSandboxPool({ workers: 1 });
    t = await createTestApp({ publishing: { sandbox: pool } });
    ({ dir, publisher, submission: first } = await runHappyPath(t, 'acmeitems'));
    files = await readConnectorTarball(await packConnector(dir));
  }, 180_000);
  afterAll(async () => {
    await t?.close();
    await pool?.close();
  });

  const submit = (key: string, payload: Buffer, query = '') => t.as(key, { method: 'POST', url: `/marketplace/submissions${query}`, headers: gzip, payload });

  it('the runtime ArtifactStore loads the approved bundle with its reviewed manifest', async () => {
    const artifact = await createDbArtifactStore(t.store.db).get('acmeitems', '0.1.0');
    expect(artifact).toMatchObject({ name: 'acmeitems', version: '0.1.0', sha256: first.artifactSha256 });
    expect(sha256Hex(artifact!.code)).toBe(first.artifactSha256);
    expect(artifact!.manifest?.name).toBe('acmeitems');
    expect(await createDbArtifactStore(t.store.db).get('acmeitems', '9.9.9')).toBeUndefined();
  });

  it('the publishing routes are in the OpenAPI document', async () => {
    const doc = (await t.as(undefined, { method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    // buildApp may register the plugin too once wired in; a second registration is a no-op.
    await expect(registerPublishingRoutes(t.app, { db: t.store.db })).resolves.toBeUndefined();
    for (const p of ['/marketplace/submissions', '/marketplace/submissions/{id}/approve', '/marketplace/connectors/{id}/deprecate', '/artifacts/{sha256}']) expect(Object.keys(doc.paths)).toContain(p);
  });

  it('a published version is immutable in the database', async () => {
    await expect(t.store.db.query("UPDATE connectors.connector_versions SET manifest = '{}' WHERE version = '0.1.0'")).rejects.toThrow(/immutable/);
    await expect(t.store.db.query("UPDATE connectors.connector_versions SET artifact_sha256 = NULL WHERE version = '0.1.0'")).rejects.toThrow(/immutable/);
  });

  it('refuses a duplicate and a lower version with 409, and nothing is written', async () => {
    const before = await t.store.db.query('SELECT count(*)::int AS n FROM connectors.submissions');
    const dup = await submit(publisher.key, await packConnector(dir));
    expect(dup.statusCode).toBe(409);
    expect(dup.json()).toMatchObject({ code: 'CONFLICT' });
    expect(dup.json().detail).toMatch(/already exists \(published\)/);
    setVersion(dir, '0.0.9');
    const lower = await submit(publisher.key, await packConnector(dir));
    expect(lower.statusCode).toBe(409);
    expect(lower.json().detail).toMatch(/not higher than .* 0\.1\.0/);
    const after = await t.store.db.query('SELECT count(*)::int AS n FROM connectors.submissions');
    expect(after.rows).toEqual(before.rows);
  }, 60_000);

  it('refuses another publisher submitting the same name (403)', async () => {
    const intruder = await t.createTenant('intruder');
    setVersion(dir, '5.0.0');
    const res = await submit(intruder.key, await packConnector(dir));
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ code: 'FORBIDDEN', type: expect.stringMatching(/connector-name-taken/) });
    // ...but a private connector of that name in their own tenant is theirs to publish.
    const priv = await submit(intruder.key, await packConnector(dir), '?visibility=private');
    expect(priv.statusCode, priv.body).toBe(201);
    expect(priv.json()).toMatchObject({ connector: { visibility: 'private' } });
    const mine = await t.as(publisher.key, { method: 'GET', url: `/marketplace/submissions/${priv.json().id}` });
    expect(mine.statusCode).toBe(404);
  }, 60_000);

  it('refuses keys without the publisher role (403) and without a key (401)', async () => {
    const adminOnly = await t.createKey(publisher.key, ['tenant_admin']);
    const res = await submit(adminOnly, Buffer.from([0x1f, 0x8b]));
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('FORBIDDEN');
    expect((await submit('', Buffer.from([0x1f, 0x8b]))).statusCode).toBe(401);
    const approve = await t.as(publisher.key, { method: 'POST', url: `/marketplace/submissions/${first.id}/approve`, payload: {} });
    expect(approve.statusCode).toBe(403);
  });

  it('refuses corrupted tarballs, path traversal and wrong content types with 4xx', async () => {
    const corrupt = await submit(publisher.key, Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(64, 7)]));
    expect(corrupt.statusCode).toBe(400);
    expect(corrupt.json().detail).toMatch(/corrupted|truncated/);
    const traversal = await submit(publisher.key, rawTarGz([{ name: 'package/../../evil.js', body: 'x' }]));
    expect(traversal.statusCode).toBe(400);
    expect(traversal.json().detail).toMatch(/climbs out/);
    const json = await t.as(publisher.key, { method: 'POST', url: '/marketplace/submissions', payload: { not: 'a tarball' } });
    expect(json.statusCode).toBe(415);
  });

  it('refuses an upload above the cap with 413', async () => {
    const res = await submit(publisher.key, Buffer.alloc(10 * 1024 * 1024 + 10));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  });

  it('refuses a package whose manifest.json differs from the bundle (422, checks named)', async () => {
    const tampered = retar(files, (f) => {
      const manifest = JSON.parse(f.get('manifest.json')!.toString()) as { version: string; hosts?: string[] };
      manifest.version = '7.0.0';
      manifest.hosts = ['evil.example.net'];
      f.set('manifest.json', Buffer.from(JSON.stringify(manifest)));
    });
    const res = await submit(publisher.key, tampered);
    expect(res.statusCode).toBe(422);
    const paths = (res.json().errors as { path: string }[]).map((e) => e.path);
    expect(paths).toContain('/checks/dry-load');
    expect(paths).toContain('/checks/reproducibility');
    const bundle = retar(files, (f) => f.set('connector.js', Buffer.concat([f.get('connector.js')!, Buffer.from('\nconst x = require("child_process");\n')])));
    const lint = await submit(publisher.key, bundle);
    expect(lint.statusCode).toBe(422);
    expect((lint.json().errors as { path: string; message: string }[]).some((e) => e.path === '/checks/security-lint' && /no-require|no-node-builtins/.test(e.message))).toBe(true);
  });

  it('a new version shows the diff, rejection needs notes, the publisher sees them; approve twice is 409', async () => {
    setVersion(dir, '0.2.0');
    const src = `${dir}/src/index.ts`;
    const { readFileSync, writeFileSync } = await import('node:fs');
    writeFileSync(src, readFileSync(src, 'utf8').replace("test: {", "hosts: ['files.acmeitems.example.com'],\n  test: {"));
    const second = await submit(publisher.key, await packConnector(dir));
    expect(second.statusCode, second.body).toBe(201);
    const view = second.json() as SubmissionView;
    expect(view.diff).toMatchObject({ previousVersion: '0.1.0', hosts: { added: ['files.acmeitems.example.com'], removed: [] } });

    const noNote = await t.as(t.adminKey, { method: 'POST', url: `/marketplace/submissions/${view.id}/reject`, payload: {} });
    expect(noNote.statusCode).toBe(400);
    expect(noNote.json().errors[0].path).toBe('/notes');
    const blank = await t.as(t.adminKey, { method: 'POST', url: `/marketplace/submissions/${view.id}/reject`, payload: { notes: '   ' } });
    expect(blank.statusCode).toBe(400);

    const rejected = await t.as(t.adminKey, { method: 'POST', url: `/marketplace/submissions/${view.id}/reject`, payload: { notes: 'Explain why files.acmeitems.example.com is needed' } });
    expect(rejected.statusCode).toBe(200);
    const seen = await t.as(publisher.key, { method: 'GET', url: `/marketplace/submissions/${view.id}` });
    expect(seen.json()).toMatchObject({ status: 'rejected', review: { decision: 'rejected', notes: 'Explain why files.acmeitems.example.com is needed' } });
    const again = await t.as(t.adminKey, { method: 'POST', url: `/marketplace/submissions/${first.id}/approve`, payload: {} });
    expect(again.statusCode).toBe(409);
    expect((await t.as(t.adminKey, { method: 'POST', url: `/marketplace/submissions/${view.id}/approve`, payload: {} })).statusCode).toBe(409);
  }, 60_000);

  it('deprecation and yanking: governed by the publisher or a reviewer, audited, yanked versions are not installable', async () => {
    const connectorId = first.connector.id;
    const stranger = await t.createTenant('stranger');
    const denied = await t.as(stranger.key, { method: 'POST', url: `/marketplace/connectors/${connectorId}/deprecate`, payload: { message: 'gone' } });
    expect(denied.statusCode).toBe(403);
    const dep = await t.as(publisher.key, { method: 'POST', url: `/marketplace/connectors/${connectorId}/deprecate`, payload: { message: 'Use acmeitems2', replacement: 'acmeitems2' } });
    expect(dep.statusCode, dep.body).toBe(200);
    const detail = await t.as(stranger.key, { method: 'GET', url: `/marketplace/connectors/${connectorId}` });
    expect(JSON.stringify(detail.json())).toContain('Use acmeitems2');

    setVersion(dir, '0.3.0');
    const third = await submit(publisher.key, await packConnector(dir));
    expect(third.statusCode, third.body).toBe(201);
    expect((await t.as(t.adminKey, { method: 'POST', url: `/marketplace/submissions/${third.json().id}/approve`, payload: {} })).statusCode).toBe(200);

    const yank = await t.as(t.adminKey, { method: 'POST', url: `/marketplace/connectors/${connectorId}/versions/0.1.0/yank`, payload: { reason: 'leaks data' } });
    expect(yank.statusCode, yank.body).toBe(200);
    expect((await t.as(t.adminKey, { method: 'POST', url: `/marketplace/connectors/${connectorId}/versions/0.1.0/yank`, payload: {} })).statusCode).toBe(409);
    const install = await t.as(stranger.key, { method: 'POST', url: `/marketplace/install/${connectorId}`, payload: { version: '0.1.0' } });
    expect(install.statusCode, install.body).toBe(409);
    expect(install.json().type).toMatch(/version-yanked/);
    // Existing installs keep running: the runtime's store still serves the yanked bundle.
    expect(await createDbArtifactStore(t.store.db).get('acmeitems', '0.1.0')).toBeDefined();

    // With every published version yanked, the listing leaves the catalogue (existing installs keep running).
    expect((await t.as(publisher.key, { method: 'POST', url: `/marketplace/connectors/${connectorId}/versions/0.3.0/yank`, payload: {} })).statusCode).toBe(200);
    const listing = await t.as(stranger.key, { method: 'GET', url: `/marketplace/connectors/${connectorId}` });
    expect(listing.statusCode).toBe(404);

    const audit = await t.store.db.query<{ action: string; actor: string }>('SELECT action, actor FROM connectors.audit_log ORDER BY id');
    const actions = audit.rows.map((r) => r.action);
    for (const a of ['submission.create', 'submission.approve', 'submission.reject', 'connector.deprecate', 'version.yank']) expect(actions).toContain(a);
    expect(audit.rows.every((r) => r.actor.startsWith('key:') || r.actor === 'system')).toBe(true);
    await expect(t.store.db.query('DELETE FROM connectors.audit_log')).rejects.toThrow(/append-only/);
  }, 60_000);
});
