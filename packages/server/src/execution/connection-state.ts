import { ConnectorError, type KeyValueStore } from '@businessos/connector-sdk';
import { storableJson } from '@businessos/connector-triggers';
import { preparedStatement, type Db } from '../db/db.ts';

/** Per-connection limits of the store; the defaults are the runtime's built-in in-memory store's. */
export interface ConnectionStateLimits {
  /** Keys per connection (default 1000). */
  maxKeys?: number;
  /** UTF-8 bytes of all keys plus their values as JSON, per connection (default 4 MiB). */
  maxBytes?: number;
}

const DEFAULT_MAX_KEYS = 1000;
const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// With the u flag a surrogate pair reads as one code point, so this matches only a lone half.
const LONE_SURROGATE = /\p{Surrogate}/u;
const LONE_SURROGATES = /\p{Surrogate}/gu;

/** Whether `text` has what PostgreSQL text and jsonb cannot hold: a NUL character or a lone UTF-16 surrogate. */
function unstorable(text: string): boolean {
  return text.includes('\u0000') || LONE_SURROGATE.test(text);
}

/**
 * `text` fit for an error message: at most `max` code points (never half a pair), NUL and lone surrogates replaced.
 * Messages and paths end up in jsonb (the execution's error), which cannot hold either.
 */
function shown(text: string, max = 100): string {
  return Array.from(text.slice(0, max * 2)).slice(0, max).join('').replaceAll('\u0000', '\uFFFD').replace(LONE_SURROGATES, '\uFFFD');
}

const GET_SQL = preparedStatement(
  'connection-state-get',
  'SELECT value::text AS json FROM connectors.connection_state WHERE tenant_id = $1 AND connection_id = $2 AND key = $3',
);
const DELETE_SQL = preparedStatement(
  'connection-state-delete',
  'DELETE FROM connectors.connection_state WHERE tenant_id = $1 AND connection_id = $2 AND key = $3',
);
// Writers of one connection's store queue on its row, so each one's limit check below sees every write committed
// before it. Under row-level security another tenant's connection is not found at all.
const LOCK_CONNECTION_SQL = preparedStatement('connection-state-lock', 'SELECT 1 FROM connectors.connections WHERE id = $1 FOR NO KEY UPDATE');
// Checks the limits and writes in one statement; `stored` is false (and nothing written) when the write would go
// over one, with the usage that says which.
const SET_SQL = preparedStatement(
  'connection-state-set',
  `WITH usage AS (
     SELECT count(*)::int AS keys,
            coalesce(sum(bytes) FILTER (WHERE key <> $3::text), 0)::float8 AS other_bytes,
            coalesce(bool_or(key = $3::text), false) AS present
     FROM connectors.connection_state WHERE tenant_id = $1::uuid AND connection_id = $2::uuid
   ), written AS (
     INSERT INTO connectors.connection_state (tenant_id, connection_id, key, value, bytes)
     SELECT $1::uuid, $2::uuid, $3::text, $4::jsonb, $5::int FROM usage
     WHERE (usage.present OR usage.keys < $6::int) AND usage.other_bytes + $5::int <= $7::float8
     ON CONFLICT (tenant_id, connection_id, key) DO UPDATE SET value = EXCLUDED.value, bytes = EXCLUDED.bytes, updated_at = now()
     RETURNING 1
   )
   SELECT keys, other_bytes, present, EXISTS (SELECT 1 FROM written) AS stored FROM usage`,
);

function checkKey(key: string): void {
  if (unstorable(key)) {
    throw new ConnectorError('INVALID_INPUT', `The store key "${shown(key)}" contains a NUL character or a lone UTF-16 surrogate (shown as \uFFFD), which the store cannot keep; use keys of plain text`, { path: '/key' });
  }
}

/**
 * The runtime's `state` option over `connectors.connection_state`: `ctx.store` of each connection, durable and the
 * same in every process of the service. Every call is a transaction under the connection's tenant (row-level
 * security), so a connection id of another tenant reads nothing and cannot be written. A write that would take the
 * connection past `maxKeys` keys or `maxBytes` bytes fails with PAYLOAD_TOO_LARGE and changes nothing (concurrent
 * writes are checked one after another); a value jsonb cannot hold (NUL, lone surrogate) fails with INVALID_INPUT.
 * Key length and value size limits are the runtime's, checked before the store is called.
 * @example createRuntime({ ..., state: createDbConnectionState(db) })
 */
export function createDbConnectionState(db: Db, limits: ConnectionStateLimits = {}): (tenant: string, connectionId: string) => KeyValueStore {
  const maxKeys = limits.maxKeys ?? DEFAULT_MAX_KEYS;
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  return (tenant, connectionId) => {
    // Ids that are not uuids name no row (and would fail the statements' casts).
    const exists = UUID.test(tenant) && UUID.test(connectionId);
    return {
      async get<T>(key: string): Promise<T | undefined> {
        checkKey(key);
        if (!exists) return undefined;
        const { rows } = await db.withTenant(tenant, (tx) => tx.query<{ json: string }>(GET_SQL, [tenant, connectionId, key]));
        return rows[0] === undefined ? undefined : (JSON.parse(rows[0].json) as T);
      },
      async set(key, value) {
        checkKey(key);
        const stored = storableJson(value ?? null);
        if (!stored.ok) throw new ConnectorError('INVALID_INPUT', `The value for store key "${shown(key)}" cannot be stored: ${stored.problem}`, { path: `/value${shown(stored.path, 1000)}` });
        const bytes = Buffer.byteLength(key) + stored.bytes;
        const missing = () => new ConnectorError('NOT_FOUND', `Connection ${connectionId} does not exist (it may have been deleted), so its store cannot be written; reconnect the account`);
        if (!exists) throw missing();
        const usage = await db.withTenant(tenant, async (tx) => {
          if ((await tx.query(LOCK_CONNECTION_SQL, [connectionId])).rows.length === 0) throw missing();
          const { rows } = await tx.query<{ keys: number; other_bytes: number; present: boolean; stored: boolean }>(SET_SQL, [tenant, connectionId, key, stored.json, bytes, maxKeys, maxBytes]);
          return rows[0]!;
        });
        if (usage.stored) return;
        if (!usage.present && usage.keys >= maxKeys) {
          throw new ConnectorError('PAYLOAD_TOO_LARGE', `The connection's store already holds ${usage.keys} keys, the most allowed; delete keys it no longer needs before adding "${shown(key)}"`);
        }
        throw new ConnectorError('PAYLOAD_TOO_LARGE', `Storing "${shown(key)}" would bring the connection's store to ${usage.other_bytes + bytes} bytes, over its ${maxBytes}-byte limit; keep less state (cursors, not data)`);
      },
      async delete(key) {
        checkKey(key);
        if (!exists) return;
        await db.withTenant(tenant, (tx) => tx.query(DELETE_SQL, [tenant, connectionId, key]));
      },
    };
  };
}
