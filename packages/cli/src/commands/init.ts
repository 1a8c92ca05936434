import { relative, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { usageError } from '../cli-error.ts';
import { defineCommand } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { checkName, scaffoldFiles, writeScaffold } from '../scaffold.ts';
import { findTemplate, TEMPLATES } from '../templates/index.ts';

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

const templateList = () => TEMPLATES.map((t) => `  ${t.id.padEnd(10)} ${t.summary}`).join('\n');

/** `bos-connector init <name> --template=<id> [--dir <folder>]`: scaffolds a connector package whose checks pass at once. */
export const initCommand = defineCommand({
  name: 'init',
  summary: 'Scaffold a connector package (connector, one file per action/trigger, fixtures, tests, README)',
  configure(cmd) {
    cmd
      .argument('[name]', 'connector name: lower case, [a-z][a-z0-9-]*')
      .option('-t, --template <template>', `one of ${TEMPLATES.map((t) => t.id).join(', ')}`)
      .option('-d, --dir <folder>', 'folder to create (default ./<name>)')
      .addHelpText('after', `\nTemplates:\n${templateList()}\n\nPrompts for missing values only when run in a terminal.`);
  },
  async run({ args, options }, ctx) {
    let name = args[0];
    if (name === undefined) {
      if (!ctx.interactive) throw usageError('missing the connector name', 'Run `bos-connector init <name> --template=<template>`.');
      name = await ask('Connector name (lower case, e.g. acme): ');
    }
    const problem = checkName(name);
    if (problem) throw usageError(`invalid connector name: ${problem}`, 'Use lower-case letters, digits and hyphens, starting with a letter (e.g. acme-crm).');

    let templateId = typeof options.template === 'string' ? options.template : undefined;
    if (templateId === undefined) {
      if (!ctx.interactive) {
        throw usageError('missing --template', `Pass --template=<id>, one of:\n${templateList()}`);
      }
      ctx.output.err(`Templates:\n${templateList()}`);
      templateId = (await ask('Template [rest]: ')) || 'rest';
    }
    const template = findTemplate(templateId);
    if (!template) throw usageError(`unknown template "${templateId}"`, `Choose one of:\n${templateList()}`);

    const dir = resolve(ctx.cwd, typeof options.dir === 'string' ? options.dir : name);
    const written = writeScaffold(dir, scaffoldFiles(template, name));
    const shown = relative(ctx.cwd, dir) || '.';
    for (const file of written) ctx.output.err(`  created ${shown}/${file}`);
    ctx.output.out(`Created the ${template.id} connector "${name}" in ${shown}.`);
    ctx.output.out(`Next:\n  cd ${shown}\n  bos-connector test && bos-connector lint && bos-connector build`);
    return EXIT.OK;
  },
});
