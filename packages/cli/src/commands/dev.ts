import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Connector } from '@businessos/connector-sdk';
import { startDevServer } from '@businessos/connector-sdk/testing';
import { loadConnector } from '../bundle.ts';
import { usageError } from '../cli-error.ts';
import { defineCommand } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { readPackage } from '../package-info.ts';

/** `bos-connector dev [dir]`: starts the simulator (mock API from fixtures, local OAuth provider, console) until Ctrl-C. */
export const devCommand = defineCommand({
  name: 'dev',
  summary: 'Start the local simulator (mock API from fixtures, OAuth2 provider, JSON console) and print its URLs; Ctrl-C stops',
  configure(cmd) {
    cmd
      .argument('[dir]', 'connector package folder', '.')
      .option('--port <port>', 'mock API port on 127.0.0.1; OAuth provider on port+1, console on port+2; 0 picks free ports', '4010')
      .option('--fields <json>', 'connection fields as a JSON object, e.g. {"shop":"my-store"}');
  },
  async run({ args, options }, ctx) {
    const port = Number(options.port);
    if (!Number.isInteger(port) || port < 0 || port > 65533) throw usageError(`--port ${String(options.port)} is not a usable port`, 'Pass a port between 1024 and 65533, or 0 for free ports.');
    let fields: Record<string, string> = {};
    if (typeof options.fields === 'string') {
      try {
        fields = JSON.parse(options.fields) as Record<string, string>;
      } catch (error) {
        throw usageError(`--fields is not valid JSON: ${(error as Error).message}`, 'Pass an object such as {"shop":"my-store"}.');
      }
    }
    const info = readPackage(args[0], ctx.cwd);
    const connector = (await loadConnector(info)) as unknown as Connector;
    const fixturesDir = join(info.dir, 'fixtures');
    ctx.output.err(`starting the simulator for ${connector.manifest.name}`);
    const server = await startDevServer({
      connector,
      port,
      fields,
      ...(existsSync(fixturesDir) ? { fixturesDir } : {}),
      // The command prints the URLs itself (stdout, for scripts); the simulator's own banner would repeat them.
      print: () => {},
    });
    for (const [label, url] of Object.entries(server.urls)) if (url) ctx.output.out(`${label.padEnd(10)} ${url}`);
    ctx.output.err('simulator running; press Ctrl-C to stop');
    await ctx.waitForInterrupt();
    await server.close();
    ctx.output.err('simulator stopped');
    return EXIT.OK;
  },
});
