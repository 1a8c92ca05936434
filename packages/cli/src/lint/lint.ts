import { globSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { ESLint } from 'eslint';
import { FIX_HINTS, SOURCE_EXTENSIONS, securityConfig } from './config.ts';

/** One security finding. `file` is relative to the linted folder, with `/` separators. */
export interface LintFinding {
  file: string;
  line: number;
  column: number;
  ruleId: string;
  message: string;
  hint: string;
}

/** Test files are not part of the bundle and may use Node freely. */
const TEST_FILE = /(^|\/)(__tests__|__mocks__)\/|\.(test|spec)\.[cm]?[jt]sx?$/;

/** The source files of a package that `lint` checks: `src/**` modules except tests, sorted. */
export function listSourceFiles(dir: string): string[] {
  const pattern = `src/**/*.{${SOURCE_EXTENSIONS.join(',')}}`;
  return globSync(pattern, { cwd: dir, exclude: (name) => name === 'node_modules' })
    .map((f) => f.split(sep).join('/'))
    .filter((f) => !TEST_FILE.test(f) && !f.endsWith('.d.ts'))
    .sort();
}

/**
 * Runs the security rules over the given files (relative to `dir`) with ESLint's Node API and returns the findings
 * sorted by file, line and column.
 */
export async function lintFiles(dir: string, files: string[]): Promise<LintFinding[]> {
  if (files.length === 0) return [];
  const eslint = new ESLint({ cwd: dir, overrideConfigFile: true, overrideConfig: securityConfig(), errorOnUnmatchedPattern: false });
  const results = await eslint.lintFiles(files.map((f) => join(dir, f)));
  const findings: LintFinding[] = [];
  for (const result of results) {
    const file = relative(dir, result.filePath).split(sep).join('/');
    for (const m of result.messages) {
      let ruleId = m.ruleId ?? 'bos/parse-error';
      if (m.ruleId === null && !m.fatal) {
        // A disable comment that `noInlineConfig` ignored: only worth reporting when it targets our rules.
        if (!m.message.includes('bos/')) continue;
        ruleId = 'bos/no-inline-disable';
      }
      findings.push({ file, line: m.line ?? 1, column: m.column ?? 1, ruleId, message: m.message, hint: FIX_HINTS[ruleId] ?? 'Remove the construct.' });
    }
  }
  return findings.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.ruleId.localeCompare(b.ruleId));
}

/** Lints a whole connector package folder (see {@link listSourceFiles}). */
export async function lintPackage(dir: string): Promise<{ files: string[]; findings: LintFinding[] }> {
  const files = listSourceFiles(dir);
  return { files, findings: await lintFiles(dir, files) };
}

/** `src/index.ts:3:14  bos/no-eval  message` plus an indented fix line. */
export function formatFinding(f: LintFinding): string {
  return `${f.file}:${f.line}:${f.column}  ${f.ruleId}  ${f.message}\n    fix: ${f.hint}`;
}
