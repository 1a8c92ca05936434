import { usageError } from '../cli-error.ts';
import { defineCommand, type CommandDefinition } from '../command.ts';

function unavailable(name: string, summary: string, arrivesWith: string, configure: CommandDefinition['configure']): CommandDefinition {
  return defineCommand({
    name,
    summary: `${summary} (not available in this version: arrives with ${arrivesWith})`,
    configure,
    async run() {
      throw usageError(`\`${name}\` is not available in this version of bos-connector; it arrives with ${arrivesWith}`, 'Use `bos-connector pack` to produce the tarball you will publish, and update the CLI when that release is out.');
    },
  });
}

/** Slot for exporting a connector as an n8n community node. */
export const exportN8nCommand = unavailable('export-n8n', 'Export the connector as an n8n community node package', 'the n8n compatibility work', (cmd) => {
  cmd.argument('[dir]', 'connector package folder', '.');
});

/** Slot for importing an n8n node as a connector. */
export const importN8nCommand = unavailable('import-n8n', 'Create a connector package from an n8n node package', 'the n8n compatibility work', (cmd) => {
  cmd.argument('<source>', 'n8n node package folder or npm name');
});
