// Public surface of @businessos/connectors-server.
export { buildApp } from './app.ts';
export type { AppOptions } from './app.ts';
export { ConfigError, loadConfig } from './config.ts';
export type { ConfigIssue, ServerConfig } from './config.ts';
export type { Db, Queryable, QueryResult } from './db/db.ts';
export { migrate, migrationsApplied, readMigrations } from './db/migrate.ts';
export { openDb } from './db/open.ts';
export { createPgDb } from './db/pg.ts';
export { createPgliteDb } from './db/pglite.ts';
export { main, startServer } from './main.ts';
export type { RunningServer } from './main.ts';
