import { isConnector, toErrorData, type Connector, type ExecutionEnv, type KeyValueStore } from '@businessos/connector-sdk';
import type { SandboxHost, SandboxJob, SandboxPool, SandboxResult } from '../sandbox/types.ts';

/**
 * TEST DOUBLE, never for production: a {@link SandboxPool} that calls connector objects directly in this
 * process, with no isolation at all. It lets runtime tests exercise the host side (vault, egress, retries,
 * limits, metering) without worker threads. Values are JSON-copied at the boundary like the real pool does.
 */
export function createInProcessPool(connectors: Record<string, Connector>): SandboxPool & { jobs: SandboxJob[] } {
  const jobs: SandboxJob[] = [];
  const copy = (v: unknown): unknown => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
  return {
    jobs,
    async run(job: SandboxJob, host: SandboxHost): Promise<SandboxResult> {
      jobs.push(job);
      const started = Date.now();
      const stats = () => ({ durationMs: Date.now() - started, hostCalls: 0, logBytes: 0, resultBytes: 0, warm: false });
      const connector = connectors[job.bundle.key];
      if (!connector || !isConnector(connector)) return { ok: false, error: { code: 'SANDBOX_CRASH', message: `in-process pool has no connector ${job.bundle.key}` }, stats: stats() };
      const store: KeyValueStore = {
        get: async <T>(key: string) => copy(await host.storeGet?.(key)) as T | undefined,
        set: async (key, value) => host.storeSet?.(key, copy(value)),
        delete: async (key) => host.storeDelete?.(key),
      };
      const env: ExecutionEnv = {
        transport: async (req) => copy(await host.request(copy(req) as never)) as never,
        log: (level, message, data) => host.log(level, message, copy(data)),
        connection: { fields: { ...(job.connection?.fields ?? {}) } },
        store,
      };
      try {
        const call = job.call;
        let value: unknown;
        if (call.kind === 'action') value = await connector.executeAction(call.action, copy(call.params), env);
        else if (call.kind === 'trigger') value = await connector.executeTrigger(call.trigger, call.operation, copy(call.input), env);
        else if (call.kind === 'transforms') {
          const outcomes: unknown[] = [];
          for (const input of call.inputs) {
            try {
              outcomes.push({ ok: true, value: (await connector.executeTrigger(call.trigger, 'transform', copy(input), env)) ?? null });
            } catch (error) {
              outcomes.push({ ok: false, error: toErrorData(error) });
            }
          }
          value = outcomes;
        } else if (call.kind === 'authenticate') value = await connector.authenticate(env);
        else value = connector.manifest;
        return { ok: true, value: copy(value) ?? null, stats: stats() };
      } catch (error) {
        return { ok: false, error: toErrorData(error), stats: stats() };
      }
    },
    stats: () => ({ workers: 0, busyWorkers: 0, queued: 0, warmSandboxes: 0, executions: jobs.length, violations: 0, workerRestarts: 0, quarantined: 0 }),
    quarantined: () => [],
    clearQuarantine: () => undefined,
    close: async () => undefined,
  };
}
