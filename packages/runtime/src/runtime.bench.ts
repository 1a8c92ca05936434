// Benchmark of the whole runtime (not a test): warm execution through createRuntime (worker pool, QuickJS
// sandbox, host HTTP with credential injection, redaction, metering) beside the same connector called
// in-process with the key in hand; cached vault reads; throughput of 10 tenants with and without an
// eleventh tenant running an infinite loop. Run: node packages/runtime/src/runtime.bench.ts
import { build } from 'esbuild';
import { Agent, request } from 'undici';
import type { Connector, HttpRequest, HttpResponse } from '@businessos/connector-sdk';
import { createMemoryArtifactStore } from './artifacts/artifact-store.ts';
import { createRuntime } from './execute.ts';
import { createSandboxPool } from './sandbox/index.ts';
import { conditions, interleaved, measure, median, met, ms, pct, table } from './testing/bench-report.ts';
import { createInProcessPool } from './testing/in-process-pool.ts';
import { sendJson, startMockServer } from './testing/mock-server.ts';
import { createMemoryUsageSink } from './usage/usage.ts';
import { generateMasterKey } from './vault/master-key.ts';
import { createMemoryVaultStore } from './vault/memory-store.ts';
import { createVault } from './vault/vault.ts';

const KEY = 'bench_key_0123456789abcdef';
const conds = conditions();

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

const inProcessCall = () => direct.executeAction('ping', { id: '1' }, { transport } as never);
// Warm-up (JIT, sockets, warm sandboxes), then alternating rounds so load bursts hit every candidate alike.
await measure(() => exec('tenant-0'), 100);
await measure(inProcessCall, 100);
await measure(execHostOnly, 100);
const warm = await interleaved({ runtime: () => exec('tenant-0'), hostOnly: execHostOnly, inProcess: inProcessCall }, 8, 100);
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

const p50 = { runtime: pct(warm.runtime.wall, 50), hostOnly: pct(warm.hostOnly.wall, 50), inProcess: pct(warm.inProcess.wall, 50) };
const added = p50.runtime - p50.inProcess;
const ratio = p50.runtime / p50.inProcess;
const cpuAdded = warm.runtime.cpuPerOp - warm.inProcess.cpuPerOp;
const rate = (c: { ok: number; errors: number }) => (c.ok + c.errors === 0 ? 'n/a' : `${((100 * c.errors) / (c.ok + c.errors)).toFixed(2)} %`);
const SECONDS = 5;

console.log('### Warm execution: one action, one HTTP call to a loopback mock\n');
console.log(table(['Measure', 'Through the runtime', 'Baseline: in-process, key in hand', 'Added', 'Goal', 'Met'], [
  ['wall p50', ms(p50.runtime), ms(p50.inProcess), ms(added), 'added ≤ 0.3 ms', met(added <= 0.3)],
  ['wall p50 ratio', `${ratio.toFixed(2)}×`, '1×', '', '≤ 5×', met(ratio <= 5)],
  ['wall p95', ms(pct(warm.runtime.wall, 95)), ms(pct(warm.inProcess.wall, 95)), ms(pct(warm.runtime.wall, 95) - pct(warm.inProcess.wall, 95)), '', ''],
  ['process CPU per call (median of 8 rounds)', ms(warm.runtime.cpuPerOp), ms(warm.inProcess.cpuPerOp), ms(cpuAdded), '', ''],
  ['host side alone (in-process test double instead of the sandbox): wall p50', ms(p50.hostOnly), ms(p50.inProcess), ms(p50.hostOnly - p50.inProcess), '', ''],
  ['host side alone: process CPU per call', ms(warm.hostOnly.cpuPerOp), ms(warm.inProcess.cpuPerOp), ms(warm.hostOnly.cpuPerOp - warm.inProcess.cpuPerOp), '', ''],
]));
console.log('\n### Vault read (cached data key)\n');
console.log(table(['Measure', 'Figure', 'Goal', 'Met'], [
  ['p50', ms(median(vaultReads.wall)), '≤ 0.1 ms', met(median(vaultReads.wall) <= 0.1)],
  ['p95', ms(pct(vaultReads.wall, 95)), '', ''],
]));
console.log(`\n### 10 tenants in parallel for ${SECONDS} s each run (pool of 2 workers, deadline 1 s)\n`);
console.log(table(['Run', 'Executions of the 10 tenants', 'Throughput of the 10 tenants', 'Error rate of the 10 tenants', 'Looping executions stopped'], [
  ['without a looping tenant (baseline)', String(calm.ok + calm.errors), `${(calm.ok / SECONDS).toFixed(0)}/s`, rate(calm), '-'],
  ['with an 11th tenant in an infinite loop', String(attacked.ok + attacked.errors), `${(attacked.ok / SECONDS).toFixed(0)}/s (${((100 * attacked.ok) / Math.max(1, calm.ok)).toFixed(0)} % of baseline)`, rate(attacked), String(attacked.loopErrors)],
]));
console.log(`\n${conds.end()}`);

await runtime.close();
await hostOnly.close();
await pool.close();
await agent.close();
await api.close();
