// Helpers shared by the sandbox tests and the benchmark: build real SDK bundles with esbuild, wrap
// hand-written ones, and a recording host. Not part of the public API.
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { HttpRequest, HttpResponse, LogLevel } from '@businessos/connector-sdk';
import type { SandboxHost, SandboxJob } from './types.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

export interface TestBundle {
  key: string;
  code: string;
  sha256: string;
}

export function bundleOf(code: string, key = 'hand-written@1.0.0'): TestBundle {
  return { key, code, sha256: createHash('sha256').update(code).digest('hex') };
}

/** Bundles `source` (which imports '@businessos/connector-sdk') the way `bos-connector build` does. */
export async function buildSdkBundle(source: string, key = 'test-connector@1.0.0'): Promise<TestBundle> {
  const out = await build({
    stdin: { contents: source, resolveDir: REPO_ROOT, sourcefile: 'connector.ts', loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    write: false,
    mainFields: ['module', 'main'],
    conditions: ['import'],
    logLevel: 'silent',
  });
  return bundleOf(out.outputFiles[0]!.text, key);
}

export interface RecordingHost extends SandboxHost {
  requests: HttpRequest[];
  logs: { level: LogLevel; message: string; data?: unknown }[];
  store: Map<string, unknown>;
}

/** A host that answers every request with `respond` (default: echo) and records what the guest did. */
export function recordingHost(respond?: (req: HttpRequest) => Promise<HttpResponse> | HttpResponse): RecordingHost {
  const requests: HttpRequest[] = [];
  const logs: RecordingHost['logs'] = [];
  const store = new Map<string, unknown>();
  return {
    requests,
    logs,
    store,
    async request(req) {
      requests.push(req);
      return respond ? respond(req) : { status: 200, headers: { 'content-type': 'application/json' }, data: { echo: req } };
    },
    log(level, message, data) {
      logs.push(data === undefined ? { level, message } : { level, message, data });
    },
    async storeGet(key) {
      return store.get(key);
    },
    async storeSet(key, value) {
      store.set(key, value);
    },
    async storeDelete(key) {
      store.delete(key);
    },
  };
}

export function actionJob(tenant: string, bundle: TestBundle, action: string, params: unknown = {}, extra: Partial<SandboxJob> = {}): SandboxJob {
  return { tenant, bundle, call: { kind: 'action', action, params }, ...extra };
}

/** A small SDK connector used by several suites: echo, http get, store round-trip, typed error. */
export const SAMPLE_CONNECTOR = `
import { defineConnector, defineAction, ApiKeyAuth, NotFoundError } from '@businessos/connector-sdk';
export default defineConnector({
  name: 'sample',
  version: '1.0.0',
  baseUrl: 'https://api.example.com',
  auth: new ApiKeyAuth({ name: 'X-Api-Key' }),
  actions: [
    defineAction({ name: 'echo', description: 'Echo params', params: { text: 'string' }, async execute(p) { return { text: p.text, upper: String(p.text).toUpperCase() }; } }),
    defineAction({ name: 'getThing', description: 'GET /things/:id', params: { id: 'string' }, async execute(p, ctx) {
      const res = await ctx.http.get('/things/' + p.id);
      ctx.log.info('fetched', { id: p.id });
      return res;
    } }),
    defineAction({ name: 'remember', description: 'store round trip', params: { value: 'string' }, async execute(p, ctx) {
      const before = await ctx.store.get('k');
      await ctx.store.set('k', p.value);
      return { before: before ?? null, after: await ctx.store.get('k') };
    } }),
    defineAction({ name: 'missing', description: 'throws a typed error', async execute() { throw new NotFoundError('no such thing'); } }),
  ],
});
`;
