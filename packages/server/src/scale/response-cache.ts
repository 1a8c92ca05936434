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
  /** Longest wait for Redis on a read or an invalidation, ms (default 250); past it the store answers. */
  timeoutMs?: number;
  /** How often an invalidation Redis could not take is tried again, ms (default 1000). */
  retryMs?: number;
  /** How long Redis is left alone after it failed or was slow, ms (default 1000): requests do not each wait for it. */
  backoffMs?: number;
}

/**
 * A {@link ResponseCache} on Redis. Every key embeds the current catalogue generation and the tenant's
 * generation (`INCR` on change), so an invalidation is one atomic increment that every API process sees on its
 * next read: no stale answer after a publish, install or deprecation, and no key scanning. Keys embed the tenant,
 * so an answer that includes a tenant's private listings is only ever served to that tenant.
 *
 * Redis is never waited for: while the connection is not ready, or a command takes longer than `timeoutMs`, reads go
 * to the store and writes are answered. An invalidation Redis did not take is kept and tried again (every
 * `retryMs`, and before any cached read); until it is applied this process reads the store, so it never serves an
 * answer the write made stale. (Another process that can still reach Redis while this one cannot would serve cached
 * answers until then: a partition this cache does not cover.)
 * @example const cache = createRedisResponseCache({ redis, prefix: 'bos:cache:' }); await cache.wrap({ tenant, variant: url }, () => search());
 */
export function createRedisResponseCache(options: RedisResponseCacheOptions): ResponseCache {
  const { redis, prefix } = options;
  const ttl = options.ttlSeconds ?? 300;
  const onError = options.onError ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 250;
  const retryMs = options.retryMs ?? 1000;
  const catalogGen = `${prefix}gen:catalog`;
  const tenantGen = (tenant: string) => `${prefix}gen:tenant:${tenant}`;
  // Invalidations Redis has not taken yet, each with a count that moves on every new one: an increment that was sent
  // before a newer invalidation of the same key must not clear it.
  let pendingCatalog = 0;
  const pendingTenants = new Map<string, number>();
  let changes = 0;
  // After Redis failed or was slow, it is left alone for a moment: requests do not each wait `timeoutMs` for it.
  const backoffMs = options.backoffMs ?? 1000;
  let skipUntil = 0;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;

  /** `work` unless Redis is not ready or takes longer than `timeoutMs`. */
  function withRedis<T>(work: () => Promise<T>): Promise<T> {
    if (redis.status !== 'ready') return Promise.reject(new Error(`Redis is ${redis.status}`));
    if (performance.now() < skipUntil) return Promise.reject(new Error('Redis failed or was slow a moment ago'));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([work(), late])
      .catch((error: unknown) => {
        skipUntil = performance.now() + backoffMs;
        throw error;
      })
      .finally(() => clearTimeout(timer));
  }

  /** Applies the invalidations Redis has not taken; true when none is left. */
  async function applyPending(): Promise<boolean> {
    if (pendingCatalog === 0 && pendingTenants.size === 0) return true;
    const catalog = pendingCatalog;
    const tenants = [...pendingTenants];
    try {
      await withRedis(async () => {
        const pipeline = redis.multi();
        if (catalog) pipeline.incr(catalogGen);
        for (const [tenant] of tenants) pipeline.incr(tenantGen(tenant));
        await pipeline.exec();
      });
    } catch {
      return false;
    }
    if (pendingCatalog === catalog) pendingCatalog = 0;
    for (const [tenant, count] of tenants) if (pendingTenants.get(tenant) === count) pendingTenants.delete(tenant);
    return pendingCatalog === 0 && pendingTenants.size === 0;
  }

  function retryLater(): void {
    if (retry || closed) return;
    retry = setInterval(() => {
      void applyPending().then((done) => {
        if (done && retry) {
          clearInterval(retry);
          retry = undefined;
        }
      });
    }, retryMs);
    retry.unref();
  }

  return {
    async wrap(entry, compute, keep = () => true) {
      let key: string;
      let cached: string | null;
      try {
        if (!(await applyPending())) return await compute();
        [key, cached] = await withRedis(async () => {
          const [catalog, tenant] = await redis.mget(catalogGen, entry.tenant ? tenantGen(entry.tenant) : catalogGen);
          const digest = createHash('sha256').update(entry.variant).digest('base64url');
          const k = `${prefix}v:${catalog ?? 0}:${entry.tenant ?? '-'}:${entry.tenant ? (tenant ?? 0) : '-'}:${digest}`;
          return [k, await redis.get(k)] as const;
        });
      } catch (error) {
        onError(error as Error);
        return compute();
      }
      if (cached !== null) return JSON.parse(cached) as Awaited<ReturnType<typeof compute>>;
      const value = await compute();
      if (value !== undefined && keep(value)) await withRedis(() => redis.set(key, JSON.stringify(value), 'EX', ttl)).catch((error: unknown) => onError(error as Error));
      return value;
    },
    async invalidate(change) {
      changes += 1;
      if (change.catalog) pendingCatalog = changes;
      if (change.tenant) pendingTenants.set(change.tenant, changes);
      if (!(await applyPending())) {
        onError(new Error('Redis did not take a cache invalidation; this process reads the store until it does'));
        retryLater();
      }
    },
    close: async () => {
      closed = true;
      if (retry) clearInterval(retry);
      retry = undefined;
    },
  };
}
