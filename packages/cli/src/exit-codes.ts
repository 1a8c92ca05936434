/**
 * Exit codes every `bos-connector` command uses. Scripts may rely on them; they never change meaning.
 */
export const EXIT = {
  /** The command did what was asked. */
  OK: 0,
  /** The command ran, and found problems: lint findings, validation issues, failing tests, an action error. */
  FINDINGS: 1,
  /** The command line was wrong: unknown option, missing argument, bad name, refusing to overwrite. */
  USAGE: 2,
  /** The environment failed: a file could not be read or written, a bundle did not build, a tool is missing. */
  ENVIRONMENT: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The table printed at the end of `bos-connector --help`. */
export const EXIT_CODE_HELP = `Exit codes:
  0  success
  1  findings: lint findings, manifest issues, failing tests, an action returned an error
  2  usage error: bad arguments or options, invalid name, refusing to overwrite, command not available
  3  environment or I/O error: unreadable package, build failure, missing file or tool`;
