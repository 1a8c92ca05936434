// Builds the page with Vite when dist/ is missing or older than its sources, so `npm start` always serves a
// current page. Run it as a script (`node packages/web/build-if-needed.ts`) or call ensureWebBuilt().
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB_DIR = fileURLToPath(new URL('.', import.meta.url));

function newestMtime(entry: string): number {
  const st = statSync(entry);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(entry)) newest = Math.max(newest, newestMtime(path.join(entry, name)));
  return newest;
}

/** Whether `distDir/index.html` is missing or older than the page's sources. */
export function webBuildIsStale(distDir = path.join(WEB_DIR, 'dist')): boolean {
  const index = path.join(distDir, 'index.html');
  if (!existsSync(index)) return true;
  const sources = ['src', 'index.html', 'vite.config.ts'].map((p) => path.join(WEB_DIR, p)).filter((p) => existsSync(p));
  return Math.max(...sources.map(newestMtime)) > statSync(index).mtimeMs;
}

/**
 * Builds the page into `dist/` when it is stale (or always with `force`). Needs the `vite` dev dependency.
 * @returns whether a build ran.
 */
export async function ensureWebBuilt(options: { force?: boolean } = {}): Promise<boolean> {
  if (!options.force && !webBuildIsStale()) return false;
  const { build } = await import('vite');
  await build({ configFile: path.join(WEB_DIR, 'vite.config.ts'), root: WEB_DIR, logLevel: 'warn' });
  return true;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const built = await ensureWebBuilt({ force: process.argv.includes('--force') });
  console.log(built ? 'web page built into packages/web/dist' : 'web page is up to date (packages/web/dist)');
}
