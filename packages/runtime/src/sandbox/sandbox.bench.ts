// Benchmark of the sandbox layer alone (not a test): cold start of a ~200 KB bundle, warm call overhead
// against calling the same connector in-process, and RSS per idle warm sandbox.
// Run: node packages/runtime/src/sandbox/sandbox.bench.ts
import { cpus, loadavg } from 'node:os';
import { createSandboxPool } from './pool.ts';
import { bundleOf, buildSdkBundle, recordingHost } from './test-support.ts';

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const fmt = (n: number) => n.toFixed(3);

// ~200 KB: the SDK plus many actions with schemas and descriptions, like a large real connector.
const actions = Array.from({ length: 350 }, (_, i) => `
  defineAction({
    name: 'action${i}', description: 'Action number ${i}: ${'does a realistic amount of work and documents it. '.repeat(3)}',
    params: { id: 'string', limit: 'number?', note: { type: 'string', description: 'free text ${i}' } },
    async execute(p, ctx) { const res = await ctx.http.get('/items/' + p.id, { query: { limit: p.limit ?? 10 } }); return { i: ${i}, data: res.data }; },
  }),`).join('');
const source = `
import { defineConnector, defineAction, ApiKeyAuth } from '@businessos/connector-sdk';
export default defineConnector({
  name: 'big', version: '1.0.0', baseUrl: 'https://api.example.com', auth: new ApiKeyAuth({ name: 'X-Api-Key' }),
  actions: [
    defineAction({ name: 'ping', description: 'one HTTP call', params: { id: 'string' }, async execute(p, ctx) { const r = await ctx.http.get('/ping/' + p.id); return r.data; } }),
    ${actions}
  ],
});`;
const big = await buildSdkBundle(source, 'big@1.0.0');
const host = recordingHost(async () => ({ status: 200, headers: {}, data: { pong: true } }));
host.log = () => undefined;

console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} x${cpus().length}, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log('(wall times include waiting for a core on a busy machine; worker CPU times do not)');
console.log(`bundle: ${(big.code.length / 1024).toFixed(1)} KiB`);

const pool = createSandboxPool({ workers: 1, maxWarmPerWorker: 500 });
// Start the worker and compile WebAssembly before measuring.
await pool.run({ tenant: 'warmup', bundle: bundleOf('export default { async executeAction() { return 1; } }'), call: { kind: 'action', action: 'x', params: {} } }, host);

// Cold start: a bundle this worker has never seen (new bytes), first call of a new tenant.
const cold: number[] = [];
const coldCpu: number[] = [];
for (let i = 0; i < 30; i += 1) {
  const fresh = bundleOf(`${big.code}\n// build ${i}`, `big@1.0.${i}`);
  const t = performance.now();
  const r = await pool.run({ tenant: `cold-${i}`, bundle: fresh, call: { kind: 'action', action: 'ping', params: { id: '1' } } }, host);
  cold.push(performance.now() - t);
  coldCpu.push(r.stats.cpuMs ?? NaN);
  if (!r.ok) throw new Error(JSON.stringify(r.error));
}
console.log(`cold start (new bundle, one HTTP call): wall p50 ${fmt(pct(cold, 50))} ms, p95 ${fmt(pct(cold, 95))} ms; worker CPU p50 ${fmt(pct(coldCpu, 50))} ms, p95 ${fmt(pct(coldCpu, 95))} ms`);

// Warm: same tenant and bundle; baseline: the same connector imported in-process, same host function.
const job = { tenant: 'warm', bundle: big, call: { kind: 'action' as const, action: 'ping', params: { id: '1' } } };
for (let i = 0; i < 200; i += 1) await pool.run(job, host);
const warm: number[] = [];
const warmCpu: number[] = [];
for (let i = 0; i < 2000; i += 1) {
  const t = performance.now();
  const r = await pool.run(job, host);
  warm.push(performance.now() - t);
  warmCpu.push(r.stats.cpuMs ?? NaN);
}
const mod = (await import(`data:text/javascript;base64,${Buffer.from(big.code).toString('base64')}`)) as { default: { executeAction(a: string, p: unknown, env: unknown): Promise<unknown> } };
const env = { transport: (req: never) => host.request(req), log: () => undefined, connection: { fields: {} } };
for (let i = 0; i < 2000; i += 1) await mod.default.executeAction('ping', { id: '1' }, env);
const direct: number[] = [];
for (let i = 0; i < 2000; i += 1) {
  const t = performance.now();
  await mod.default.executeAction('ping', { id: '1' }, env);
  direct.push(performance.now() - t);
}
console.log(`warm call through pool: p50 ${fmt(pct(warm, 50))} ms, p95 ${fmt(pct(warm, 95))} ms; worker CPU p50 ${fmt(pct(warmCpu, 50))} ms`);
console.log(`same call in-process:   p50 ${fmt(pct(direct, 50))} ms, p95 ${fmt(pct(direct, 95))} ms`);
console.log(`added p50: ${fmt(pct(warm, 50) - pct(direct, 50))} ms, ratio ${(pct(warm, 50) / pct(direct, 50)).toFixed(1)}x`);
await pool.close();

// RSS per idle warm sandbox: one worker, N tenants each leaving one warm sandbox of the big bundle.
const rssPool = createSandboxPool({ workers: 1, maxWarmPerWorker: 500 });
await rssPool.run({ tenant: 'rss-0', bundle: big, call: { kind: 'action', action: 'ping', params: { id: '1' } } }, host);
globalThis.gc?.();
await new Promise((r) => setTimeout(r, 500));
const before = process.memoryUsage().rss;
const N = 100;
for (let i = 1; i <= N; i += 1) await rssPool.run({ tenant: `rss-${i}`, bundle: big, call: { kind: 'action', action: 'ping', params: { id: '1' } } }, host);
await new Promise((r) => setTimeout(r, 500));
const after = process.memoryUsage().rss;
console.log(`RSS per idle warm sandbox (200 KB bundle): ${((after - before) / N / 1024 / 1024).toFixed(2)} MiB (${N} sandboxes, warm=${rssPool.stats().warmSandboxes})`);
const tiny = bundleOf('export default { async executeAction() { return 1; } }', 'tiny@1.0.0');
const before2 = process.memoryUsage().rss;
for (let i = 1; i <= N; i += 1) await rssPool.run({ tenant: `tiny-${i}`, bundle: tiny, call: { kind: 'action', action: 'x', params: {} } }, host);
await new Promise((r) => setTimeout(r, 500));
console.log(`RSS per idle warm sandbox (tiny bundle): ${((process.memoryUsage().rss - before2) / N / 1024 / 1024).toFixed(2)} MiB`);
await rssPool.close();
