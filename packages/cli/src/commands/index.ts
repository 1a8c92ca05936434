import type { CommandDefinition } from '../command.ts';
import { buildCommand } from './build.ts';
import { demoCommand } from './demo.ts';
import { devCommand } from './dev.ts';
import { docsCommand } from './docs.ts';
import { initCommand } from './init.ts';
import { lintCommand } from './lint.ts';
import { packCommand } from './pack.ts';
import { runCommand } from './run.ts';
import { testCommand } from './test.ts';
import { publishCommand } from './publish.ts';
import { exportN8nCommand, importN8nCommand } from './n8n.ts';
import { validateCommand } from './validate.ts';

/** Every command, in the order `--help` lists them. */
export const COMMANDS: CommandDefinition[] = [
  initCommand,
  validateCommand,
  lintCommand,
  testCommand,
  buildCommand,
  docsCommand,
  runCommand,
  packCommand,
  devCommand,
  demoCommand,
  publishCommand,
  exportN8nCommand,
  importN8nCommand,
];
