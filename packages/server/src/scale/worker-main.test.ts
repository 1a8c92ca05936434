import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { workerConfigProblem } from './worker-main.ts';

describe('npm run worker configuration', () => {
  const complete = { REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://db/bos', BOS_MASTER_KEY: 'ab'.repeat(32) };

  it('starts with Redis, PostgreSQL and the master key', () => {
    expect(workerConfigProblem(loadConfig(complete))).toBeUndefined();
  });

  it('says which setting is missing and why', () => {
    expect(workerConfigProblem(loadConfig({ ...complete, REDIS_URL: '' }))).toMatch(/^REDIS_URL is not set: workers consume the execution queue/);
    expect(workerConfigProblem(loadConfig({ ...complete, DATABASE_URL: '' }))).toMatch(/^DATABASE_URL is not set: .*embedded store belongs to one process/);
    expect(workerConfigProblem(loadConfig({ ...complete, BOS_MASTER_KEY: '' }))).toMatch(/^BOS_MASTER_KEY is not set/);
  });

  it('reads the scale-out settings with their defaults', () => {
    const config = loadConfig(complete);
    expect(config).toMatchObject({ redisPrefix: 'bos', apiWorker: true, limits: { executionsPerTenant: 5, executionsTotal: 10, executionWaitSeconds: 60 } });
    expect(loadConfig({ ...complete, BOS_API_WORKER: '0', BOS_REDIS_PREFIX: 'staging' })).toMatchObject({ apiWorker: false, redisPrefix: 'staging' });
    expect(() => loadConfig({ BOS_API_WORKER: 'yes', BOS_REDIS_PREFIX: 'a b', BOS_EXECUTIONS_PER_TENANT: '0' })).toThrow(/BOS_REDIS_PREFIX[\s\S]*BOS_API_WORKER[\s\S]*BOS_EXECUTIONS_PER_TENANT/);
  });
});
