import type { ErrorCode } from '@businessos/connector-sdk';
import { EXIT, type ExitCode } from './exit-codes.ts';

/**
 * An expected failure of a command: printed as `error: <message>` plus a hint, never with a stack trace.
 * `exitCode` comes from {@link EXIT}; `code` is the matching entry of the SDK's error catalogue
 * (`INVALID_INPUT` for usage errors and findings, `INTERNAL` for environment failures).
 */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(message: string, options: { exitCode?: ExitCode; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = options.exitCode ?? EXIT.ENVIRONMENT;
    this.code = this.exitCode === EXIT.ENVIRONMENT ? 'INTERNAL' : 'INVALID_INPUT';
    this.hint = options.hint;
  }
}

/** A usage error (exit 2). */
export function usageError(message: string, hint?: string): CliError {
  return new CliError(message, { exitCode: EXIT.USAGE, hint });
}

/** An environment or I/O error (exit 3). */
export function environmentError(message: string, hint?: string, cause?: unknown): CliError {
  return new CliError(message, { exitCode: EXIT.ENVIRONMENT, hint, cause });
}
