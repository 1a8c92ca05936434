import { Linter } from 'eslint';
import { describe, expect, it } from 'vitest';
import { FIX_HINTS, SECURITY_RULES, securityConfig } from './config.ts';

const linter = new Linter({ configType: 'flat' });

function ruleIds(code: string, filename = 'src/connector.ts'): string[] {
  return linter.verify(code, securityConfig(), filename).map((m) => m.ruleId ?? `fatal: ${m.message}`);
}

/** Per rule: code that must pass and code that must be reported by exactly that rule. */
const CASES: Record<string, { ok: string; bad: string }> = {
  'bos/no-eval': { ok: 'export const parse = (s: string) => JSON.parse(s);', bad: 'export const run = (s: string) => eval(s);' },
  'bos/no-implied-eval': { ok: 'setTimeout(() => undefined, 10);', bad: "setTimeout('doWork()', 10);" },
  'bos/no-new-function': { ok: 'export const f = (a: number) => a + 1;', bad: "export const f = new Function('a', 'return a + 1');" },
  'bos/no-dynamic-import': { ok: "import { x } from './x.ts';\nexport { x };", bad: "export const load = () => import('./x.ts');" },
  'bos/no-node-builtins': { ok: "import { defineAction } from '@businessos/connector-sdk';\nexport { defineAction };", bad: "import { execSync } from 'node:child_process';\nexport { execSync };" },
  'bos/no-process': { ok: 'export const env = { region: "eu" };', bad: 'export const key = globalThis.process.env.KEY;' },
  'bos/no-require': { ok: "import fmt from './fmt.ts';\nexport { fmt };", bad: "export const lib = require('left-pad');" },
  'bos/no-global-write': { ok: 'const cache: Record<string, string> = {};\ncache.x = "1";\nexport { cache };', bad: 'globalThis.sharedCache = {};' },
  'bos/no-constructor-escape': {
    ok: 'class A { constructor(readonly n: number) {} }\nexport const make = () => new A(1);',
    bad: "export const f = (() => undefined).constructor.constructor('return this')();",
  },
  'bos/no-extend-native': { ok: 'export const trimAll = (s: string) => s.trim();', bad: 'Object.prototype.polluted = true;' },
  'bos/no-global-assign': { ok: 'let counter = 0;\ncounter = 1;\nexport { counter };', bad: 'JSON = { parse: () => 1 };' },
  'bos/no-proto': { ok: 'export const proto = Object.getPrototypeOf({});', bad: 'export const proto = ({}).__proto__;' },
  'bos/no-hardcoded-secret': { ok: "export const clientSecret = 'config.client_secret';", bad: "export const stripeKey = 'sk_live_51HxQa2eZvKYlo2CabcdefGHIJ';" },
};

describe('security lint rules', () => {
  it('has a case and a fix hint for every rule', () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(SECURITY_RULES).sort());
    for (const id of Object.keys(SECURITY_RULES)) expect(FIX_HINTS[id], id).toBeTruthy();
  });

  for (const [id, { ok, bad }] of Object.entries(CASES)) {
    it(`${id}: passes clean code`, () => {
      expect(ruleIds(ok)).toEqual([]);
    });
    it(`${id}: reports the dangerous construct`, () => {
      expect(ruleIds(bad)).toContain(id);
    });
  }

  it('catches built-ins with and without node:, subpaths and re-exports', () => {
    expect(ruleIds("import fs from 'fs';\nexport { fs };")).toEqual(['bos/no-node-builtins']);
    expect(ruleIds("import { readFile } from 'node:fs/promises';\nexport { readFile };")).toEqual(['bos/no-node-builtins']);
    expect(ruleIds("export { Worker } from 'worker_threads';")).toEqual(['bos/no-node-builtins']);
    expect(ruleIds("import http from 'node:http';\nexport { http };")).toEqual(['bos/no-node-builtins']);
  });

  it('catches bare process and Object.defineProperty on the global object', () => {
    expect(ruleIds('export const home = process.env.HOME;')).toEqual(['bos/no-process']);
    expect(ruleIds("Object.defineProperty(globalThis, 'x', { value: 1 });")).toEqual(['bos/no-global-write']);
  });

  it('does not flag process used as a type or a local variable', () => {
    expect(ruleIds('export type P = typeof process | undefined;')).toEqual([]);
    expect(ruleIds('const process = (x: number) => x;\nexport const y = process(1);')).toEqual([]);
  });

  it('ignores inline disable comments for security rules', () => {
    const ids = ruleIds("// eslint-disable-next-line bos/no-eval\nexport const run = (s: string) => eval(s);");
    expect(ids).toContain('bos/no-eval');
  });

  it('lints JavaScript sources too', () => {
    expect(ruleIds("const cp = require('child_process');\nexport default cp;", 'src/legacy.js')).toContain('bos/no-require');
  });
});
