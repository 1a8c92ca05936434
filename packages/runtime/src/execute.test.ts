// The runtime's own handling of what a guest hands the host, with a scripted sandbox pool in place of a real one
// (no threads, no network): results with hostile keys, and the key/value store's limits.
import { ApiKeyAuth, ConnectorError, defineAction, defineConnector, defineTrigger, type ErrorData } from '@businessos/connector-sdk';
import { describe, expect, it } from 'vitest';
import { createMemoryArtifactStore } from './artifacts/artifact-store.ts';
import { createRuntime, type RuntimeConfig } from './execute.ts';
import type { SandboxHost, SandboxPool, SandboxResult } from './sandbox/types.ts';
import { createMemoryUsageSink } from './usage/usage.ts';
import { generateMasterKey } from './vault/master-key.ts';
import { createMemoryVaultStore } from './vault/memory-store.ts';
import { createVault } from './vault/vault.ts';

const connector = defineConnector({
  name: 'scripted', version: '1.0.0', baseUrl: 'https://api.example.com', auth: new ApiKeyAuth({ name: 'X-Api-Key' }),
  actions: [defineAction({ name: 'run', description: 'whatever the scripted pool does', output: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] }, async execute() { return { id: 'x' }; } })],
  triggers: [defineTrigger({
    name: 'feed', description: 'polled', output: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
    polling: { intervalSeconds: 60, dedupe: { by: 'id', path: '/id' }, async poll() { return { items: [], state: null }; } },
  })],
});

const STATS = { durationMs: 1, hostCalls: 0, logBytes: 0, resultBytes: 0, warm: false };

/** A pool whose guest is `script`: it gets the host the runtime built and answers the execution's result. */
function scriptedPool(script: (host: SandboxHost) => Promise<unknown>): SandboxPool {
  return {
    async run(_job, host): Promise<SandboxResult> {
      try {
        return { ok: true, value: await script(host), stats: STATS };
      } catch (error) {
        return { ok: false, error: error as ErrorData, stats: STATS };
      }
    },
    stats: () => ({ workers: 0, busyWorkers: 0, queued: 0, warmSandboxes: 0, executions: 0, violations: 0, workerRestarts: 0, quarantined: 0 }),
    quarantined: () => [],
    clearQuarantine: () => undefined,
    close: async () => undefined,
  };
}

async function runtimeWith(script: (host: SandboxHost) => Promise<unknown>, config: RuntimeConfig = {}, usage = createMemoryUsageSink()) {
  const vault = createVault({ store: createMemoryVaultStore(), masterKey: generateMasterKey() });
  // With a credential there is something to redact, so every value the guest returns is copied by the redactor.
  await vault.putCredentials('t1', 'conn-1', { apiKey: 'sk_live_scripted_0123456789' });
  const artifacts = createMemoryArtifactStore();
  artifacts.add({ name: 'scripted', version: '1.0.0', code: '/* scripted */', manifest: connector.manifest });
  const egress = { send: async () => ({ status: 200, headers: {}, data: null }), close: async () => undefined };
  return createRuntime({ sandbox: scriptedPool(script), vault, artifacts, usage, egress, config: { usage: { flushIntervalMs: 0 }, ...config } });
}

const target = { tenant: 't1', connector: 'scripted', version: '1.0.0', connection: { id: 'conn-1' } };

describe('results with a "__proto__" key', () => {
  it('reach the caller as a plain key, never as the prototype of the data (which would skip output validation)', async () => {
    // What the pool answers for a guest that returns such JSON: JSON.parse makes "__proto__" an own key.
    const runtime = await runtimeWith(async () => JSON.parse('{"id":"1","__proto__":{"admin":true,"items":[{"id":5}]}}'));
    const action = await runtime.execute<Record<string, unknown>>({ ...target, action: 'run' });
    expect(Object.getPrototypeOf(action.data)).toBe(Object.prototype);
    expect(action.data.admin).toBeUndefined();
    // A poll answer whose items hide in a prototype passes the output check (it sees no items) and must stay without them.
    const poll = await runtime.executeTrigger<Record<string, unknown>>({ ...target, trigger: 'feed', operation: 'poll' });
    expect(poll.data.items).toBeUndefined();
    await runtime.close();
  });
});

describe("the caller's result check (acceptResult)", () => {
  it('sees the result as the caller gets it, secrets redacted, and a refusal fails the execution and is metered as that error', async () => {
    const usage = createMemoryUsageSink();
    const runtime = await runtimeWith(async () => ({ id: 'echo sk_live_scripted_0123456789' }), {}, usage);
    const seen: unknown[] = [];
    const accepted = await runtime.execute({ ...target, action: 'run', acceptResult: (data) => void seen.push(data) });
    expect(accepted.data).toEqual({ id: 'echo [REDACTED]' });
    expect(seen).toEqual([{ id: 'echo [REDACTED]' }]);
    await expect(runtime.execute({ ...target, action: 'run', acceptResult: () => {
      throw new ConnectorError('INVALID_OUTPUT', 'The caller cannot store this result', { path: '/id' });
    } })).rejects.toMatchObject({ code: 'INVALID_OUTPUT', message: 'The caller cannot store this result', path: '/id' });
    await runtime.close();
    expect(usage.records.map((r) => [r.status, r.code])).toEqual([['ok', undefined], ['error', 'INVALID_OUTPUT']]);
  });
});

describe('the connection store', () => {
  const storeCall = (call: (host: SandboxHost) => Promise<unknown>) => async (host: SandboxHost) => {
    try {
      await call(host);
      return { id: 'stored' };
    } catch (error) {
      return { id: (error as ErrorData).code };
    }
  };

  it('refuses keys and values over their limits', async () => {
    const results: string[] = [];
    for (const call of [
      (host: SandboxHost) => host.storeSet!('k'.repeat(513), 1),
      (host: SandboxHost) => host.storeGet!('k'.repeat(513)),
      (host: SandboxHost) => host.storeSet!('big', 'x'.repeat(256 * 1024)),
      (host: SandboxHost) => host.storeSet!('fits', 'x'.repeat(1000)),
    ]) {
      const runtime = await runtimeWith(storeCall(call));
      results.push((await runtime.execute<{ id: string }>({ ...target, action: 'run' })).data.id);
      await runtime.close();
    }
    expect(results).toEqual(['PAYLOAD_TOO_LARGE', 'PAYLOAD_TOO_LARGE', 'PAYLOAD_TOO_LARGE', 'stored']);
  });

  it('bounds what one connection keeps in the built-in store across executions, and frees what is deleted', async () => {
    let round = 0;
    const runtime = await runtimeWith(storeCall(async (host) => {
      round += 1;
      if (round === 3) for (let i = 0; i < 8; i += 1) await host.storeDelete!(`r1-${i}`);
      for (let i = 0; i < 8; i += 1) await host.storeSet!(`r${round}-${i}`, 'x'.repeat(60 * 1024));
    }), { store: { maxBytes: 1024 * 1024, maxKeys: 100 } });
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i += 1) outcomes.push((await runtime.execute<{ id: string }>({ ...target, action: 'run' })).data.id);
    // 8 values of 60 KiB fit twice in 1 MiB, not three times; deleting the first eight makes room again.
    expect(outcomes).toEqual(['stored', 'stored', 'stored']);
    outcomes.length = 0;
    round = 10;
    outcomes.push((await runtime.execute<{ id: string }>({ ...target, action: 'run' })).data.id);
    expect(outcomes).toEqual(['PAYLOAD_TOO_LARGE']);
    await runtime.close();
  });

  it('quotes long keys in its refusals without cutting an emoji in two', async () => {
    // 40 and 100 code units into these keys is the first half of an emoji: a cut there leaves a lone surrogate, which
    // the service cannot record (the message ends up in the execution's error, in jsonb).
    const tooLong = `k${'🙂'.repeat(200)}`;
    const long = `k${'🙂'.repeat(60)}`;
    const refusals = async (config: RuntimeConfig, calls: ((host: SandboxHost) => Promise<unknown>)[]) => {
      const runtime = await runtimeWith(async (host) => {
        const messages: string[] = [];
        for (const call of calls) await call(host).catch((error: unknown) => messages.push((error as ErrorData).message));
        return { id: 'done', messages };
      }, config);
      const { messages } = (await runtime.execute<{ messages: string[] }>({ ...target, action: 'run' })).data;
      await runtime.close();
      return messages;
    };
    const messages = [
      ...(await refusals({}, [(host) => host.storeSet!(tooLong, 1), (host) => host.storeSet!(long, 'x'.repeat(256 * 1024))])),
      ...(await refusals({ store: { maxKeys: 1 } }, [(host) => host.storeSet!('a', 1), (host) => host.storeSet!(long, 1)])),
      ...(await refusals({ store: { maxBytes: 300 } }, [(host) => host.storeSet!(long, 'x'.repeat(100))])),
    ];
    expect(messages).toEqual([
      expect.stringContaining(`use short keys ("k${'🙂'.repeat(19)}...")`),
      expect.stringContaining(`store key "k${'🙂'.repeat(49)}" is`),
      expect.stringContaining(`before adding "k${'🙂'.repeat(49)}"`),
      expect.stringContaining(`Storing "k${'🙂'.repeat(49)}" would`),
    ]);
    for (const message of messages) expect(message).not.toMatch(/\p{Surrogate}/u);
  });

  it('bounds the number of keys of one connection', async () => {
    const runtime = await runtimeWith(storeCall(async (host) => {
      for (let i = 0; i < 101; i += 1) await host.storeSet!(`k${i}`, i);
    }), { store: { maxKeys: 100 } });
    expect((await runtime.execute<{ id: string }>({ ...target, action: 'run' })).data.id).toBe('PAYLOAD_TOO_LARGE');
    await runtime.close();
  });
});

describe('the tier a connector runs in', () => {
  const processConnector = defineConnector({
    name: 'noder', version: '1.0.0', baseUrl: 'https://api.example.com', auth: new ApiKeyAuth({ name: 'X-Api-Key' }), runtime: 'process',
    actions: [defineAction({ name: 'run', description: 'needs Node APIs', async execute() { return { id: 'n' }; } })],
  });

  async function tiers(withProcessPool: boolean) {
    const ran: string[] = [];
    const vault = createVault({ store: createMemoryVaultStore(), masterKey: generateMasterKey() });
    await vault.putCredentials('t1', 'conn-1', { apiKey: 'sk_live_tiers_0123456789' });
    const artifacts = createMemoryArtifactStore();
    artifacts.add({ name: 'scripted', version: '1.0.0', code: '/* sandbox */', manifest: connector.manifest });
    artifacts.add({ name: 'noder', version: '1.0.0', code: '/* process */', manifest: processConnector.manifest });
    const egress = { send: async () => ({ status: 200, headers: {}, data: null }), close: async () => undefined };
    const runtime = createRuntime({
      sandbox: scriptedPool(async () => (ran.push('sandbox'), { id: 's' })),
      ...(withProcessPool ? { processPool: scriptedPool(async () => (ran.push('process'), { id: 'p' })) } : {}),
      vault, artifacts, usage: createMemoryUsageSink(), egress, config: { usage: { flushIntervalMs: 0 } },
    });
    return { runtime, ran };
  }

  it('runs a connector whose manifest says runtime "process" in the process pool, and the others in the sandbox', async () => {
    const { runtime, ran } = await tiers(true);
    expect((await runtime.execute({ ...target, connector: 'noder', action: 'run' })).data).toEqual({ id: 'p' });
    expect((await runtime.execute({ ...target, action: 'run' })).data).toEqual({ id: 's' });
    expect(ran).toEqual(['process', 'sandbox']);
    await runtime.close();
  });

  it('refuses a process-tier connector with FORBIDDEN when the runtime has no process pool, never running it in the sandbox', async () => {
    const { runtime, ran } = await tiers(false);
    await expect(runtime.execute({ ...target, connector: 'noder', action: 'run' })).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('process tier') });
    expect(ran).toEqual([]);
    await runtime.close();
  });
});
