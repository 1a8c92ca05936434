/**
 * Where commands write. Results go to `stdout` (machine-readable with `--json`), progress and errors to `stderr`,
 * so `bos-connector validate --json > report.json` stays clean. Tests pass their own sinks.
 */
export interface Output {
  /** A result line on stdout. */
  out(text: string): void;
  /** A progress or diagnostic line on stderr. */
  err(text: string): void;
}

/**
 * Exits quietly when the reader of stdout or stderr goes away (`bos-connector --help | head`), as Unix tools do,
 * instead of dying on an unhandled EPIPE with a stack trace.
 */
function exitOnBrokenPipe(stream: NodeJS.WriteStream): void {
  if (stream.listenerCount('error') > 0) return;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

/** The process's real streams. */
export function createProcessOutput(): Output {
  exitOnBrokenPipe(process.stdout);
  exitOnBrokenPipe(process.stderr);
  return {
    out: (text) => void process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => void process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  };
}

/** Collects output in memory; what tests use. */
export function createBufferOutput(): Output & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t) };
}

/** Prints a JSON document on stdout, pretty and with a trailing newline. */
export function printJson(output: Output, value: unknown): void {
  output.out(`${JSON.stringify(value, null, 2)}\n`);
}
