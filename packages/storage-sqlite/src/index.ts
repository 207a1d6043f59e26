/**
 * @cairn/storage-sqlite — Cairn on a single SQLite file (better-sqlite3). The storage itself is
 * core's KyselyStorage; this package supplies only the SQLite dialect (see dialect.ts).
 */
import { KyselyStorage } from '@cairn/core';
import { sqliteDialect, type SqliteStorageOptions } from './dialect';

export type { SqliteStorageOptions, SqliteSynchronous } from './dialect';

export class SqliteStorage extends KyselyStorage {
  constructor(options: SqliteStorageOptions = {}) {
    super({ dialect: sqliteDialect(options), transientRetryMs: options.transientRetryMs });
  }
}
