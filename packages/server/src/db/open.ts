import path from 'node:path';
import type { ServerConfig } from '../config.ts';
import type { Db } from './db.ts';
import { createPgDb } from './pg.ts';
import { createPgliteDb } from './pglite.ts';

/** Opens PostgreSQL when `DATABASE_URL` is set, otherwise the embedded store under `${dataDir}/pglite`. */
export async function openDb(config: Pick<ServerConfig, 'databaseUrl' | 'dataDir'>): Promise<Db> {
  if (config.databaseUrl) return createPgDb(config.databaseUrl);
  return createPgliteDb(path.join(config.dataDir, 'pglite'));
}
