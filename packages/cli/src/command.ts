import type { Command } from 'commander';
import type { Output } from './output.ts';

/** What every command receives besides its parsed arguments. Built once in {@link main}. */
export interface CommandContext {
  output: Output;
  /** The folder commands resolve relative paths against. */
  cwd: string;
  /** Environment variables, read once at start-up (`BOS_CRED_*` for `run --live`). */
  env: Readonly<Record<string, string | undefined>>;
  /** True when stdin is a terminal: only then may a command prompt. */
  interactive: boolean;
  /** Resolves when the user asks to stop (Ctrl-C); long-running commands (`dev`) wait on it. Registers the handler lazily. */
  waitForInterrupt(): Promise<void>;
}

/** The parsed command line of one command: positional arguments and options. */
export interface Invocation {
  args: string[];
  options: Record<string, unknown>;
}

/**
 * A CLI command as a plain object (citty-style): its name, what it does, how its arguments are declared
 * on a commander {@link Command}, and `run`, which returns an exit code from `EXIT`.
 */
export interface CommandDefinition {
  name: string;
  summary: string;
  /** Declares arguments and options on the commander sub-command. */
  configure(command: Command): void;
  run(invocation: Invocation, ctx: CommandContext): Promise<number>;
}

/** Declares a command. Returns its argument. */
export function defineCommand(definition: CommandDefinition): CommandDefinition {
  return definition;
}
