import type { ErrorData } from '@businessos/connector-sdk';
import type { ApiExecutionMeta, PreparedExecution } from '../execution/executions.ts';

/** A connection test ("Test connection") to run on a worker: the connector's test request with stored credentials. */
export interface ConnectionTestJob {
  /** A fresh id for the job (connection tests have no execution row). */
  id: string;
  tenantId: string;
  connector: string;
  version: string;
  connectionId: string;
  fields: Record<string, string>;
}

/**
 * What the API puts on the execution queue: an execution as prepared by the API (row `queued`), or a connection
 * test. Both run connector code, so both run on workers, under the same limits.
 */
export type ExecutionJobData = { kind: 'execute'; execution: PreparedExecution } | { kind: 'test-connection'; test: ConnectionTestJob };

/** What a worker answers for a job; failures travel as plain data (the catalogue code), not as thrown errors. */
export type ExecutionJobResult = ({ ok: true; data: unknown } | { ok: false; error: ErrorData }) & {
  meta: ApiExecutionMeta;
  /** Id of the worker that ran it. */
  worker?: string;
};

/** The tenant and id of a job, whichever its kind. */
export function jobOwner(job: ExecutionJobData): { tenantId: string; id: string } {
  const { tenantId, id } = job.kind === 'execute' ? job.execution : job.test;
  return { tenantId, id };
}
