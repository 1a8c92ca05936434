import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { ConnectorError } from '@businessos/connector-sdk';

/** The import of the SDK's host helpers in src/runtime/n8n-runtime.ts, as the exported package must not have it. */
export const SDK_HOST_SPECIFIER = "from '@businessos/connector-sdk/host'";

/** The same import in the exported package's nodes/<Name>/shared/runtime.ts: the vendored bundle. */
export const VENDORED_SDK_HOST_SPECIFIER = "from '../../../vendor/sdk-host'";

/**
 * Types of vendor/sdk-host.js in the exported package. They restate the signatures of the SDK's `fillTemplate`,
 * `resolveRequestUrl`, `assertUrlAllowed` and `encodeForm`; the lint test typechecks the runtime against them and the bundle's unit test
 * checks the bundle exports exactly these functions.
 */
export const SDK_HOST_TYPES = `// Types of the vendored @businessos/connector-sdk host helpers (sdk-host.js): URL templates, request URLs, the
// declared-host check and form bodies, the same code the BusinessOS runtime uses.
export declare function fillTemplate(template: string, fields: Record<string, string>, what?: string): string;
export declare function resolveRequestUrl(manifest: { name: string; baseUrl?: string }, fields: Record<string, string>, url: string, query?: Record<string, string | number | boolean | null | undefined | Array<string | number | boolean>>, baseUrlOverride?: string): URL;
export declare function assertUrlAllowed(manifest: { name: string; hosts: string[] }, fields: Record<string, string>, url: URL, options?: { anyPort?: boolean; allowHttp?: boolean }): void;
export declare function encodeForm(value: unknown): string;
`;

/** The names vendor/sdk-host.js exports. */
export const SDK_HOST_EXPORTS = ['assertUrlAllowed', 'encodeForm', 'fillTemplate', 'resolveRequestUrl'] as const;

/**
 * Bundles the SDK's URL and form helpers into one ESM module for an exported package (vendor/sdk-host.js). It
 * takes the two source files the host entry re-exports them from, not the whole entry, so the bundle carries no
 * schema validator or OAuth code: only url.ts, form.ts and the error class they throw.
 */
export async function bundleSdkHost(): Promise<string> {
  const hostDir = dirname(fileURLToPath(import.meta.resolve('@businessos/connector-sdk/host')));
  const contents = `export { encodeForm } from ${JSON.stringify(join(hostDir, 'form.ts'))};\nexport { assertUrlAllowed, fillTemplate, resolveRequestUrl } from ${JSON.stringify(join(hostDir, 'url.ts'))};\n`;
  try {
    const result = await esbuild.build({
      stdin: { contents, resolveDir: hostDir, sourcefile: 'sdk-host.ts', loader: 'ts' },
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      charset: 'utf8',
      legalComments: 'none',
      logLevel: 'silent',
    });
    const file = result.outputFiles[0];
    if (!file) throw new ConnectorError('INTERNAL', 'esbuild produced no output for the SDK host helpers');
    return `// @businessos/connector-sdk host helpers (url.ts, form.ts), bundled by bos-connector export-n8n.\n${file.text}`;
  } catch (error) {
    if (error instanceof ConnectorError) throw error;
    throw new ConnectorError('INTERNAL', `Bundling the SDK host helpers from ${hostDir} failed: ${(error as Error).message}`);
  }
}
