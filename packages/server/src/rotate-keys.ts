import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateMasterKey, parseMasterKey, rotateVaultKeys, type RotationReport } from '@businessos/connector-runtime';
import { ConfigError, loadConfig } from './config.ts';
import { openDb } from './db/open.ts';
import { migrate } from './db/migrate.ts';
import { createPgVaultStore } from './vault/pg-vault-store.ts';

export interface RotateKeysResult {
  report: RotationReport;
  mode: 'postgres' | 'embedded';
}

/**
 * Re-wraps every tenant's data key from the old master key(s) to the current one. Secrets themselves are not
 * re-encrypted (they are sealed by the data keys), so the run is quick, safe while serving, and safe to repeat.
 *
 * - With `DATABASE_URL`: the new key is `BOS_MASTER_KEY` and the old ones are `BOS_PREVIOUS_MASTER_KEYS`. Deploy every
 *   process with both set first (they then accept either key), run this, then drop the previous keys.
 * - Embedded (PGlite under `BOS_DATA_DIR`): stop the service first (PGlite has one process). A new key is written
 *   to `master.key.new` (0600) before anything changes, data keys are re-wrapped, then `master.key.new` replaces
 *   `master.key`. Interrupted? Run it again: it picks up `master.key.new` and finishes.
 */
export async function rotateKeys(env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<RotateKeysResult> {
  const config = loadConfig(env);
  if (config.databaseUrl) {
    if (!config.masterKey) throw new ConfigError([{ variable: 'BOS_MASTER_KEY', message: 'is required: it is the new master key to rotate to' }]);
    if (config.previousMasterKeys.length === 0) {
      throw new ConfigError([{ variable: 'BOS_PREVIOUS_MASTER_KEYS', message: 'is required: the master key(s) the data keys are wrapped with now' }]);
    }
    const db = await openDb(config);
    try {
      await migrate(db);
      const total: RotationReport = { rewrapped: 0, alreadyCurrent: 0, unknown: [] };
      for (const oldKey of config.previousMasterKeys) {
        const r = await rotateVaultKeys({ store: createPgVaultStore(db), oldKey, newKey: config.masterKey });
        total.rewrapped += r.rewrapped;
        total.alreadyCurrent = r.alreadyCurrent;
        total.unknown = r.unknown;
      }
      return { report: total, mode: 'postgres' };
    } finally {
      await db.close();
    }
  }

  const keyFile = path.join(config.dataDir, 'master.key');
  const nextFile = `${keyFile}.new`;
  if (!existsSync(keyFile)) throw new ConfigError([{ variable: 'BOS_DATA_DIR', message: `has no master.key at ${keyFile}: nothing to rotate` }]);
  const oldKey = parseMasterKey(readFileSync(keyFile, 'utf8').trim());
  let newKeyText: string;
  if (existsSync(nextFile)) {
    newKeyText = readFileSync(nextFile, 'utf8').trim();
    log(`Resuming an interrupted rotation with the key in ${nextFile}.`);
  } else {
    newKeyText = generateMasterKey().key.toString('base64');
    writeFileSync(nextFile, `${newKeyText}\n`, { mode: 0o600, flag: 'wx' });
  }
  const db = await openDb(config);
  let report: RotationReport;
  try {
    await migrate(db);
    report = await rotateVaultKeys({ store: createPgVaultStore(db), oldKey, newKey: newKeyText });
  } finally {
    await db.close();
  }
  renameSync(nextFile, keyFile);
  return { report, mode: 'embedded' };
}

/** `npm run rotate-keys`: prints what was re-wrapped; exit 1 when some data keys are wrapped by a key not given. */
export async function rotateKeysMain(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    const { report, mode } = await rotateKeys(env, (line) => console.log(line));
    console.log(`Rotated the vault master key (${mode}): ${report.rewrapped} data key(s) re-wrapped, ${report.alreadyCurrent} already current.`);
    if (report.unknown.length > 0) {
      console.error(`${report.unknown.length} data key(s) are wrapped by a master key that was not given (ids: ${[...new Set(report.unknown.map((u) => u.masterKeyId))].join(', ')}); add it to BOS_PREVIOUS_MASTER_KEYS and run again.`);
      return 1;
    }
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      return 2;
    }
    console.error(`Key rotation failed: ${(error as Error).message}`);
    return 3;
  }
}
