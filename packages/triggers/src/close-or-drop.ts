import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';

/** Options of {@link closeOrDrop}. */
export interface CloseOrDropOptions {
  /** How long the clean close may take before `drop` runs (default 3000 ms). */
  timeoutMs?: number;
  /**
   * With a connection: only the time during which it is not connected, or does not answer, counts against
   * `timeoutMs`, so a clean close that drains long work while Redis is up is never cut short; only an outage (now or
   * during the drain) ends it. A connection that still looks open is asked a PING every `probeMs` (default 1000):
   * a Redis host that vanished without resetting the socket (packets dropped) leaves it open for many minutes.
   */
  redis?: Redis;
  probeMs?: number;
}

/**
 * Closes Redis-backed parts cleanly with `clean`, or gives up on that after `timeoutMs` and calls `drop`, which must
 * release the connections at once (`disconnect()`, never `quit()`). While Redis is unreachable a clean close can wait
 * for it for ever: BullMQ waits for a blocking connection to report that it has ended, which one between reconnection
 * attempts never does, and a `quit()` queued behind pending commands waits for Redis. A shutdown must not. A clean
 * attempt still pending after the drop is left to settle (or not) on its own, its failure absorbed so that it never
 * surfaces as an unhandled rejection.
 * @returns true when `clean` finished, false when the connections were dropped; rejects when `clean` fails in time.
 * @example await closeOrDrop(() => redis.quit(), () => redis.disconnect(), { timeoutMs: 3000, redis });
 */
export async function closeOrDrop(clean: () => Promise<unknown>, drop: () => void, options: CloseOrDropOptions = {}): Promise<boolean> {
  const { redis, timeoutMs = 3000 } = options;
  // Raced below, which also absorbs a failure that comes after the drop.
  const attempt = clean().then(() => true as const);
  let timer: NodeJS.Timeout | undefined;
  let expire: () => void = () => undefined;
  const expired = new Promise<false>((resolve) => (expire = () => resolve(false)));
  const arm = (): void => {
    timer ??= setTimeout(expire, timeoutMs);
  };
  const disarm = (): void => {
    clearTimeout(timer);
    timer = undefined;
  };
  if (!redis || redis.status !== 'ready') arm();
  redis?.on('close', arm).on('ready', disarm);
  // An open connection that does not answer a PING within probeMs counts as down until one is answered.
  const probeMs = options.probeMs ?? 1000;
  let probing = false;
  const probe = redis
    ? setInterval(() => {
        if (probing || redis.status !== 'ready') return;
        probing = true;
        const silent = setTimeout(arm, probeMs);
        redis.ping().then(
          () => {
            clearTimeout(silent);
            if (redis.status === 'ready') disarm();
          },
          () => clearTimeout(silent),
        ).finally(() => (probing = false));
      }, probeMs)
    : undefined;
  try {
    if (await Promise.race([attempt, expired])) return true;
  } finally {
    clearInterval(probe);
    disarm();
    redis?.off('close', arm).off('ready', disarm);
  }
  drop();
  return false;
}

/**
 * Quits `redis` (sending what is queued first) while Redis answers; once it has been unreachable for `timeoutMs`,
 * disconnects it instead. Never rejects.
 * @example await quitOrDrop(redis);
 */
export async function quitOrDrop(redis: Redis, timeoutMs?: number): Promise<void> {
  await closeOrDrop(() => redis.quit().catch(() => undefined), () => redis.disconnect(), { redis, timeoutMs });
}

/**
 * Drops a BullMQ worker's own connections without waiting for anything: the blocking connection BullMQ made for it,
 * whether or not it ever connected. The connection the worker was given stays its owner's to drop.
 * @example await closeOrDrop(() => worker.close(), () => dropWorker(worker), { timeoutMs: 3000, redis });
 */
export function dropWorker(worker: Worker): void {
  const backend = worker.getBackend();
  // A forced close disconnects a connection that never became ready; one that did is disconnected directly, since a
  // close already under way (and waiting for Redis) would make the forced one wait with it.
  void backend.close(true).catch(() => undefined);
  void backend.blockingClient?.then((client) => client.disconnect(), () => undefined);
}
