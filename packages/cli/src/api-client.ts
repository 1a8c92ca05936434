import { CliError, environmentError, usageError } from './cli-error.ts';
import { EXIT } from './exit-codes.ts';

/** The service's error envelope (application/problem+json), as far as the CLI reads it. */
export interface ProblemBody {
  status?: number;
  code?: string;
  type?: string;
  detail?: string;
  errors?: { path: string; in?: string; message: string }[];
  requestId?: string;
}

/** A check result as the service reports it. */
export interface SubmissionCheck {
  id: string;
  title: string;
  status: 'pass' | 'warn' | 'fail';
  details: string[];
}

/** The part of a submission the CLI prints. */
export interface SubmissionSummary {
  id: string;
  status: string;
  connector: { id: string; name: string; visibility: string };
  version: string;
  checks: SubmissionCheck[];
  hosts: string[];
  scopes: string[];
  permissions: string[];
}

/** Where and as whom the CLI talks to the connectors service. */
export interface ApiTarget {
  /** Base URL, e.g. `http://127.0.0.1:3000`. */
  server: string;
  key: string;
  /** Injected in tests; defaults to the global fetch. */
  fetch?: typeof fetch;
}

function problemText(problem: ProblemBody, fallback: string): string {
  const lines = [problem.detail ?? fallback];
  for (const e of (problem.errors ?? []).slice(0, 20)) lines.push(`  ${e.path || '(body)'}: ${e.message}`);
  return lines.join('\n');
}

/**
 * Maps a refused request to a CliError: 400/422 (the package failed checks) → exit 1; 401/403/404/409/413 (wrong
 * key, role, name or version) → exit 2; anything else (5xx) → exit 3. The server's own message is kept.
 */
export function apiError(status: number, problem: ProblemBody): CliError {
  const text = problemText(problem, `the service answered HTTP ${status}`);
  const prefix = `the service refused the request (HTTP ${status}${problem.code ? ` ${problem.code}` : ''})`;
  if (status === 400 || status === 422) return new CliError(`${prefix}: ${text}`, { exitCode: EXIT.FINDINGS, hint: 'Fix what is listed, run `bos-connector lint` and `bos-connector pack`, then publish again.' });
  if (status === 401) return usageError(`${prefix}: ${text}`, 'Pass a valid key with --key or BOS_API_KEY (create one with POST /api-keys).');
  if (status === 403) return usageError(`${prefix}: ${text}`, 'Use a key with the publisher role, or a connector name your tenant owns.');
  if (status === 409) return usageError(`${prefix}: ${text}`, 'Bump `version` in the connector (and package.json), then publish again.');
  if (status === 413) return usageError(`${prefix}: ${text}`, 'Make the bundle smaller: do not inline large assets.');
  if (status >= 400 && status < 500) return usageError(`${prefix}: ${text}`);
  return environmentError(`${prefix}: ${text}`, `Retry later; if it persists, report request id ${problem.requestId ?? '(none)'} to the service operator.`);
}

/**
 * Uploads a packed connector to `POST /marketplace/submissions` and returns the submission.
 * Throws CliError: unreachable server → exit 3; refusals as {@link apiError}.
 */
export async function uploadSubmission(target: ApiTarget, tarball: Uint8Array, options: { private?: boolean } = {}): Promise<SubmissionSummary> {
  let url: URL;
  try {
    url = new URL('/marketplace/submissions', target.server);
  } catch {
    throw usageError(`--server ${JSON.stringify(target.server)} is not a URL`, 'Pass the service base URL, e.g. --server http://127.0.0.1:3000');
  }
  if (options.private) url.searchParams.set('visibility', 'private');
  let response: Response;
  try {
    response = await (target.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${target.key}`, 'content-type': 'application/gzip', accept: 'application/json' },
      // A Blob satisfies both the Node and the DOM typings of fetch for binary bodies.
      body: new Blob([tarball as Uint8Array<ArrayBuffer>]),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw environmentError(`cannot reach the connectors service at ${url.origin} (${cause?.code ?? cause?.message ?? (error as Error).message})`, 'Check --server (or BOS_SERVER_URL) and that the service is running.', error);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { detail: text.slice(0, 500) };
  }
  if (!response.ok) throw apiError(response.status, body as ProblemBody);
  return body as SubmissionSummary;
}
