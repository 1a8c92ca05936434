// The happy path of the publishing pipeline, shared by the PGlite test and the PostgreSQL integration test.
import { expect } from 'vitest';
import type { SubmissionView } from './store.ts';
import type { TestApp } from '../test-app.ts';
import { packConnector, scaffoldConnector } from './test-support.ts';

/** Publishes `name` 0.1.0 as a new publisher, approves it as the platform reviewer, and checks search and artifacts. */
export async function runHappyPath(t: TestApp, name: string): Promise<{ dir: string; publisher: { tenantId: string; key: string }; submission: SubmissionView }> {
  const publisher = await t.createTenant(`${name}-publisher`);
  const dir = await scaffoldConnector(name);
  const tgz = await packConnector(dir);

  const created = await t.as(publisher.key, { method: 'POST', url: '/marketplace/submissions', headers: { 'content-type': 'application/gzip' }, payload: tgz });
  expect(created.statusCode, created.body).toBe(201);
  const submission = created.json() as SubmissionView;
  expect(submission.status).toBe('pending');
  expect(submission.connector).toMatchObject({ name, visibility: 'public' });
  expect(Object.fromEntries(submission.checks.map((c) => [c.id, c.status]))).toEqual({
    package: 'pass',
    manifest: 'pass',
    'security-lint': 'pass',
    reproducibility: 'pass',
    'dry-load': 'pass',
    permissions: 'pass',
  });
  expect(submission.hosts).toContain(`https://api.${name}.example.com/v2`);
  expect(submission.diff.previousVersion).toBeNull();
  expect(submission.diff.actions.added.length).toBeGreaterThan(0);

  // Pending: not in search, artifact readable by its publisher and reviewers only.
  const hidden = await t.as(publisher.key, { method: 'GET', url: `/marketplace/search?q=${name}` });
  expect((hidden.json() as { results: { name: string }[] }).results.map((i) => i.name)).not.toContain(name);
  const other = await t.createTenant(`${name}-reader`);
  expect((await t.as(other.key, { method: 'GET', url: `/artifacts/${submission.artifactSha256}` })).statusCode).toBe(404);
  expect((await t.as(publisher.key, { method: 'GET', url: `/artifacts/${submission.artifactSha256}` })).statusCode).toBe(200);

  const queue = await t.as(t.adminKey, { method: 'GET', url: '/marketplace/submissions?status=pending' });
  expect((queue.json() as { items: SubmissionView[] }).items.map((s) => s.id)).toContain(submission.id);

  const approved = await t.as(t.adminKey, { method: 'POST', url: `/marketplace/submissions/${submission.id}/approve`, payload: { notes: 'looks good' } });
  expect(approved.statusCode, approved.body).toBe(200);
  expect(approved.json()).toMatchObject({ status: 'approved', review: { decision: 'approved', notes: 'looks good' } });

  const found = await t.as(other.key, { method: 'GET', url: `/marketplace/search?q=${name}` });
  const item = (found.json() as { results: { name: string; latestVersion: string; private: boolean }[] }).results.find((i) => i.name === name);
  expect(item, found.body).toMatchObject({ latestVersion: '0.1.0', private: false });

  const artifact = await t.as(other.key, { method: 'GET', url: `/artifacts/${submission.artifactSha256}` });
  expect(artifact.statusCode).toBe(200);
  expect(artifact.rawPayload.toString('utf8')).toContain(name);
  return { dir, publisher, submission };
}
