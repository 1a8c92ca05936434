import { createHash } from 'node:crypto';
import { addressDenial, type SandboxPool } from '@businessos/connector-runtime';
import type { ConnectorManifest } from '@businessos/connector-sdk';
import { validateManifest } from '@businessos/connector-sdk/host';
import semver from 'semver';

/** The outcome of one automated check of a submission. */
export interface CheckResult {
  /** Stable id: `package`, `manifest`, `security-lint`, `reproducibility`, `dry-load`, `permissions`. */
  id: string;
  title: string;
  status: 'pass' | 'warn' | 'fail';
  /** One line per finding or fact, for the publisher and the reviewer. */
  details: string[];
}

/** What the checks learnt about a package. */
export interface CheckedPackage {
  checks: CheckResult[];
  /** True when no check failed. */
  ok: boolean;
  /** manifest.json, parsed (undefined when unreadable). */
  manifest: ConnectorManifest | undefined;
  /** connector.js, the bundle the runtime loads. */
  bundle: Buffer | undefined;
  bundleSha256: string | undefined;
  /** For the reviewer: hosts the connector may call, declared permissions and OAuth2 scopes. */
  hosts: string[];
  permissions: string[];
  scopes: string[];
}

/** Hex sha256. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** JSON with object keys sorted, so two equal values give the same text whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

const BUILTINS = 'fs|child_process|net|http|https|http2|dgram|dns|tls|vm|worker_threads|cluster|os|process|module|v8|inspector|perf_hooks|repl|readline|async_hooks|trace_events|wasi';

/** Constructs a sandboxed bundle must not contain. `fail` ones are refused; `warn` ones are shown to the reviewer. */
const BUNDLE_RULES: readonly { id: string; pattern: RegExp; severity: 'fail' | 'warn'; message: string }[] = [
  { id: 'no-node-builtins', pattern: new RegExp(`(?:from\\s*|import\\s*\\(\\s*|require\\s*\\(\\s*)["'](?:node:)?(?:${BUILTINS})(?:/[^"']*)?["']`), severity: 'fail', message: 'imports a Node built-in, which the sandbox does not provide' },
  { id: 'no-require', pattern: /(?<![.\w$])require\s*\(/, severity: 'fail', message: 'calls require(); bundles are single ESM files with no runtime imports' },
  { id: 'no-dynamic-import', pattern: /(?<![.\w$])import\s*\(/, severity: 'fail', message: 'uses dynamic import(); bundles must be self-contained' },
  { id: 'no-eval', pattern: /(?<![.\w$])eval\s*\(/, severity: 'fail', message: 'calls eval()' },
  { id: 'no-function-constructor', pattern: /new\s+Function\s*\(|(?<![.\w$])Function\s*\(\s*["'`]/, severity: 'fail', message: 'builds code with the Function constructor' },
  { id: 'no-process', pattern: /(?<![.\w$])process\s*\.\s*(?:env|exit|binding|kill)/, severity: 'fail', message: 'touches process.env/exit/binding' },
  { id: 'no-global-fetch', pattern: /(?<![.\w$])(?:fetch|XMLHttpRequest|WebSocket)\s*\(/, severity: 'warn', message: 'calls a network API directly; requests must go through the context transport' },
  { id: 'no-webassembly', pattern: /(?<![.\w$])WebAssembly\s*\./, severity: 'warn', message: 'uses WebAssembly' },
  { id: 'no-static-import', pattern: /^\s*import\s+[^(]*?from\s*["'][^"']+["']/m, severity: 'fail', message: 'keeps a static import; esbuild bundles must inline every dependency' },
];

/**
 * Security lint of a bundle: a line-by-line scan for constructs the sandbox forbids or a reviewer should see.
 * (The CLI's ESLint rules run on sources before packing; the server only has the bundle.)
 */
export function lintBundle(code: string): { severity: 'fail' | 'warn'; rule: string; line: number; message: string }[] {
  const findings: { severity: 'fail' | 'warn'; rule: string; line: number; message: string }[] = [];
  const lines = code.split('\n');
  lines.forEach((text, index) => {
    for (const rule of BUNDLE_RULES) {
      if (rule.pattern.test(text)) findings.push({ severity: rule.severity, rule: rule.id, line: index + 1, message: rule.message });
    }
  });
  return findings;
}

/** Deepest nesting accepted in a package's JSON files: validators and comparisons recurse, a hostile file must not overflow the stack. */
export const MAX_JSON_DEPTH = 64;
/** Largest manifest.json accepted (bytes): room for a 200 KB icon and hundreds of actions. */
export const MAX_MANIFEST_BYTES = 2 * 1024 * 1024;
/** Most actions plus triggers accepted: each schema is compiled during validation. */
export const MAX_MANIFEST_OPERATIONS = 500;

const pointer = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

// Walks the parsed value without recursion: too deep, or a `__proto__` key (which turns into a prototype as soon as
// some code copies the object with Object.assign or a merge) is refused with its JSON path.
function jsonShapeProblem(value: unknown, name: string): string | undefined {
  const stack: [unknown, string, number][] = [[value, '', 0]];
  while (stack.length > 0) {
    const [node, path, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return `${name} ${path}: nests deeper than ${MAX_JSON_DEPTH} levels; flatten it`;
    for (const [key, child] of Object.entries(node as Record<string, unknown>)) {
      if (key === '__proto__') return `${name} ${path}/__proto__: "__proto__" is not allowed as a key`;
      stack.push([child, `${path}/${pointer(key)}`, depth + 1]);
    }
  }
  return undefined;
}

function parseJson(files: Map<string, Buffer>, name: string): { value?: unknown; error?: string } {
  const raw = files.get(name);
  if (!raw) return { error: `${name} is missing from the package` };
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8')) as unknown;
  } catch (error) {
    return { error: `${name} is not valid JSON (${(error as Error).message})` };
  }
  const problem = jsonShapeProblem(value, name);
  return problem ? { error: problem } : { value };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function isLoopbackName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || (addressDenial(host) !== undefined && addressDenial(host, { allowLoopback: true }) === undefined);
}

/**
 * Refusals (`fail`) and reviewer notes (`warn`) about where the manifest lets the connector send requests. The runtime
 * checks every connection again, but a package that declares a host no production request may reach, or a pattern
 * that lets anyone pick the domain, is refused here with the JSON path. Loopback is only a warning: the service's test
 * mode (BOS_EGRESS_ALLOW_LOOPBACK) publishes connectors against loopback mock APIs.
 */
export function hostPolicy(m: ConnectorManifest): { fail: string[]; warn: string[] } {
  const fail: string[] = [];
  const warn: string[] = [];
  m.hosts.forEach((raw, i) => {
    const at = `manifest.json /hosts/${i}`;
    const host = raw.toLowerCase().replace(/:\d+$/, '');
    const labels = host.split('.');
    if (isLoopbackName(host)) {
      warn.push(`${at}: ${raw} is a loopback host, reachable only when the service runs in test mode`);
      return;
    }
    const denial = addressDenial(host);
    if (denial && !denial.endsWith('is not an IP address')) {
      fail.push(`${at}: ${raw} is not a public address (${denial}); declare the API's public host name`);
      return;
    }
    // Labels after the last wildcard or placeholder are fixed by the publisher; fewer than two of them means the
    // connection (or `*`) picks the registrable domain, i.e. any site on the internet.
    const lastOpen = labels.findLastIndex((l) => l === '*' || l.includes('{'));
    const fixed = labels.length - lastOpen - 1;
    if (fixed < 2) {
      fail.push(
        lastOpen >= 0
          ? `${at}: ${raw} lets ${labels[lastOpen] === '*' ? 'the wildcard' : 'a connection field'} choose the whole domain; fix the domain, e.g. *.example.com or {shop}.example.com`
          : `${at}: ${raw} is not a fully qualified host name; declare the API's public host name, e.g. api.example.com`,
      );
    }
  });
  const auth = m.auth as unknown as Record<string, unknown>;
  const urls: [string, unknown][] = [['/baseUrl', m.baseUrl], ...['authorizationUrl', 'tokenUrl', 'refreshUrl', 'revokeUrl'].map((k): [string, unknown] => [`/auth/${k}`, auth[k]])];
  for (const [path, value] of urls) {
    if (typeof value !== 'string') continue;
    const at = `manifest.json ${path}`;
    let url: URL;
    try {
      // Placeholders stand for one label each; the host check above covers which values they may take.
      url = new URL(value.replace(/\{[A-Za-z_][A-Za-z0-9_]*\}/g, 'x'));
    } catch {
      fail.push(`${at}: ${JSON.stringify(value)} is not a valid URL`);
      continue;
    }
    if (url.username || url.password) fail.push(`${at}: ${value} carries user info; credentials belong in auth, the host applies them`);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (url.protocol !== 'https:') {
      if (url.protocol === 'http:' && isLoopbackName(host)) warn.push(`${at}: ${value} uses plain http to a loopback host, reachable only in test mode`);
      else fail.push(`${at}: ${value} must use https`);
    }
  }
  return { fail, warn };
}

/** Options of {@link checkPackage}. */
export interface CheckOptions {
  /** Runs the dry load; without a pool the check is recorded as failed. */
  pool: SandboxPool | undefined;
  /** Sandbox deadline for the dry load (ms). */
  dryLoadDeadlineMs?: number;
  /**
   * Called with the valid manifest just before the dry load, once every other check passed; what it throws ends the
   * checks (the route refuses a name or version it would not store, before the dry load keeps a sandbox image).
   */
  beforeDryLoad?: (manifest: ConnectorManifest) => Promise<void>;
}

/**
 * Runs every automated check of an unpacked connector package: package layout, manifest validation, security lint of
 * the bundle, build reproducibility (checksums.json vs content) and a dry load in the sandbox whose manifest must equal
 * manifest.json; finally lists hosts, permissions and scopes for the reviewer.
 */
export async function checkPackage(files: Map<string, Buffer>, options: CheckOptions): Promise<CheckedPackage> {
  const checks: CheckResult[] = [];
  const required = ['manifest.json', 'connector.js', 'checksums.json', 'package.json'];
  const missing = required.filter((f) => !files.has(f));
  checks.push({
    id: 'package',
    title: 'Package layout',
    status: missing.length ? 'fail' : 'pass',
    details: missing.length ? missing.map((f) => `package/${f} is missing; pack with \`bos-connector pack\``) : [`files: ${[...files.keys()].sort().join(', ')}`],
  });

  // Manifest.
  const parsed = parseJson(files, 'manifest.json');
  const operations = isObject(parsed.value) ? [parsed.value.actions, parsed.value.triggers].reduce<number>((n, list) => n + (Array.isArray(list) ? list.length : 0), 0) : 0;
  if ((files.get('manifest.json')?.length ?? 0) > MAX_MANIFEST_BYTES) parsed.error = `manifest.json is larger than ${MAX_MANIFEST_BYTES} bytes; shrink the icon or split the connector`;
  else if (operations > MAX_MANIFEST_OPERATIONS) parsed.error = `manifest.json declares ${operations} actions and triggers; at most ${MAX_MANIFEST_OPERATIONS} are accepted, split the connector`;
  let manifest: ConnectorManifest | undefined;
  if (parsed.error) checks.push({ id: 'manifest', title: 'Manifest validation', status: 'fail', details: [parsed.error] });
  else {
    const result = validateManifest(parsed.value as ConnectorManifest);
    const details = result.issues.map((i) => `manifest.json ${i.path || '/'}: ${i.message}`);
    const m = parsed.value as ConnectorManifest;
    if (result.ok && !semver.valid(m.version)) details.push(`manifest.json /version: ${JSON.stringify(m.version)} is not a semantic version`);
    if (details.length === 0) manifest = m;
    checks.push({ id: 'manifest', title: 'Manifest validation', status: details.length ? 'fail' : 'pass', details: details.length ? details : [`${m.name}@${m.version}: valid`] });
    if (details.length === 0) {
      const pkg = parseJson(files, 'package.json');
      const pkgVersion = (pkg.value as { version?: unknown } | undefined)?.version;
      if (pkgVersion !== undefined && pkgVersion !== m.version) {
        checks[checks.length - 1]!.details.push(`package.json version ${String(pkgVersion)} differs from the manifest's ${m.version}`);
        checks[checks.length - 1]!.status = 'warn';
      }
    }
  }

  // Security lint.
  const bundle = files.get('connector.js');
  const bundleSha256 = bundle ? sha256Hex(bundle) : undefined;
  if (bundle) {
    const findings = lintBundle(bundle.toString('utf8'));
    const status = findings.some((f) => f.severity === 'fail') ? 'fail' : findings.length ? 'warn' : 'pass';
    checks.push({
      id: 'security-lint',
      title: 'Security lint of connector.js',
      status,
      details: findings.length ? findings.slice(0, 50).map((f) => `connector.js:${f.line} ${f.rule}: ${f.message}`) : ['no forbidden constructs'],
    });
  } else checks.push({ id: 'security-lint', title: 'Security lint of connector.js', status: 'fail', details: ['connector.js is missing'] });

  // Reproducibility: checksums.json must describe the shipped files.
  const sums = parseJson(files, 'checksums.json');
  const repro: string[] = [];
  if (sums.error) repro.push(sums.error);
  else {
    const value = sums.value;
    const bundleSum = isObject(value) && isObject(value.bundle) ? value.bundle.sha256 : undefined;
    const listed = isObject(value) && isObject(value.files) ? value.files : undefined;
    if (bundleSha256 && bundleSum !== bundleSha256) {
      repro.push(`connector.js has sha256 ${bundleSha256} but checksums.json /bundle/sha256 says ${String(bundleSum)}; the bundle was changed after packing`);
    }
    if (!listed) repro.push('checksums.json /files is missing or not an object of path → sha256; pack with `bos-connector pack`');
    for (const [file, expected] of Object.entries(listed ?? {})) {
      const content = files.get(file);
      if (!content) repro.push(`checksums.json lists ${file}, which is not in the package`);
      else if (sha256Hex(content) !== expected) repro.push(`${file} does not match its sha256 in checksums.json`);
    }
    // A file nobody vouched for (a second bundle, a case variant of one) must not ride along unchecked.
    if (listed) {
      for (const file of [...files.keys()].sort()) {
        if (file !== 'checksums.json' && !Object.hasOwn(listed, file)) repro.push(`package/${file} is not listed in checksums.json; remove it or pack again with \`bos-connector pack\``);
      }
    }
  }
  checks.push({ id: 'reproducibility', title: 'Build reproducibility (sha256)', status: repro.length ? 'fail' : 'pass', details: repro.length ? repro : [`connector.js sha256 ${bundleSha256}`] });

  // Dry load in the sandbox.
  const policy = manifest ? hostPolicy(manifest) : { fail: [], warn: [] };
  const failedSoFar = [...checks.filter((c) => c.status === 'fail').map((c) => c.id), ...(policy.fail.length ? ['permissions'] : [])];
  const dry: CheckResult = { id: 'dry-load', title: 'Dry load in the sandbox', status: 'fail', details: [] };
  if (!bundle || !bundleSha256) dry.details.push('connector.js is missing');
  // The dry load leaves the bundle's sandbox image in the shared store, so a package refused anyway is not loaded.
  else if (failedSoFar.length > 0) dry.details.push(`not run: fix the failed ${failedSoFar.join(', ')} check(s) first`);
  else if (!options.pool) dry.details.push('no sandbox pool is configured on this service');
  else if (manifest?.runtime === 'process') {
    dry.status = 'warn';
    dry.details.push('runtime "process": the connector needs Node APIs and runs in the process tier; not loaded in the sandbox');
  } else {
    if (manifest) await options.beforeDryLoad?.(manifest);
    const result = await options.pool.run(
      {
        tenant: 'publishing-checks',
        bundle: { key: `submission:${bundleSha256}`, code: bundle.toString('utf8'), sha256: bundleSha256 },
        call: { kind: 'manifest' },
        limits: { deadlineMs: options.dryLoadDeadlineMs ?? 10_000 },
      },
      {
        async request() {
          throw Object.assign(new Error('A dry load may not make requests'), { code: 'EGRESS_DENIED' });
        },
        log() {},
      },
    );
    const exported = result.ok ? jsonShapeProblem(result.value, 'the manifest exported by connector.js') : undefined;
    if (!result.ok) dry.details.push(`the bundle did not load: ${result.error.code} ${result.error.message}`);
    else if (exported) dry.details.push(exported);
    else if (parsed.value !== undefined && canonicalJson(result.value) !== canonicalJson(parsed.value)) {
      dry.details.push('the manifest exported by connector.js differs from manifest.json; rebuild and pack again');
    } else {
      dry.status = 'pass';
      dry.details.push('connector.js loads and its manifest equals manifest.json');
    }
  }
  checks.push(dry);

  const hosts = manifest ? [...(manifest.baseUrl ? [manifest.baseUrl] : []), ...(manifest.hosts ?? [])] : [];
  const permissions = manifest?.permissions ?? [];
  const scopes = manifest?.auth.type === 'oauth2' ? manifest.auth.scopes : [];
  if (manifest) {
    checks.push({
      id: 'permissions',
      title: 'Declared hosts and permissions',
      status: policy.fail.length ? 'fail' : policy.warn.length ? 'warn' : 'pass',
      details: [
        ...policy.fail,
        ...policy.warn,
        `auth: ${manifest.auth.type}`,
        `hosts: ${hosts.join(', ') || '(none)'}`,
        `scopes: ${scopes.join(', ') || '(none)'}`,
        `permissions: ${permissions.join('; ') || '(none declared)'}`,
      ],
    });
  }
  return { checks, ok: !checks.some((c) => c.status === 'fail'), manifest, bundle, bundleSha256, hosts, permissions, scopes };
}

/** What changed between two manifests, as a reviewer reads it. */
export interface ManifestDiff {
  previousVersion: string | null;
  actions: { added: string[]; removed: string[] };
  triggers: { added: string[]; removed: string[] };
  hosts: { added: string[]; removed: string[] };
  scopes: { added: string[]; removed: string[] };
  permissions: { added: string[]; removed: string[] };
  authChanged: boolean;
}

function setDiff(before: readonly string[], after: readonly string[]): { added: string[]; removed: string[] } {
  const b = new Set(before);
  const a = new Set(after);
  return { added: [...a].filter((x) => !b.has(x)).sort(), removed: [...b].filter((x) => !a.has(x)).sort() };
}

function hostsOf(m: ConnectorManifest): string[] {
  return [...(m.baseUrl ? [m.baseUrl] : []), ...(m.hosts ?? [])];
}

function scopesOf(m: ConnectorManifest): string[] {
  return m.auth.type === 'oauth2' ? m.auth.scopes : [];
}

/** Diff of `next` against `previous` (everything counts as added when there is no previous version). */
export function diffManifests(previous: ConnectorManifest | undefined, next: ConnectorManifest): ManifestDiff {
  const p = previous;
  return {
    previousVersion: p?.version ?? null,
    actions: setDiff(p?.actions.map((a) => a.name) ?? [], next.actions.map((a) => a.name)),
    triggers: setDiff(p?.triggers.map((t) => t.name) ?? [], next.triggers.map((t) => t.name)),
    hosts: setDiff(p ? hostsOf(p) : [], hostsOf(next)),
    scopes: setDiff(p ? scopesOf(p) : [], scopesOf(next)),
    permissions: setDiff(p?.permissions ?? [], next.permissions ?? []),
    authChanged: p !== undefined && p.auth.type !== next.auth.type,
  };
}
