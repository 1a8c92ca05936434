import { ConnectorError } from '@businessos/connector-sdk';
import type { Redis } from 'ioredis';

/** Shape of a token bucket: `burst` requests at once, refilled at `perSecond`. */
export interface TokenBucketConfig {
  /** Bucket size: how many requests may arrive at once. */
  burst: number;
  /** Tokens added per second (the sustained rate). */
  perSecond: number;
}

export interface RateDecision {
  allowed: boolean;
  /** Seconds until one token is available again (0 when allowed). */
  retryAfterSeconds: number;
}

/** A per-key rate limiter (the key is an endpoint id). */
export interface RateLimiter {
  /** Takes one token from `key`'s bucket at time `now` (epoch ms). */
  take(key: string, now: number): Promise<RateDecision>;
}

function assertConfig(config: TokenBucketConfig): void {
  if (!(config.burst >= 1) || !(config.perSecond > 0)) {
    throw new ConnectorError('INVALID_INPUT', `token bucket needs burst >= 1 and perSecond > 0 (got burst ${config.burst}, perSecond ${config.perSecond}); fix the ingress rate-limit configuration`);
  }
}

export interface MemoryRateLimiterOptions extends TokenBucketConfig {
  /** Most buckets kept; the least recently used go first (default 100 000). */
  maxKeys?: number;
}

/** In-process token buckets, one per key; for a single instance or tests. */
export function createMemoryRateLimiter(options: MemoryRateLimiterOptions): RateLimiter {
  assertConfig(options);
  const { burst, perSecond } = options;
  const maxKeys = options.maxKeys ?? 100_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    async take(key, now) {
      const b = buckets.get(key) ?? { tokens: burst, at: now };
      buckets.delete(key);
      const tokens = Math.min(burst, b.tokens + (Math.max(0, now - b.at) / 1000) * perSecond);
      const allowed = tokens >= 1;
      const left = allowed ? tokens - 1 : tokens;
      buckets.set(key, { tokens: left, at: Math.max(now, b.at) });
      while (buckets.size > maxKeys) {
        const oldest = buckets.keys().next().value;
        if (oldest === undefined) break;
        buckets.delete(oldest);
      }
      return { allowed, retryAfterSeconds: allowed ? 0 : Math.ceil((1 - left) / perSecond) };
    },
  };
}

// KEYS[1] bucket; ARGV: burst, perSecond, now (ms). Returns {allowed 0|1, tokens*1000 left}.
const TAKE_SCRIPT = `
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil then tokens = burst; at = now end
if now > at then tokens = math.min(burst, tokens + (now - at) / 1000 * rate); at = now end
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, math.floor(tokens * 1000)}
`;

export interface RedisRateLimiterOptions extends TokenBucketConfig {
  redis: Redis;
  /** Key prefix (default `bos:triggers:rate:`). */
  prefix?: string;
}

/**
 * Token buckets in Redis, shared by every instance: one hash per key updated by a Lua script, so a take is atomic.
 * Buckets expire once they would be full again.
 */
export function createRedisRateLimiter(options: RedisRateLimiterOptions): RateLimiter {
  assertConfig(options);
  const { redis, burst, perSecond } = options;
  const prefix = options.prefix ?? 'bos:triggers:rate:';
  return {
    async take(key, now) {
      const [allowed, milliTokens] = (await redis.eval(TAKE_SCRIPT, 1, `${prefix}${key}`, burst, perSecond, Math.floor(now))) as [number, number];
      const left = milliTokens / 1000;
      return { allowed: allowed === 1, retryAfterSeconds: allowed === 1 ? 0 : Math.ceil((1 - left) / perSecond) };
    },
  };
}
