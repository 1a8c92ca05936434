import { Command, CommanderError } from 'commander';
import { CliError } from './cli-error.ts';
import type { CommandContext, CommandDefinition } from './command.ts';
import { COMMANDS } from './commands/index.ts';
import { EXIT, EXIT_CODE_HELP } from './exit-codes.ts';
import { createProcessOutput, type Output } from './output.ts';

/** Dependencies of {@link main}; tests replace them. */
export interface MainOptions {
  output?: Output;
  cwd?: string;
  env?: Record<string, string | undefined>;
  interactive?: boolean;
  /** Resolves to stop long-running commands; defaults to waiting for SIGINT/SIGTERM. */
  waitForInterrupt?: () => Promise<void>;
}

function signalPromise(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** Prints a failure as `error: ...` plus what to do next, and returns its exit code. */
export function reportError(output: Output, error: unknown): number {
  if (error instanceof CliError) {
    output.err(`error: ${error.message}`);
    if (error.hint) output.err(`  next: ${error.hint}`);
    return error.exitCode;
  }
  const err = error as Error;
  output.err(`error: unexpected failure: ${err?.stack ?? String(error)}`);
  output.err('  next: this is a bug in bos-connector; please report it with the command you ran.');
  return EXIT.ENVIRONMENT;
}

/** Builds the commander program with every command registered. */
export function createProgram(ctx: CommandContext, commands: CommandDefinition[], setCode: (code: number) => void): Command {
  const program = new Command('bos-connector')
    .description('Build BusinessOS connectors: scaffold, validate, lint, test, build, document, run and pack them.')
    .version('0.1.0', '-v, --version')
    .addHelpText('after', `\n${EXIT_CODE_HELP}\n\nRun "bos-connector <command> --help" for a command's options.`)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => ctx.output.out(s), writeErr: (s) => ctx.output.err(s) })
    .exitOverride();
  for (const def of commands) {
    const sub = program.command(def.name).summary(def.summary).description(def.summary);
    def.configure(sub);
    sub.exitOverride();
    sub.configureOutput({ writeOut: (s) => ctx.output.out(s), writeErr: (s) => ctx.output.err(s) });
    sub.action(async (...received: unknown[]) => {
      const command = received[received.length - 1] as Command;
      const args = command.args.slice(0, command.registeredArguments.length).filter((a): a is string => typeof a === 'string');
      setCode(await def.run({ args, options: command.opts() }, ctx));
    });
  }
  return program;
}

/**
 * Runs `bos-connector` with the given arguments (without `node` and the script) and returns the exit code.
 * Never throws and never calls `process.exit`.
 */
export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  const output = options.output ?? createProcessOutput();
  const ctx: CommandContext = {
    output,
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? { ...process.env },
    interactive: options.interactive ?? Boolean(process.stdin.isTTY),
    waitForInterrupt: options.waitForInterrupt ?? signalPromise,
  };
  let code: number = EXIT.OK;
  const program = createProgram(ctx, COMMANDS, (c) => { code = c; });
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.USAGE;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return EXIT.OK;
      return error.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    return reportError(output, error);
  }
}
