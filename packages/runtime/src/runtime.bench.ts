// Benchmark of the whole runtime (not a test): warm execution through createRuntime (worker pool, QuickJS
// sandbox, host HTTP with credential injection, redaction, metering) beside the same connector called
// in-process with the key in hand; cached vault reads; throughput of 10 tenants with and without an
// eleventh tenant running an infinite loop. Run: node packages/runtime/src/runtime.bench.ts
import { cpus, loadavg } from 'node:os';
import { build } from 'esbuild';
import { Agent, request } from 'undici';
import type { Connector, HttpRequest, HttpResponse } from '@businessos/connector-sdk';
import { createMemoryArtifactStore } from './artifacts/artifact-store.ts';
import { createRuntime } from './execute.ts';
import { createSandboxPool } from './sandbox/index.ts';
import { createInProcessPool } from './testing/in-process-pool.ts';
import { sendJson, startMockServer } from './testing/mock-server.ts';
import { createMemoryUsageSink } from './usage/usage.ts';
import { generateMasterKey } from './vault/master-key.ts';
import { createMemoryVaultStore } from './vault/memory-store.ts';
import { createVault } from './vault/vault.ts';

const KEY = 'bench_key_0123456789abcdef';
const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const ms = (n: number) => `${n.toFixed(3)} ms`;

const api = await startMockServer((req, res) => {
  if (req.headers['x-api-key'] !== KEY) return sendJson(res, 401, { error: 'bad key' });
  sendJson(res, 200, { id: req.url.pathname.split('/').pop(), ok: true });
});
const source = `
import { defineConnector, defineAction, ApiKeyAuth } from '@businessos/connector-sdk';
export default defineConnector({
  name: 'bench', version: '1.0.0', baseUrl: '${api.origin}', auth: new ApiKeyAuth({ name: 'X-Api-Key' }),
  actions: [
    defineAction({ name: 'ping', description: 'one HTTP call', params: { id: { type: 'string' } }, async execute(p, ctx) { return (await ctx.http.get('/ping/' + p.id)).data; } }),
    defineAction({ name: 'spin', description: 'never ends', async execute() { for (;;) {} } }),
  ],
});`;
const code = (await build({ stdin: { contents: source, resolveDir: '/work/main', loader: 'ts' }, bundle: true, format: 'esm', platform: 'neutral', write: false, mainFields: ['module', 'main'], conditions: ['import'], logLevel: 'silent' })).outputFiles[0]!.text;

const artifacts = createMemoryArtifactStore();
artifacts.add({ name: 'bench', version: '1.0.0', code });
const vault = createVault({ store: createMemoryVaultStore(), masterKey: generateMasterKey() });
const tenants = Array.from({ length: 11 }, (_, i) => `tenant-${i}`);
for (const t of tenants) await vault.putCredentials(t, 'conn', { apiKey: KEY });
const pool = createSandboxPool({ workers: 2, limits: { deadlineMs: 1000 } });
const usage = createMemoryUsageSink();
const runtime = createRuntime({ sandbox: pool, vault, artifacts, usage, config: { allowLoopback: true, limits: { perTenant: 5, total: 10, maxQueued: 1000, maxQueuedPerTenant: 500 } } });

// Baseline: the same bundle imported in this process, key in hand, same loopback server.
const direct = (await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)).default as Connector;
const agent = new Agent();
const transport = async (req: HttpRequest): Promise<HttpResponse> => {
  const res = await request(`${api.origin}${req.url}`, { method: req.method, headers: { 'x-api-key': KEY }, dispatcher: agent });
  return { status: res.statusCode, headers: {}, data: await res.body.json() };
};

// Attribution only: the same runtime with the in-process test double instead of the sandbox pool measures
// the host side alone (vault, egress, redaction, validation, limits, metering).
const hostOnly = createRuntime({ sandbox: createInProcessPool({ 'bench@1.0.0': direct }), vault, artifacts, usage: createMemoryUsageSink(), config: { allowLoopback: true } });
const execHostOnly = () => hostOnly.execute({ tenant: 'tenant-0', connector: 'bench', version: '1.0.0', action: 'ping', params: { id: '1' }, connection: { id: 'conn' } });

const exec = (tenant: string, action = 'ping') => runtime.execute({ tenant, connector: 'bench', version: '1.0.0', action, params: action === 'ping' ? { id: '1' } : {}, connection: { id: 'conn' } });

async function measure(fn: () => Promise<unknown>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

await measure(() => exec('tenant-0'), 50);
await measure(() => direct.executeAction('ping', { id: '1' }, { transport }), 50);
await measure(execHostOnly, 50);
const viaRuntime = await measure(() => exec('tenant-0'), 400);
const viaHostOnly = await measure(execHostOnly, 400);
const inProcess = await measure(() => direct.executeAction('ping', { id: '1' }, { transport }), 400);

const vaultReads = await measure(() => vault.getCredentials('tenant-0', 'conn'), 20_000);

async function throughput(seconds: number, withLoop: boolean): Promise<{ ok: number; errors: number; loopErrors: number }> {
  const end = performance.now() + seconds * 1000;
  const counts = { ok: 0, errors: 0, loopErrors: 0 };
  const workers = tenants.slice(0, 10).map(async (t) => {
    while (performance.now() < end) {
      try { await exec(t); counts.ok++; } catch { counts.errors++; }
    }
  });
  if (withLoop) {
    workers.push((async () => {
      while (performance.now() < end) {
        try { await exec('tenant-10', 'spin'); } catch { counts.loopErrors++; }
        pool.clearQuarantine();
      }
    })());
  }
  await Promise.all(workers);
  return counts;
}
const calm = await throughput(5, false);
const attacked = await throughput(5, true);

const added = pct(viaRuntime, 50) - pct(inProcess, 50);
console.log(`machine: ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}, node ${process.version}`);
console.log(`warm execution, one HTTP call: runtime p50 ${ms(pct(viaRuntime, 50))} p95 ${ms(pct(viaRuntime, 95))} | in-process p50 ${ms(pct(inProcess, 50))} p95 ${ms(pct(inProcess, 95))} | added p50 ${ms(added)} (goal ≤ 0.3 ms), ratio ${(pct(viaRuntime, 50) / pct(inProcess, 50)).toFixed(2)}× (goal ≤ 5×)`);
console.log(`host side alone (runtime with the in-process test double, no sandbox): p50 ${ms(pct(viaHostOnly, 50))} p95 ${ms(pct(viaHostOnly, 95))}, added p50 ${ms(pct(viaHostOnly, 50) - pct(inProcess, 50))}`);
console.log(`vault read (cached data key): p50 ${ms(pct(vaultReads, 50))} p95 ${ms(pct(vaultReads, 95))} (goal p50 ≤ 0.1 ms)`);
console.log(`10 tenants for 5 s: ${calm.ok} ok / ${calm.errors} errors (${(calm.ok / 5).toFixed(0)}/s); with an 11th tenant looping: ${attacked.ok} ok / ${attacked.errors} errors (${(attacked.ok / 5).toFixed(0)}/s), looping executions stopped: ${attacked.loopErrors}`);

await runtime.close();
await hostOnly.close();
await pool.close();
await agent.close();
await api.close();
