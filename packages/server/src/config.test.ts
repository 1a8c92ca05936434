import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('applies defaults on an empty environment', () => {
    const config = loadConfig({}, '/srv/app');
    expect(config).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: undefined,
      redisUrl: undefined,
      masterKey: undefined,
      dataDir: path.resolve('/srv/app', 'data'),
      publicUrl: 'http://localhost:3000',
      logLevel: 'info',
    });
    expect(config.limits.bodyBytes).toBe(1024 * 1024);
  });

  it('reads every variable', () => {
    const key = Buffer.alloc(32, 7);
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://u@db:5432/bos',
      REDIS_URL: 'redis://cache:6379',
      BOS_MASTER_KEY: key.toString('base64'),
      BOS_DATA_DIR: '/var/bos',
      BOS_PUBLIC_URL: 'https://bos.example.com/',
      BOS_BODY_LIMIT: '2048',
      BOS_LOG_LEVEL: 'warn',
    });
    expect(config.port).toBe(8080);
    expect(config.host).toBe('127.0.0.1');
    expect(config.databaseUrl).toBe('postgres://u@db:5432/bos');
    expect(config.redisUrl).toBe('redis://cache:6379');
    expect(config.masterKey?.equals(key)).toBe(true);
    expect(config.dataDir).toBe('/var/bos');
    expect(config.publicUrl).toBe('https://bos.example.com');
    expect(config.limits.bodyBytes).toBe(2048);
    expect(config.logLevel).toBe('warn');
  });

  it('accepts a hex master key', () => {
    const config = loadConfig({ BOS_MASTER_KEY: 'ab'.repeat(32) });
    expect(config.masterKey?.length).toBe(32);
  });

  it('reports every invalid variable at once, naming each', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', BOS_MASTER_KEY: 'short', BOS_LOG_LEVEL: 'loud', REDIS_URL: 'not a url' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.map((i) => i.variable);
    expect(issues).toEqual(['PORT', 'DATABASE_URL', 'REDIS_URL', 'BOS_MASTER_KEY', 'BOS_LOG_LEVEL']);
    expect((error as ConfigError).message).toContain('PORT: "eighty" is not a whole number');
  });

  it('reads OAuth apps as JSON and rejects a bad shape', () => {
    expect(loadConfig({ BOS_OAUTH_APPS: '{"shopify":{"client_id":"abc"}}' }).oauthApps).toEqual({ shopify: { client_id: 'abc' } });
    expect(() => loadConfig({ BOS_OAUTH_APPS: '{"shopify":{"client_id":1}}' })).toThrow(/BOS_OAUTH_APPS: must map/);
    expect(() => loadConfig({ BOS_OAUTH_APPS: '{nope' })).toThrow(/BOS_OAUTH_APPS: is not valid JSON/);
  });

  it('reads the npm registry settings and refuses incomplete ones', () => {
    expect(loadConfig({}).npm).toBeUndefined();
    expect(loadConfig({ BOS_NPM_REGISTRY: 'http://127.0.0.1:4873', BOS_NPM_TOKEN: 't0k', BOS_NPM_SCOPE: '@acme' }).npm).toEqual({ registry: 'http://127.0.0.1:4873/', token: 't0k', scope: '@acme' });
    expect(() => loadConfig({ BOS_NPM_REGISTRY: 'http://127.0.0.1:4873' })).toThrow(/BOS_NPM_TOKEN: is required/);
    expect(() => loadConfig({ BOS_NPM_TOKEN: 't0k' })).toThrow(/BOS_NPM_REGISTRY: is missing/);
    expect(() => loadConfig({ BOS_NPM_REGISTRY: 'ftp://x', BOS_NPM_TOKEN: 't' })).toThrow(/BOS_NPM_REGISTRY: uses ftp:/);
    expect(() => loadConfig({ BOS_NPM_REGISTRY: 'http://r', BOS_NPM_TOKEN: 't', BOS_NPM_SCOPE: 'acme' })).toThrow(/BOS_NPM_SCOPE/);
  });

  it('rejects an out-of-range port', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT/);
  });
});
