/**
 * SQLite dialect — what differs on SQLite: the better-sqlite3 connection and its pragmas (WAL,
 * busy_timeout, synchronous), write transactions that start with BEGIN IMMEDIATE, and which
 * driver errors are transient. Kysely's SqliteDriver begins deferred transactions; two processes
 * sharing a file then fail with SQLITE_BUSY_SNAPSHOT, which no busy timeout cures. BEGIN
 * IMMEDIATE takes the write lock up front, so contention waits in busy_timeout instead.
 */
import Database from 'better-sqlite3';
import { CompiledQuery, SqliteAdapter, SqliteDialect, SqliteDriver, type DatabaseConnection, type DialectAdapter, type Driver, type SqliteDialectConfig } from 'kysely';
import { InvalidArgumentError, type StorageDialect, type TransientKind } from '@cairn/core';

export type SqliteSynchronous = 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA';

export interface SqliteStorageOptions {
  /** Database file. Default 'cairn.db'. ':memory:' works for tests (one process only). */
  filename?: string;
  /** An open better-sqlite3 database to use instead of `filename`. Cairn closes it on `close()`. */
  database?: Database.Database;
  /** How long a write waits for another connection's lock before failing, in ms. Default 5000. */
  busyTimeoutMs?: number;
  /** PRAGMA synchronous. Default 'FULL' (a commit survives power loss); 'NORMAL' is faster in WAL mode. */
  synchronous?: SqliteSynchronous;
}

const SYNCHRONOUS: readonly SqliteSynchronous[] = ['OFF', 'NORMAL', 'FULL', 'EXTRA'];

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/**
 * SQLite runs DDL inside transactions, but Kysely's adapter says it does not, so its Migrator would
 * migrate outside any transaction and processes migrating one file at once would race ("table
 * already exists"). Declaring it makes each migration one BEGIN IMMEDIATE transaction.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  constructor(private readonly settings: SqliteDialectConfig) {
    super(settings);
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.settings);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

function errorCode(error: unknown): string | undefined {
  return error && typeof error === 'object' && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** Validates options and opens the database lazily, when Kysely first needs a connection. */
export function sqliteDialect(options: SqliteStorageOptions): StorageDialect {
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) throw new InvalidArgumentError(`SqliteStorage busyTimeoutMs must be a non-negative integer (got ${String(options.busyTimeoutMs)}).`);
  const synchronous = options.synchronous ?? 'FULL';
  if (!SYNCHRONOUS.includes(synchronous)) throw new InvalidArgumentError(`SqliteStorage synchronous must be one of ${SYNCHRONOUS.join(', ')} (got ${String(options.synchronous)}).`);
  if (options.filename !== undefined && (typeof options.filename !== 'string' || options.filename.length === 0)) throw new InvalidArgumentError('SqliteStorage filename must be a non-empty string.');
  return {
    name: 'sqlite',
    createKyselyDialect: () =>
      new ImmediateSqliteDialect({
        database: async () => {
          const db = options.database ?? new Database(options.filename ?? 'cairn.db');
          db.pragma(`busy_timeout = ${busyTimeoutMs}`);
          if (db.name !== ':memory:' && db.name !== '') db.pragma('journal_mode = WAL');
          db.pragma(`synchronous = ${synchronous}`);
          return db;
        },
      }),
    classifyError: (error: unknown): TransientKind | undefined => {
      const code = errorCode(error);
      return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) ? 'busy' : undefined;
    },
  };
}
