import pg from 'pg';
import { DELIVERIES_CHANNEL } from './delivery-writer.ts';

/** Options of {@link listenForDeliveries}. */
export interface DeliveryListenerOptions {
  /** The PostgreSQL the deliveries are stored in. */
  connectionString: string;
  /**
   * Told the ids of deliveries some process committed (this one's included); with no ids after (re)connecting,
   * when announcements may have been missed.
   */
  onDeliveries(ids: string[]): void;
  /** Wait before connecting again after the connection failed, ms (default 1000). */
  retryMs?: number;
  log?: (level: 'warn', message: string, data?: Record<string, unknown>) => void;
}

/** A LISTEN connection; see {@link listenForDeliveries}. */
export interface DeliveryListener {
  close(): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Listens on PostgreSQL for new webhook deliveries (announced with NOTIFY by the delivery writer once committed, see
 * {@link DELIVERIES_CHANNEL}), so the delivery processor of every process starts on them at once instead of at its next
 * poll. One dedicated connection; when it drops, it connects again after `retryMs` and reports an empty list (look
 * for anything missed meanwhile). PGlite has no other processes: there the in-process wake-up suffices.
 * @example const listener = listenForDeliveries({ connectionString, onDeliveries: (ids) => processor.wake(ids, { fromIngress: false }) });
 */
export function listenForDeliveries(options: DeliveryListenerOptions): DeliveryListener {
  const retryMs = options.retryMs ?? 1000;
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  function connectSoon(): void {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, retryMs);
    retry.unref();
  }

  async function connect(): Promise<void> {
    const c = new pg.Client({ connectionString: options.connectionString });
    client = c;
    c.on('notification', (message) => {
      if (message.channel !== DELIVERIES_CHANNEL) return;
      const ids = (message.payload ?? '').split(',').filter((id) => UUID.test(id));
      if (ids.length > 0) options.onDeliveries(ids);
    });
    const lost = (error?: Error) => {
      if (client !== c || closed) return;
      client = undefined;
      options.log?.('warn', 'the LISTEN connection for new webhook deliveries dropped; connecting again', { error: error?.message });
      c.end().catch(() => undefined);
      connectSoon();
    };
    c.on('error', lost);
    c.on('end', () => lost());
    try {
      await c.connect();
      await c.query(`LISTEN ${DELIVERIES_CHANNEL}`);
      if (closed) await c.end();
      // Whatever was announced while this connection was not listening.
      else options.onDeliveries([]);
    } catch (error) {
      lost(error instanceof Error ? error : new Error(String(error)));
    }
  }

  void connect();
  return {
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
