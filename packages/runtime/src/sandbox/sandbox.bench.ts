// Benchmark of the sandbox layer alone (not a test): cold start of a ~200 KB bundle, warm call overhead
// against calling the same connector in-process, and RSS per idle warm sandbox.
// Run: node packages/runtime/src/sandbox/sandbox.bench.ts
import { build } from 'esbuild';
import { conditions, met, ms, pct, table } from '../testing/bench-report.ts';
import { engineBuildId } from './engine-build.ts';
import { createMemoryImageStore } from './image-store.ts';
import { createSandboxPool } from './pool.ts';
import { bundleOf, buildSdkBundle, recordingHost } from './test-support.ts';

const conds = conditions();

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

// The same bundle minified (whitespace, names, syntax): does a smaller source parse faster in QuickJS?
const minified = bundleOf((await build({ stdin: { contents: big.code, loader: 'js' }, minify: true, format: 'esm', write: false, logLevel: 'silent' })).outputFiles[0]!.text, 'big-min@1.0.0');

// One image store shared by the measured pool and a "publisher" pool that dry-loads bundles first, as the
// marketplace's publish checks do: the measured worker has never seen those bundles, but their image exists.
const images = createMemoryImageStore({ maxBytes: 512 * 1024 * 1024 });
const pool = createSandboxPool({ workers: 1, maxWarmPerWorker: 500, images });
const publisher = createSandboxPool({ workers: 1, images });
// Start the worker and compile WebAssembly before measuring.
await pool.run({ tenant: 'warmup', bundle: bundleOf('export default { async executeAction() { return 1; } }'), call: { kind: 'action', action: 'x', params: {} } }, host);

// Cold start: a bundle this worker has never seen (new bytes), first call of a new tenant. Plain and minified
// builds alternate so both see the same load.
async function coldRun(code: string, key: string, tenant: string, published = false): Promise<{ wall: number; cpu: number; restored: boolean }> {
  const fresh = bundleOf(code, key);
  if (published) {
    const dry = await publisher.run({ tenant: 'publish-check', bundle: fresh, call: { kind: 'manifest' } }, host);
    if (!dry.ok) throw new Error(JSON.stringify(dry.error));
    for (let i = 0; i < 100 && !(await images.get(engineBuildId(), fresh.sha256)); i += 1) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
  }
  const t = performance.now();
  const r = await pool.run({ tenant, bundle: fresh, call: { kind: 'action', action: 'ping', params: { id: '1' } } }, host);
  const wall = performance.now() - t;
  if (!r.ok) throw new Error(JSON.stringify(r.error));
  return { wall, cpu: r.stats.cpuMs ?? Number.NaN, restored: r.stats.restored === true };
}
const cold = { wall: [] as number[], cpu: [] as number[] };
const coldMin = { wall: [] as number[], cpu: [] as number[] };
const coldImage = { wall: [] as number[], cpu: [] as number[], restored: 0 };
// 100 samples of the goal's case, so its p95 is not decided by two stray hiccups of a shared machine; 30 of the
// costlier image-less loads, which only show what a first load ever costs.
for (let i = 0; i < 100; i += 1) {
  if (i < 30) {
    const a = await coldRun(`${big.code}\n// build ${i}`, `big@1.0.${i}`, `cold-${i}`);
    cold.wall.push(a.wall);
    cold.cpu.push(a.cpu);
    const b = await coldRun(`${minified.code}\n// build ${i}`, `big-min@1.0.${i}`, `cold-min-${i}`);
    coldMin.wall.push(b.wall);
    coldMin.cpu.push(b.cpu);
  }
  const c = await coldRun(`${big.code}\n// published build ${i}`, `big-pub@1.0.${i}`, `cold-pub-${i}`, true);
  coldImage.wall.push(c.wall);
  coldImage.cpu.push(c.cpu);
  if (c.restored) coldImage.restored += 1;
}
const imageBytes = (await images.get(engineBuildId(), bundleOf(`${big.code}\n// published build 0`).sha256))?.byteLength ?? 0;
await publisher.close();

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
await pool.close();

// RSS per idle warm sandbox: one worker, N tenants each leaving one warm sandbox of the big bundle.
// The first tenant's load captures the image; the other N start from it, as new tenants of a bundle do.
const rssPool = createSandboxPool({ workers: 1, maxWarmPerWorker: 500 });
await rssPool.run({ tenant: 'rss-0', bundle: big, call: { kind: 'action', action: 'ping', params: { id: '1' } } }, host);
globalThis.gc?.();
await new Promise((r) => setTimeout(r, 500));
const before = process.memoryUsage().rss;
const N = 100;
for (let i = 1; i <= N; i += 1) await rssPool.run({ tenant: `rss-${i}`, bundle: big, call: { kind: 'action', action: 'ping', params: { id: '1' } } }, host);
await new Promise((r) => setTimeout(r, 500));
const after = process.memoryUsage().rss;
const rssBig = (after - before) / N / 1024 / 1024;
const rssWarm = rssPool.stats().warmSandboxes;
const tiny = bundleOf('export default { async executeAction() { return 1; } }', 'tiny@1.0.0');
const before2 = process.memoryUsage().rss;
for (let i = 1; i <= N; i += 1) await rssPool.run({ tenant: `tiny-${i}`, bundle: tiny, call: { kind: 'action', action: 'x', params: {} } }, host);
await new Promise((r) => setTimeout(r, 500));
const rssTiny = (process.memoryUsage().rss - before2) / N / 1024 / 1024;
await rssPool.close();

const kib = (code: string) => `${(code.length / 1024).toFixed(1)} KiB`;
const p95 = pct(coldImage.wall, 95);
console.log('### Cold start: first call of a bundle the worker has never seen (one HTTP call)\n');
console.log(table(['Measure', `Image taken at publish, plain bundle (${kib(big.code)})`, `No image yet: parse + capture, plain bundle`, `No image yet: parse + capture, minified (${kib(minified.code)})`, 'Goal', 'Met'], [
  ['wall p50', ms(pct(coldImage.wall, 50)), ms(pct(cold.wall, 50)), ms(pct(coldMin.wall, 50)), '', ''],
  ['wall p95', ms(p95), ms(pct(cold.wall, 95)), ms(pct(coldMin.wall, 95)), 'p95 ≤ 20 ms (200 KB bundle)', `${met(p95 <= 20)} (with the publish-time image); ${met(pct(cold.wall, 95) <= 20)} without`],
  ['worker CPU p50', ms(pct(coldImage.cpu, 50)), ms(pct(cold.cpu, 50)), ms(pct(coldMin.cpu, 50)), '', ''],
  ['worker CPU p95', ms(pct(coldImage.cpu, 95)), ms(pct(cold.cpu, 95)), ms(pct(coldMin.cpu, 95)), '', ''],
  ['started from the image', `${coldImage.restored} of ${coldImage.wall.length}`, '0 (none exists yet)', '0', '', ''],
]));
console.log(`\nImage of the plain bundle: ${(imageBytes / 1024 / 1024).toFixed(2)} MiB (the non-zero 4 KiB pieces of the sandbox memory after the bundle was evaluated).`);
const addedWarm = pct(warm, 50) - pct(direct, 50);
console.log('\n### Warm call of the same bundle (host answers at once, no HTTP)\n');
console.log(table(['Measure', 'Through the pool', 'Baseline: in-process', 'Added', 'Goal', 'Met'], [
  ['wall p50', ms(pct(warm, 50)), ms(pct(direct, 50)), ms(addedWarm), 'sandbox share of the runtime goal (added ≤ 0.3 ms with HTTP, see the runtime bench)', met(addedWarm <= 0.3)],
  ['wall p95', ms(pct(warm, 95)), ms(pct(direct, 95)), ms(pct(warm, 95) - pct(direct, 95)), '', ''],
  // The thread's CPU clock ticks coarsely: most single warm calls read 0 and a few a whole tick, so only the mean says something.
  ['worker thread CPU per call (mean of the calls)', ms(warmCpu.reduce((a, b) => a + b, 0) / warmCpu.length), '', '', '', ''],
]));
console.log('\n### RSS per idle warm sandbox\n');
console.log(table(['Bundle', 'RSS per sandbox', 'Goal', 'Met'], [
  [`${kib(big.code)} (${N} sandboxes, ${rssWarm} kept warm)`, `${rssBig.toFixed(2)} MiB`, '≤ 2 MB', met(rssBig * 1.048576 <= 2)],
  ['tiny', `${rssTiny.toFixed(2)} MiB`, '≤ 2 MB', met(rssTiny * 1.048576 <= 2)],
]));
console.log(`\n${conds.end('Cold-start wall time includes worker round trips; worker CPU is the worker thread only (QuickJS instance, parse and evaluation of the bundle or restoring the image, capturing an image when none exists, the call). "Image taken at publish": another pool dry-loaded the bundle first, as the marketplace publish checks do, and left its image in the shared store; the measured worker had never seen the bundle. RSS: the first tenant load captures the image and the sandboxes of the next tenants start from it.')}`);
