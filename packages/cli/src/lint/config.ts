import type { ESLint, Linter, Rule } from 'eslint';
import { builtinRules } from 'eslint/use-at-your-own-risk';
import tseslint from 'typescript-eslint';
import { noHardcodedSecretRule } from './secrets.ts';

/** Node built-ins a connector must not import (with or without `node:`, subpaths included). */
export const FORBIDDEN_BUILTINS = [
  'fs', 'child_process', 'net', 'http', 'https', 'http2', 'dgram', 'dns', 'tls', 'vm', 'worker_threads', 'cluster',
  'os', 'process', 'module', 'v8', 'inspector', 'perf_hooks', 'repl', 'readline', 'async_hooks', 'trace_events', 'wasi',
] as const;

const GLOBAL_NAMES = '/^(globalThis|global|window|self)$/';

/** How to fix each finding, by rule id. */
export const FIX_HINTS: Record<string, string> = {
  'bos/no-eval': 'Parse data with JSON.parse or write the logic out; never run strings as code.',
  'bos/no-implied-eval': 'Pass a function to setTimeout/setInterval, not a string of code.',
  'bos/no-new-function': 'Write the function in source; building functions from strings runs arbitrary code.',
  'bos/no-dynamic-import': 'Use a static `import` at the top of the file so the bundle is complete and reviewable.',
  'bos/no-node-builtins': 'Connectors run in a sandbox without Node APIs: use ctx.http / this.api for HTTP and ctx.store for state.',
  'bos/no-process': 'Read configuration from ctx.connection.fields and let the host apply credentials; connectors have no process.',
  'bos/no-require': 'Use ESM `import` of bundled packages; require/module/__dirname do not exist in the sandbox.',
  'bos/no-global-write': 'Keep state in module variables or ctx.store; do not write to globalThis/global/window.',
  'bos/no-constructor-escape': 'Do not reach for constructors of functions; write the code in source.',
  'bos/no-extend-native': 'Write a helper function instead of adding to a built-in prototype.',
  'bos/no-global-assign': 'Use a local variable instead of reassigning a built-in global.',
  'bos/no-proto': 'Use Object.getPrototypeOf / Object.create instead of __proto__.',
  'bos/no-hardcoded-secret': 'Remove the value (and rotate it if it was real); declare auth so the host applies the credential.',
  'bos/parse-error': 'Fix the syntax error so the file can be checked.',
  'bos/no-inline-disable': 'Security checks cannot be switched off in source; remove the comment and fix the finding.',
};

function core(name: string): Rule.RuleModule {
  const rule = builtinRules.get(name);
  if (!rule) throw new Error(`ESLint core rule ${name} is missing; reinstall eslint`);
  return rule;
}

/** The `bos` plugin: ESLint core rules under connector-specific ids, plus the custom secret rule. */
export const bosPlugin: ESLint.Plugin = {
  meta: { name: 'bos-connector-security' },
  rules: {
    'no-eval': core('no-eval'),
    'no-implied-eval': core('no-implied-eval'),
    'no-new-function': core('no-new-func'),
    'no-dynamic-import': core('no-restricted-syntax'),
    'no-node-builtins': core('no-restricted-imports'),
    'no-process': core('no-restricted-globals'),
    'no-require': core('no-restricted-globals'),
    'no-global-write': core('no-restricted-syntax'),
    'no-constructor-escape': core('no-restricted-syntax'),
    'no-extend-native': core('no-extend-native'),
    'no-global-assign': core('no-global-assign'),
    'no-proto': core('no-proto'),
    'no-hardcoded-secret': noHardcodedSecretRule,
  },
};

/** The ESLint rule set of `bos-connector lint`; every finding is an error. */
export const SECURITY_RULES: Linter.RulesRecord = {
  'bos/no-eval': ['error', { allowIndirect: false }],
  'bos/no-implied-eval': 'error',
  'bos/no-new-function': 'error',
  'bos/no-dynamic-import': ['error', { selector: 'ImportExpression', message: 'Dynamic import() loads code the bundle and review cannot see.' }],
  'bos/no-node-builtins': [
    'error',
    {
      patterns: [
        {
          regex: `^(node:)?(${FORBIDDEN_BUILTINS.join('|')})(/.*)?$`,
          message: 'Node built-ins are not available to connectors in the sandbox.',
        },
      ],
    },
  ],
  'bos/no-process': ['error', { globals: [{ name: 'process', message: 'Connectors have no process object (env, argv, exit).' }], checkGlobalObject: true, globalObjects: ['global'] }],
  'bos/no-require': [
    'error',
    {
      globals: [
        { name: 'require', message: 'CommonJS require() is not available to connectors.' },
        { name: 'module', message: 'CommonJS module is not available to connectors.' },
        { name: '__dirname', message: 'There is no file system path in the sandbox.' },
        { name: '__filename', message: 'There is no file system path in the sandbox.' },
      ],
      checkGlobalObject: true,
      globalObjects: ['global'],
    },
  ],
  'bos/no-global-write': [
    'error',
    { selector: `AssignmentExpression > MemberExpression.left[object.name=${GLOBAL_NAMES}]`, message: 'Writing a property of the global object leaks state between executions.' },
    { selector: `UpdateExpression > MemberExpression.argument[object.name=${GLOBAL_NAMES}]`, message: 'Writing a property of the global object leaks state between executions.' },
    { selector: `UnaryExpression[operator='delete'] > MemberExpression.argument[object.name=${GLOBAL_NAMES}]`, message: 'Deleting a property of the global object changes it for everyone.' },
    {
      selector: `CallExpression[callee.object.name=/^(Object|Reflect)$/][callee.property.name=/^(defineProperty|defineProperties|assign|setPrototypeOf|set|deleteProperty)$/][arguments.0.name=${GLOBAL_NAMES}]`,
      message: 'Changing the global object leaks state between executions.',
    },
    {
      selector: "CallExpression[callee.object.name=/^(Object|Reflect)$/][callee.property.name=/^(defineProperty|defineProperties|assign|setPrototypeOf|set)$/][arguments.0.type='MemberExpression'][arguments.0.property.name='prototype']",
      message: 'Changing a prototype through Object/Reflect mutates shared built-ins.',
    },
  ],
  'bos/no-constructor-escape': [
    'error',
    {
      selector: "MemberExpression[property.name='constructor'][object.type='MemberExpression'][object.property.name=/^(constructor|prototype)$/]",
      message: 'Reaching the Function constructor through .constructor.constructor builds code from strings, like eval.',
    },
    {
      selector: "MemberExpression[property.name='constructor'][object.type='MemberExpression'][object.object.name=/^(Function|AsyncFunction|GeneratorFunction)$/]",
      message: 'Reaching the Function constructor through its prototype builds code from strings, like eval.',
    },
  ],
  'bos/no-extend-native': 'error',
  'bos/no-global-assign': 'error',
  'bos/no-proto': 'error',
  'bos/no-hardcoded-secret': 'error',
};

/** Globals a JavaScript host usually has; `process`/`require` stay undeclared and are reported when used. */
const HOST_GLOBALS = ['globalThis', 'global', 'window', 'self', 'setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'execScript', 'queueMicrotask'];

/** Source files linted: TypeScript and JavaScript modules. */
export const SOURCE_EXTENSIONS = ['ts', 'mts', 'cts', 'tsx', 'js', 'mjs', 'cjs', 'jsx'] as const;

/** The flat config handed to `new ESLint({ overrideConfigFile: true, overrideConfig })`. */
export function securityConfig(): Linter.Config[] {
  return [
    {
      files: SOURCE_EXTENSIONS.map((ext) => `**/*.${ext}`),
      languageOptions: {
        parser: tseslint.parser as Linter.Parser,
        ecmaVersion: 'latest',
        sourceType: 'module',
        // Declared so the core rules recognise these as the real globals (string timers, global writes).
        globals: Object.fromEntries(HOST_GLOBALS.map((name) => [name, 'readonly' as const])),
      },
      // Inline `eslint-disable` comments must not switch a security check off.
      linterOptions: { noInlineConfig: true, reportUnusedDisableDirectives: 'off' },
      plugins: { bos: bosPlugin },
      rules: SECURITY_RULES,
    },
  ];
}
