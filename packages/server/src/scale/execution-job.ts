import type { ErrorData } from '@businessos/connector-sdk';
import type { ApiExecutionMeta, PreparedExecution } from '../execution/executions.ts';

/** What the API puts on the execution queue: the execution as prepared (row `queued`) by the API. */
export type ExecutionJobData = PreparedExecution;

/** What a worker answers for a job; failures travel as plain data (the catalogue code), not as thrown errors. */
export type ExecutionJobResult = ({ ok: true; data: unknown } | { ok: false; error: ErrorData }) & {
  meta: ApiExecutionMeta;
  /** Id of the worker that ran it. */
  worker?: string;
};
