import { createHash } from 'node:crypto';
import type { SandboxPool } from '@businessos/connector-runtime';
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

function parseJson(files: Map<string, Buffer>, name: string): { value?: unknown; error?: string } {
  const raw = files.get(name);
  if (!raw) return { error: `${name} is missing from the package` };
  try {
    return { value: JSON.parse(raw.toString('utf8')) as unknown };
  } catch (error) {
    return { error: `${name} is not valid JSON (${(error as Error).message})` };
  }
}

/** Options of {@link checkPackage}. */
export interface CheckOptions {
  /** Runs the dry load; without a pool the check is recorded as failed. */
  pool: SandboxPool | undefined;
  /** Sandbox deadline for the dry load (ms). */
  dryLoadDeadlineMs?: number;
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
    const value = sums.value as { bundle?: { sha256?: unknown }; files?: Record<string, unknown> };
    if (bundleSha256 && value.bundle?.sha256 !== bundleSha256) {
      repro.push(`connector.js has sha256 ${bundleSha256} but checksums.json says ${String(value.bundle?.sha256)}; the bundle was changed after packing`);
    }
    for (const [file, expected] of Object.entries(value.files ?? {})) {
      const content = files.get(file);
      if (!content) repro.push(`checksums.json lists ${file}, which is not in the package`);
      else if (sha256Hex(content) !== expected) repro.push(`${file} does not match its sha256 in checksums.json`);
    }
  }
  checks.push({ id: 'reproducibility', title: 'Build reproducibility (sha256)', status: repro.length ? 'fail' : 'pass', details: repro.length ? repro : [`connector.js sha256 ${bundleSha256}`] });

  // Dry load in the sandbox.
  const dry: CheckResult = { id: 'dry-load', title: 'Dry load in the sandbox', status: 'fail', details: [] };
  if (!bundle || !bundleSha256) dry.details.push('connector.js is missing');
  else if (!options.pool) dry.details.push('no sandbox pool is configured on this service');
  else if (manifest?.runtime === 'process') {
    dry.status = 'warn';
    dry.details.push('runtime "process": the connector needs Node APIs and runs in the process tier; not loaded in the sandbox');
  } else {
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
    if (!result.ok) dry.details.push(`the bundle did not load: ${result.error.code} ${result.error.message}`);
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
      status: 'pass',
      details: [
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
