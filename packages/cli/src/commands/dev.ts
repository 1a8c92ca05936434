import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Connector } from '@businessos/connector-sdk';
import * as testing from '@businessos/connector-sdk/testing';
import { loadConnector } from '../bundle.ts';
import { environmentError } from '../cli-error.ts';
import { defineCommand } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { readPackage } from '../package-info.ts';

interface DevServer {
  close(): Promise<void>;
  [key: string]: unknown;
}

type StartDevServer = (options: { connector: Connector; fixturesDir?: string; port?: number }) => Promise<DevServer>;

function urlsOf(server: DevServer): [string, string][] {
  const out: [string, string][] = [];
  const visit = (value: unknown, label: string) => {
    if (typeof value === 'string' && /^https?:\/\//.test(value)) out.push([label, value]);
    else if (value && typeof value === 'object' && !Array.isArray(value) && label.split('.').length < 3) {
      for (const [k, v] of Object.entries(value)) visit(v, label ? `${label}.${k}` : k);
    }
  };
  visit(server, '');
  return out;
}

/** `bos-connector dev [dir]`: starts the simulator (mock API from fixtures, local OAuth provider) until Ctrl-C. */
export const devCommand = defineCommand({
  name: 'dev',
  summary: 'Start the local simulator (mock API from fixtures, OAuth2 provider) and print its URLs; Ctrl-C stops',
  configure(cmd) {
    cmd.argument('[dir]', 'connector package folder', '.').option('--port <port>', 'port of the dev server on 127.0.0.1 (default: a free one)');
  },
  async run({ args, options }, ctx) {
    const start = (testing as unknown as { startDevServer?: StartDevServer }).startDevServer;
    if (typeof start !== 'function') {
      throw environmentError('this SDK version has no startDevServer in @businessos/connector-sdk/testing', 'Update @businessos/connector-sdk; meanwhile `bos-connector test` and `run` use the simulator.');
    }
    const info = readPackage(args[0], ctx.cwd);
    const connector = (await loadConnector(info)) as unknown as Connector;
    const fixturesDir = join(info.dir, 'fixtures');
    const port = options.port === undefined ? undefined : Number(options.port);
    ctx.output.err(`starting the simulator for ${connector.manifest.name}`);
    const server = await start({ connector, ...(existsSync(fixturesDir) ? { fixturesDir } : {}), ...(port === undefined ? {} : { port }) });
    for (const [label, url] of urlsOf(server)) ctx.output.out(`${label.padEnd(20)} ${url}`);
    ctx.output.err('simulator running; press Ctrl-C to stop');
    await ctx.waitForInterrupt();
    await server.close();
    ctx.output.err('simulator stopped');
    return EXIT.OK;
  },
});
