import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { toErrorData, type Connector, type Credentials } from '@businessos/connector-sdk';
import { runAction, type PlatformConfig } from '@businessos/connector-sdk/host';
import { createTestHarness } from '@businessos/connector-sdk/testing';
import { loadConnector, type LoadedConnector } from '../bundle.ts';
import { environmentError, usageError } from '../cli-error.ts';
import { defineCommand } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { connectorFromRegistry, defaultNpmCacheDir } from '../npm-source.ts';
import { printJson } from '../output.ts';
import { readPackage } from '../package-info.ts';

/** Environment variables `run --live` reads credentials from, and the credential each one sets. */
export const CREDENTIAL_ENV: Record<string, keyof Credentials> = {
  BOS_CRED_API_KEY: 'apiKey',
  BOS_CRED_TOKEN: 'token',
  BOS_CRED_USERNAME: 'username',
  BOS_CRED_PASSWORD: 'password',
  BOS_CRED_ACCESS_TOKEN: 'accessToken',
  BOS_CRED_REFRESH_TOKEN: 'refreshToken',
};

function parseJsonOption(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw usageError(`${what} is not valid JSON: ${(error as Error).message}`, `Quote it for the shell, e.g. ${what} '{"email":"ada@example.com"}'.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw usageError(`${what} must be a JSON object`, 'Pass an object such as {"id":"123"}.');
  return value as Record<string, unknown>;
}

function readJsonFile(path: string, what: string): Record<string, unknown> {
  if (!existsSync(path)) throw environmentError(`${what} ${path} does not exist`, 'Check the path.');
  return parseJsonOption(readFileSync(path, 'utf8'), `${what} ${path}`);
}

/**
 * Credentials for `--live`: `--credentials-file` (a JSON object with apiKey/token/username/password/accessToken/
 * refreshToken/fields), overridden by `BOS_CRED_*` variables; `BOS_CRED_FIELD_<NAME>` sets connection field `<name>`.
 */
export function credentialsFrom(env: Readonly<Record<string, string | undefined>>, file?: Record<string, unknown>): Credentials {
  const creds: Credentials = { ...(file as Credentials | undefined) };
  for (const [name, key] of Object.entries(CREDENTIAL_ENV)) {
    const value = env[name];
    if (value !== undefined && value !== '') (creds as Record<string, unknown>)[key] = value;
  }
  const fields: Record<string, string> = { ...(creds.fields ?? {}) };
  for (const [name, value] of Object.entries(env)) {
    const m = /^BOS_CRED_FIELD_(.+)$/.exec(name);
    if (m?.[1] && value !== undefined) fields[m[1].toLowerCase()] = value;
  }
  if (Object.keys(fields).length > 0) creds.fields = fields;
  return creds;
}

/** Platform config (`config.client_id` references) from `BOS_CONFIG_<KEY>` variables: `BOS_CONFIG_CLIENT_ID` → `client_id`. */
export function platformConfigFrom(env: Readonly<Record<string, string | undefined>>): PlatformConfig {
  const config: PlatformConfig = {};
  for (const [name, value] of Object.entries(env)) {
    const m = /^BOS_CONFIG_(.+)$/.exec(name);
    if (m?.[1]) config[m[1].toLowerCase()] = value;
  }
  return config;
}

/** `bos-connector run <action> --params JSON`: one action, against the simulator (default) or the live API. */
export const runCommand = defineCommand({
  name: 'run',
  summary: 'Run one action locally: against the simulator (fixtures) by default, or --live with real credentials',
  configure(cmd) {
    cmd
      .argument('<action>', 'action name, e.g. createContact')
      .option('-p, --params <json>', 'action params as a JSON object', '{}')
      .option('--params-file <file>', 'read params from a JSON file')
      .option('--fields <json>', 'connection fields as a JSON object, e.g. {"shop":"my-store"}')
      .option('--credentials-file <file>', 'credentials JSON for --live (apiKey, token, username, password, accessToken, refreshToken, fields)')
      .option('--fixtures <dir>', 'fixtures folder for the simulator (default <dir>/fixtures)')
      .option('--live', 'call the real API; credentials from --credentials-file and BOS_CRED_* variables')
      .option('-C, --dir <dir>', 'connector package folder', '.')
      .option('--package <name@version>', 'run a connector installed from an npm registry instead of a local folder (verified: sha512 integrity and the bundle sha256)')
      .option('--registry <url>', 'npm registry for --package (default BOS_NPM_REGISTRY; token from BOS_NPM_TOKEN)')
      .option('--cache <dir>', 'where --package keeps verified bundles (default ~/.cache/bos-connector/npm)')
      .addHelpText(
        'after',
        `\nCredentials for --live (the host applies them; connector code never sees them):\n${Object.entries(CREDENTIAL_ENV).map(([k, v]) => `  ${k.padEnd(24)} ${v}`).join('\n')}\n  BOS_CRED_FIELD_<NAME>    connection field <name> (e.g. BOS_CRED_FIELD_SHOP)\n  BOS_CONFIG_<KEY>         platform config referenced as config.<key> (OAuth client id/secret)`,
      );
  },
  async run({ args, options }, ctx) {
    const action = args[0] ?? '';
    const fromNpm = typeof options.package === 'string';
    const info = fromNpm ? undefined : readPackage(options.dir as string, ctx.cwd);
    const params = typeof options.paramsFile === 'string' ? readJsonFile(resolve(ctx.cwd, options.paramsFile), '--params-file') : parseJsonOption(String(options.params), '--params');
    const fields = typeof options.fields === 'string' ? (parseJsonOption(options.fields, '--fields') as Record<string, string>) : {};
    const fileCreds = typeof options.credentialsFile === 'string' ? readJsonFile(resolve(ctx.cwd, options.credentialsFile), '--credentials-file') : undefined;
    let loaded: LoadedConnector;
    if (info) loaded = await loadConnector(info);
    else {
      if (!options.live && typeof options.fixtures !== 'string') throw usageError('a connector from npm has no fixtures folder', 'Pass --fixtures <dir> for the simulator, or --live.');
      const cacheDir = typeof options.cache === 'string' ? resolve(ctx.cwd, options.cache) : defaultNpmCacheDir(ctx.env);
      const installed = await connectorFromRegistry({ spec: String(options.package), registry: (options.registry as string | undefined) ?? ctx.env.BOS_NPM_REGISTRY, token: ctx.env.BOS_NPM_TOKEN, cacheDir });
      const a = installed.artifact;
      ctx.output.err(`${a.source === 'cache' ? 'using cached' : 'installed'} ${a.package}@${a.version} (bundle sha256 ${a.sha256}, verified)`);
      loaded = installed.connector;
    }
    const connector = loaded as unknown as Connector;
    const names = connector.manifest.actions.map((a) => a.name);
    if (!names.includes(action)) throw usageError(`connector ${connector.manifest.name} has no action "${action}"`, `Available actions: ${names.join(', ') || 'none'}.`);

    let result: unknown;
    try {
      if (options.live) {
        ctx.output.err(`running ${action} against the live API (${connector.manifest.baseUrl ?? 'absolute URLs'})`);
        result = await runAction(connector, action, params, { credentials: credentialsFrom(ctx.env, fileCreds), fields, config: platformConfigFrom(ctx.env) });
      } else {
        const fixturesDir = resolve(ctx.cwd, typeof options.fixtures === 'string' ? options.fixtures : join(info?.dir ?? ctx.cwd, 'fixtures'));
        if (!existsSync(fixturesDir)) throw environmentError(`fixtures folder ${fixturesDir} does not exist`, 'Create fixtures/*.json, pass --fixtures <dir>, or use --live.');
        ctx.output.err(`running ${action} against the simulator (fixtures from ${fixturesDir})`);
        const harness = await createTestHarness({ connector, fixturesDir, fields, ...(fileCreds ? { credentials: fileCreds as Credentials } : {}) });
        try {
          result = await harness.run(action, params);
        } finally {
          await harness.close();
        }
      }
    } catch (error) {
      if (error instanceof Error && error.name === 'CliError') throw error;
      const data = toErrorData(error);
      printJson(ctx.output, { ok: false, error: data });
      ctx.output.err(`error: ${action} failed with ${data.code}: ${data.message}${data.path ? ` (at ${data.path})` : ''}`);
      return EXIT.FINDINGS;
    }
    printJson(ctx.output, result);
    return EXIT.OK;
  },
});
