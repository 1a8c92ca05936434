import { randomUUID } from 'node:crypto';
import { ConnectorError, isConnectorError, toErrorData, type ErrorData } from '@businessos/connector-sdk';
import type { ExecutionMeta } from '@businessos/connector-runtime';
import { storableJson } from '@businessos/connector-triggers';
import type { Db } from '../db/db.ts';
import { keepableJson, keepableJsonText, keepableText } from '../db/keepable.ts';
import { ProblemError } from '../http/problem.ts';
import type { ServiceRuntime } from './service-runtime.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The process's connector runtime; undefined when the service has no vault (no master key). */
    connectorRuntime: ServiceRuntime | undefined;
  }
}

/** What a caller asks to run. */
export interface ExecutionRequest {
  tenantId: string;
  connector: string;
  action: string;
  params: Record<string, unknown>;
  connectionId: string;
}

/** The meta the API answers for an execution: its id (the `GET /executions/{id}` id) and runtime facts. */
export interface ApiExecutionMeta {
  executionId: string;
  durationMs: number;
  attempts: number;
  httpCalls: number;
}

/** A prepared execution: the tenant's connection resolved to its installation's pinned version. */
export interface PreparedExecution extends ExecutionRequest {
  id: string;
  version: string;
  fields: Record<string, string>;
}

/** An execution failure carried to the HTTP layer: the catalogue error plus meta. */
export class ExecutionFailed extends ProblemError {
  readonly data: ErrorData;
  readonly meta: ApiExecutionMeta;
  constructor(data: ErrorData, meta: ApiExecutionMeta) {
    super(data.code, data.message);
    this.name = 'ExecutionFailed';
    this.data = data;
    this.meta = meta;
  }
}

/** The runtime of the app, or 503 when the service runs without a master key (no vault, so no credentials). */
export function requireRuntime(runtime: ServiceRuntime | undefined): ServiceRuntime {
  if (!runtime) throw new ProblemError('NOT_IMPLEMENTED', 'This service has no master key, so it cannot run connectors; the operator sets BOS_MASTER_KEY', { status: 503 });
  return runtime;
}

/**
 * Resolves the connection of `request` within the tenant (RLS) and checks it belongs to an installation of
 * `request.connector`; records the execution as `queued`. 404 when either does not hold.
 */
export async function prepareExecution(db: Db, request: ExecutionRequest): Promise<PreparedExecution> {
  const id = randomUUID();
  return db.withTenant(request.tenantId, async (tx) => {
    const { rows } = await tx.query<{ version: string; fields: Record<string, string> }>(
      `SELECT i.version, c.fields
       FROM connectors.connections c
       JOIN connectors.installations i ON i.id = c.installation_id
       JOIN connectors.marketplace m ON m.id = i.connector_id
       WHERE c.id = $1 AND m.name = $2`,
      [request.connectionId, request.connector],
    );
    const row = rows[0];
    if (!row) {
      throw new ProblemError('NOT_FOUND', `No connection ${request.connectionId} of an installed ${request.connector} in your tenant; list them with GET /connections`);
    }
    await tx.query(
      `INSERT INTO connectors.executions (id, tenant_id, connection_id, connector_name, connector_version, action, status) VALUES ($1, $2, $3, $4, $5, $6, 'queued')`,
      [id, request.tenantId, request.connectionId, request.connector, row.version, request.action],
    );
    return { ...request, id, version: row.version, fields: row.fields };
  });
}

/** The API meta of execution `id` from the runtime's meta (zeros when it never ran). */
export function apiMeta(id: string, meta: ExecutionMeta | undefined): ApiExecutionMeta {
  return { executionId: id, durationMs: meta?.durationMs ?? 0, attempts: meta?.attempts ?? 0, httpCalls: meta?.httpCalls ?? 0 };
}

/** Options of {@link runExecution}. */
export interface RunExecutionOptions {
  /**
   * Told when this attempt's outcome was not recorded because the row had been settled meanwhile (see
   * {@link settleExecution}); the worker logs it. The attempt still resolves or rejects with its own outcome.
   */
  onDiscarded?: (discarded: DiscardedOutcome) => void;
}

/** An outcome that a late attempt did not record, and the status the execution row already had. */
export interface DiscardedOutcome {
  executionId: string;
  outcome: 'succeeded' | 'failed';
  /** The row's status when the outcome arrived (undefined if the row is gone). */
  recordedStatus: ExecutionView['status'] | undefined;
}

/**
 * Runs a prepared execution, recording `running` then `succeeded` (with the result) or `failed` (with the
 * catalogue error). Resolves with data and meta; rejects with {@link ExecutionFailed}. The caller is answered what
 * is recorded: a result the store cannot keep fails the execution with INVALID_OUTPUT (see {@link unrecordableResult}),
 * and an error message is recorded and answered with what the store cannot keep replaced by U+FFFD.
 */
export async function runExecution(db: Db, rt: ServiceRuntime, prepared: PreparedExecution, options: RunExecutionOptions = {}): Promise<{ data: unknown; meta: ApiExecutionMeta }> {
  const { id, tenantId } = prepared;
  // Claimed once: a queued execution redelivered after its worker died (status already running) is not run twice,
  // since its action may have taken effect; it fails with a message saying so.
  const claimed = await db.withTenant(tenantId, (tx) => tx.query(`UPDATE connectors.executions SET status = 'running' WHERE id = $1 AND status = 'queued' RETURNING id`, [id]));
  if (claimed.rows.length === 0) {
    const data = interruptedError();
    await failExecution(db, prepared, data, 'running');
    throw new ExecutionFailed(data, apiMeta(id, undefined));
  }
  // From here on this attempt owns the row (only one attempt ever moves it out of queued), until someone settles it.
  let failure: Extract<ExecutionOutcome, { status: 'failed' }>;
  const settle = async (outcome: ExecutionOutcome): Promise<void> => {
    const settled = await settleExecution(db, prepared, outcome);
    if (!settled.recorded) options.onDiscarded?.({ executionId: id, outcome: outcome.status, recordedStatus: settled.status });
  };
  try {
    // The result is checked inside the execution, so that one the store cannot keep is metered as the
    // INVALID_OUTPUT it fails with, not as a success. (A runtime that skips acceptResult gets the same check after.)
    let checkedJson: string | undefined;
    const result = await rt.asTenant(tenantId, () =>
      rt.runtime.execute({
        tenant: tenantId,
        connector: prepared.connector,
        version: prepared.version,
        action: prepared.action,
        params: prepared.params,
        connection: { id: prepared.connectionId, fields: prepared.fields },
        acceptResult(data) {
          const stored = storableJson(data);
          if (!stored.ok) {
            const error = unrecordableResult(stored);
            throw new ConnectorError(error.code, error.message, { path: error.path });
          }
          checkedJson = stored.json;
        },
      }),
    );
    const meta = apiMeta(id, result.meta);
    const stored = checkedJson === undefined ? storableJson(result.data) : { ok: true as const, json: checkedJson };
    if (stored.ok) {
      await settle({ status: 'succeeded', result: result.data, resultJson: stored.json, meta });
      return { data: result.data, meta };
    }
    failure = { status: 'failed', error: unrecordableResult(stored), meta };
  } catch (error) {
    const data: ErrorData = isConnectorError(error) ? toErrorData(error) : { code: 'INTERNAL', message: `The execution failed unexpectedly: ${(error as Error).message}` };
    // Messages come from providers and connector code: a NUL or half an emoji must not cost the record.
    failure = { status: 'failed', error: keepableJson(data), meta: apiMeta(id, (error as { meta?: ExecutionMeta }).meta) };
  }
  await settle(failure);
  throw new ExecutionFailed(failure.error, failure.meta);
}

/**
 * The error of an execution whose result the store cannot keep (a NUL character or a lone surrogate in a string or
 * key). It fails rather than succeeding with a changed result, or with none: the caller would be told data that the
 * record does not hold, and the connector's author learns where the value is and what to do.
 */
export function unrecordableResult(stored: Extract<ReturnType<typeof storableJson>, { ok: false }>): ErrorData {
  const path = keepableText(stored.path);
  return { code: 'INVALID_OUTPUT', message: `The connector returned a result that cannot be recorded: at ${path || '/'}, ${stored.problem}`, path };
}

/**
 * What a redelivered execution is recorded with when its first attempt still holds the row: that attempt may have
 * stopped, or may only have lost its job's lock and still be running. `details.interrupted` marks it, so the first
 * attempt's own outcome replaces it if that attempt does finish (see {@link settleExecution}).
 */
export function interruptedError(): ErrorData {
  return {
    code: 'INTERNAL',
    message: 'The worker running this execution stopped before it finished; it may have partly run, so it was not started again. Check the provider, then execute again if the action is safe to repeat.',
    details: { interrupted: true },
  };
}

/** The outcome of one attempt at an execution, as {@link settleExecution} records it. */
export type ExecutionOutcome =
  // resultJson: the result as JSON text, when the caller has already serialised (and checked) it.
  | { status: 'succeeded'; result: unknown; resultJson?: string; meta: ApiExecutionMeta }
  | { status: 'failed'; error: ErrorData; meta: ApiExecutionMeta };

/**
 * Records the outcome of the attempt that claimed `prepared` (moved its row from queued to running). The claim happens
 * once per row, so only that attempt ever runs the action. It writes a row still `running`, or one a redelivery marked
 * as interrupted meanwhile ({@link interruptedError}: its worker lost the job's lock but went on): its real outcome is
 * better than "may have partly run". Any other final row is left as it is and the late outcome is discarded; the
 * answer says so, with the row's status.
 * @example const settled = await settleExecution(db, prepared, { status: 'succeeded', result: data, meta });
 */
// A row the claiming attempt may still settle: running, or marked interrupted by a redelivery.
const SETTLEABLE = `(status = 'running' OR (status = 'failed' AND error->'details'->>'interrupted' = 'true'))`;

export async function settleExecution(db: Db, prepared: PreparedExecution, outcome: ExecutionOutcome): Promise<{ recorded: true } | { recorded: false; status: ExecutionView['status'] | undefined }> {
  return db.withTenant(prepared.tenantId, async (tx) => {
    const written =
      outcome.status === 'succeeded'
        ? await tx.query(`UPDATE connectors.executions SET status = 'succeeded', result = $2, error = NULL, meta = $3, finished_at = now() WHERE id = $1 AND ${SETTLEABLE} RETURNING id`, [
            prepared.id,
            outcome.resultJson ?? JSON.stringify(outcome.result ?? null),
            JSON.stringify(outcome.meta),
          ])
        : await tx.query(`UPDATE connectors.executions SET status = 'failed', error = $2, meta = $3, finished_at = now() WHERE id = $1 AND ${SETTLEABLE} RETURNING id`, [
            prepared.id,
            keepableJsonText(outcome.error),
            JSON.stringify(outcome.meta),
          ]);
    if (written.rows.length > 0) return { recorded: true };
    const { rows } = await tx.query<{ status: ExecutionView['status'] }>(`SELECT status FROM connectors.executions WHERE id = $1`, [prepared.id]);
    return { recorded: false, status: rows[0]?.status };
  });
}

/**
 * Records `prepared` as failed with `data` without running it (queue full, no worker), only while its status
 * is still `from` (default queued).
 */
export async function failExecution(db: Db, prepared: PreparedExecution, data: ErrorData, from: 'queued' | 'running' = 'queued'): Promise<void> {
  await db.withTenant(prepared.tenantId, (tx) =>
    tx.query(`UPDATE connectors.executions SET status = 'failed', error = $2, meta = $3, finished_at = now() WHERE id = $1 AND status = $4`, [
      prepared.id,
      keepableJsonText(data),
      JSON.stringify(apiMeta(prepared.id, undefined)),
      from,
    ]),
  );
}

/** One execution as `GET /executions/{id}` shows it. */
export interface ExecutionView {
  id: string;
  connector: string;
  version: string;
  action: string;
  connectionId: string | null;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  result: unknown;
  error: ErrorData | null;
  meta: ApiExecutionMeta | null;
  createdAt: string;
  finishedAt: string | null;
}

/** Reads one execution of the tenant (RLS), or undefined. */
export async function findExecution(db: Db, tenantId: string, id: string): Promise<ExecutionView | undefined> {
  const { rows } = await db.withTenant(tenantId, (tx) =>
    tx.query<{
      id: string; connector_name: string; connector_version: string; action: string; connection_id: string | null; status: ExecutionView['status'];
      result: unknown; error: ErrorData | null; meta: ApiExecutionMeta | null; created_at: Date; finished_at: Date | null;
    }>(`SELECT id, connector_name, connector_version, action, connection_id, status, result, error, meta, created_at, finished_at FROM connectors.executions WHERE id = $1`, [id]),
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: r.id,
    connector: r.connector_name,
    version: r.connector_version,
    action: r.action,
    connectionId: r.connection_id,
    status: r.status,
    result: r.result ?? null,
    error: r.error,
    meta: r.meta,
    createdAt: new Date(r.created_at).toISOString(),
    finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
  };
}
