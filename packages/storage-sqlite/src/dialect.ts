/**
 * SQLite dialect — what differs on SQLite: the better-sqlite3 connection and its pragmas (WAL,
 * busy_timeout, synchronous), write transactions that start with BEGIN IMMEDIATE, and which
 * driver errors are transient. Kysely's SqliteDriver begins deferred transactions; two processes
 * sharing a file then fail with SQLITE_BUSY_SNAPSHOT, which no busy timeout cures. BEGIN
 * IMMEDIATE takes the write lock up front, so contention waits in busy_timeout instead.
 */
import Database from 'better-sqlite3';
import { CompiledQuery, SqliteAdapter, SqliteDialect, SqliteDriver, type DatabaseConnection, type DialectAdapter, type Driver, type SqliteDatabase, type SqliteDialectConfig } from 'kysely';
import { InvalidArgumentError, type PermanentKind, type StorageDialect, type TransientKind } from '@cairn/core';

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
  /**
   * How long one call keeps retrying a locked database (each try waiting up to `busyTimeoutMs`)
   * before it throws StorageBusyError, in ms. Default 20000.
   */
  transientRetryMs?: number;
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

/** Prepared statements kept per connection; Cairn issues a few dozen distinct statements. */
const STATEMENT_CACHE_SIZE = 200;

/**
 * The database as Kysely sees it, with each distinct SQL text prepared once: Kysely prepares a
 * statement for every query it runs, which costs more than running it. Least recently used
 * statements are dropped past STATEMENT_CACHE_SIZE.
 */
function withStatementCache(db: Database.Database): SqliteDatabase {
  const statements = new Map<string, Database.Statement>();
  return {
    close: () => db.close(),
    prepare: (sql: string) => {
      let statement = statements.get(sql);
      if (statement) {
        statements.delete(sql);
      } else {
        statement = db.prepare(sql);
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value!);
      }
      statements.set(sql, statement);
      return statement;
    },
  };
}

/** Checks of the options beyond the pragmas: the transient-retry budget and a database you pass in. */
function validateExtras(options: SqliteStorageOptions): void {
  const retry = options.transientRetryMs;
  if (retry !== undefined && (!Number.isInteger(retry) || retry < 0)) throw new InvalidArgumentError(`SqliteStorage transientRetryMs must be a non-negative integer (got ${String(retry)}).`);
  const db = options.database as Partial<Database.Database> | undefined | null;
  if (db === undefined) return;
  if (db === null || typeof db !== 'object' || typeof db.prepare !== 'function' || typeof db.pragma !== 'function') {
    throw new InvalidArgumentError('SqliteStorage database must be an open better-sqlite3 Database (new Database(filename)).');
  }
  if (db.open !== true) throw new InvalidArgumentError(`SqliteStorage database '${String(db.name)}' is closed; pass an open better-sqlite3 Database.`);
}

/** Opens the file; a file that cannot be opened (missing directory, no permission) fails as SQLITE_CANTOPEN. */
function open(options: SqliteStorageOptions): Database.Database {
  if (options.database) return options.database;
  const filename = options.filename ?? 'cairn.db';
  try {
    return new Database(filename);
  } catch (error) {
    if (errorCode(error)?.startsWith('SQLITE_')) throw error;
    const reason = error !== null && typeof error === 'object' && 'message' in error ? String(error.message) : String(error);
    throw Object.assign(new Error(`cannot open the SQLite file '${filename}': ${reason}`, { cause: error }), { code: 'SQLITE_CANTOPEN' });
  }
}

function errorCode(error: unknown): string | undefined {
  return error && typeof error === 'object' && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

/** Validates options and opens the database lazily, when Kysely first needs a connection. */
export function sqliteDialect(options: SqliteStorageOptions): StorageDialect {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('new SqliteStorage(options) needs an options object (or nothing).');
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0) throw new InvalidArgumentError(`SqliteStorage busyTimeoutMs must be a non-negative integer (got ${String(options.busyTimeoutMs)}).`);
  const synchronous = options.synchronous ?? 'FULL';
  if (!SYNCHRONOUS.includes(synchronous)) throw new InvalidArgumentError(`SqliteStorage synchronous must be one of ${SYNCHRONOUS.join(', ')} (got ${String(options.synchronous)}).`);
  if (options.filename !== undefined && (typeof options.filename !== 'string' || options.filename.length === 0)) throw new InvalidArgumentError('SqliteStorage filename must be a non-empty string.');
  validateExtras(options);
  return {
    name: 'sqlite',
    createKyselyDialect: () =>
      new ImmediateSqliteDialect({
        database: async () => {
          const db = open(options);
          try {
            db.pragma(`busy_timeout = ${busyTimeoutMs}`);
            if (db.name !== ':memory:' && db.name !== '') db.pragma('journal_mode = WAL');
            db.pragma(`synchronous = ${synchronous}`);
          } catch (error) {
            // Not a database, or unreadable: close what we opened (the next call opens it again).
            if (!options.database) db.close();
            throw error;
          }
          return withStatementCache(db);
        },
      }),
    classifyError: (error: unknown): TransientKind | undefined => {
      const code = errorCode(error);
      return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) ? 'busy' : undefined;
    },
    classifyPermanentError: (error: unknown): PermanentKind | undefined => {
      const code = errorCode(error);
      if (code === undefined || !code.startsWith('SQLITE_')) return undefined;
      // By shape: better-sqlite3 builds its errors with the SqliteError class it was first given, which
      // under jest (one addon, a module registry per test file) may come from another realm.
      const message = String((error as { message?: unknown }).message ?? '');
      return /no such table|no such column|has no column named/i.test(message) ? 'schema' : 'failed';
    },
  };
}
