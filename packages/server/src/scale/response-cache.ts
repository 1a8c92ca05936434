import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** What a write changed, for {@link ResponseCache.invalidate}. */
export interface Invalidation {
  /** The catalogue (listings, versions, deprecations, installs counts, ratings) changed: every entry goes. */
  catalog?: boolean;
  /** This tenant's installations changed: its entries go. */
  tenant?: string;
}

/** A read-through cache of responses, cleared by generation counters. */
export interface ResponseCache {
  /**
   * Answers `variant` for `tenant` (null: anonymous) from the cache, or computes it and stores it when `keep`
   * accepts the value. Never fails because of the cache: when Redis is unreachable it computes.
   */
  wrap<T>(entry: { tenant: string | null; variant: string }, compute: () => Promise<T>, keep?: (value: T) => boolean): Promise<T>;
  /** Makes every entry the change could affect unreachable at once, for every process sharing the Redis. */
  invalidate(change: Invalidation): Promise<void>;
  close(): Promise<void>;
}

/** The cache without Redis: nothing is kept, so one process always reads its store. */
export const noCache: ResponseCache = {
  wrap: (_entry, compute) => compute(),
  invalidate: async () => undefined,
  close: async () => undefined,
};

/** Options of {@link createRedisResponseCache}. */
export interface RedisResponseCacheOptions {
  redis: Redis;
  /** Key prefix, e.g. `bos:cache:`. */
  prefix: string;
  /** Longest life of an entry in seconds (default 300); invalidation, not expiry, keeps answers fresh. */
  ttlSeconds?: number;
  /** Told when Redis fails (the request is still answered from the store). */
  onError?: (error: Error) => void;
}

/**
 * A {@link ResponseCache} on Redis. Every key embeds the current catalogue generation and the tenant's
 * generation (`INCR` on change), so an invalidation is one atomic increment that every API process sees on its
 * next read: no stale answer after a publish, install or deprecation, and no key scanning. Keys embed the tenant,
 * so an answer that includes a tenant's private listings is only ever served to that tenant.
 * @example const cache = createRedisResponseCache({ redis, prefix: 'bos:cache:' }); await cache.wrap({ tenant, variant: url }, () => search());
 */
export function createRedisResponseCache(options: RedisResponseCacheOptions): ResponseCache {
  const { redis, prefix } = options;
  const ttl = options.ttlSeconds ?? 300;
  const onError = options.onError ?? (() => undefined);
  const catalogGen = `${prefix}gen:catalog`;
  const tenantGen = (tenant: string) => `${prefix}gen:tenant:${tenant}`;

  return {
    async wrap(entry, compute, keep = () => true) {
      let key: string;
      let cached: string | null;
      try {
        const [catalog, tenant] = await redis.mget(catalogGen, entry.tenant ? tenantGen(entry.tenant) : catalogGen);
        const digest = createHash('sha256').update(entry.variant).digest('base64url');
        key = `${prefix}v:${catalog ?? 0}:${entry.tenant ?? '-'}:${entry.tenant ? (tenant ?? 0) : '-'}:${digest}`;
        cached = await redis.get(key);
      } catch (error) {
        onError(error as Error);
        return compute();
      }
      if (cached !== null) return JSON.parse(cached) as Awaited<ReturnType<typeof compute>>;
      const value = await compute();
      if (value !== undefined && keep(value)) await redis.set(key, JSON.stringify(value), 'EX', ttl).catch((error: unknown) => onError(error as Error));
      return value;
    },
    async invalidate(change) {
      const pipeline = redis.multi();
      if (change.catalog) pipeline.incr(catalogGen);
      if (change.tenant) pipeline.incr(tenantGen(change.tenant));
      await pipeline.exec();
    },
    close: async () => undefined,
  };
}
