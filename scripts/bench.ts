// `npm run bench`: runs every `*.bench.ts` under packages/ in its own Node process, one after another
// (never in parallel: they measure the same two cores), prints the machine and each bench's Markdown output.
// `npm run bench -- --write` also rewrites the results section of BENCHMARKS.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const write = args.includes('--write');
const filter = args.find((a) => !a.startsWith('--'));

function find(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith('.bench.ts')) out.push(path);
  }
  return out;
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  let kernel = '';
  try { kernel = execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim(); } catch { /* not on Linux */ }
  return `${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${kernel}, Node ${process.version}`;
}

const files = find(join(root, 'packages')).filter((f) => !filter || f.includes(filter)).sort();
if (files.length === 0) {
  console.error(filter ? `No *.bench.ts matches "${filter}".` : 'No *.bench.ts files found under packages/.');
  process.exit(2);
}
const header = `Machine: ${machine()}\nDate: ${new Date().toISOString().slice(0, 10)}`;
console.log(header);
const sections: string[] = [];
let failed = 0;
for (const file of files) {
  const name = relative(root, file);
  console.log(`\n## ${name}\n`);
  const run = spawnSync(process.execPath, ['--expose-gc', file], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 15 * 60_000 });
  process.stdout.write(run.stdout ?? '');
  if (run.status !== 0) {
    failed++;
    console.log(`(bench exited with ${run.status ?? run.signal})`);
  }
  sections.push(`### ${name}\n\n${(run.stdout ?? '').trim()}\n`);
}
if (write) {
  const path = join(root, 'BENCHMARKS.md');
  const doc = readFileSync(path, 'utf8');
  const marker = '<!-- results -->';
  const at = doc.indexOf(marker);
  const head = at >= 0 ? doc.slice(0, at + marker.length) : `${doc.trimEnd()}\n\n${marker}`;
  writeFileSync(path, `${head}\n\n${header}\n\n${sections.join('\n')}`);
  console.log(`\nWrote the results into ${relative(process.cwd(), path)}.`);
}
process.exit(failed ? 1 : 0);
