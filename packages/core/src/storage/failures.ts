/**
 * failures — how database errors reach callers. Transient ones (lock contention, a lost
 * connection) become StorageBusyError / StorageUnavailableError once the retries are spent;
 * missing or newer tables become SchemaMismatchError; every other error the database or its driver
 * raised becomes StorageFailedError. Each message says what Cairn was doing, what the database
 * said, and what to do. Cairn's own errors, and errors that are not the database's (a bug in a
 * callback), pass unchanged.
 */
import {
  CairnError,
  SchemaMismatchError,
  StorageBusyError,
  StorageFailedError,
  StorageUnavailableError,
} from '../errors/errors';
import type { StorageDialect, TransientKind } from './dialect';

/** The driver's message with its code, readable even for errors without a message (AggregateError). */
export function describeDriverError(error: unknown): string {
  if (error === null || typeof error !== 'object') return String(error);
  const { message, code, errors } = error as { message?: unknown; code?: unknown; errors?: unknown };
  let text = typeof message === 'string' ? message.trim() : '';
  if (text === '' && Array.isArray(errors) && errors.length > 0) text = describeDriverError(errors[0]);
  if (text === '') text = (error as { name?: unknown }).name === undefined ? 'unknown error' : String((error as { name?: unknown }).name);
  return typeof code === 'string' && !text.includes(code) ? `${text} (${code})` : text;
}

const TRANSIENT_HINT: Record<TransientKind, string> = {
  busy: 'The database stayed locked by another connection (or every connection of the pool stayed in use) throughout; this call wrote nothing and is safe to retry.',
  unavailable: 'The database could not be reached; the call is safe to retry once it is back (Cairn finds anything that was already committed).',
};

/** The typed error for a transient failure that outlasted Cairn's retries. */
export function transientFailure(dialect: StorageDialect, what: string, kind: TransientKind, error: unknown, attempts: number, elapsedMs: number): CairnError {
  const message = `Could not ${what} on ${dialect.name}: ${describeDriverError(error)} (tried ${attempts} time${attempts === 1 ? '' : 's'} over ${Math.round(elapsedMs)} ms). ${TRANSIENT_HINT[kind]}`;
  return kind === 'busy' ? new StorageBusyError(message, { cause: error }) : new StorageUnavailableError(message, { cause: error });
}

/**
 * The error to throw for a failure that is not transient: Cairn's own errors unchanged, database
 * errors typed (SchemaMismatchError or StorageFailedError), anything else unchanged.
 */
export function permanentFailure(dialect: StorageDialect, what: string, error: unknown): unknown {
  if (error instanceof CairnError) return error;
  const kind = dialect.classifyPermanentError?.(error);
  if (kind === 'schema') {
    return new SchemaMismatchError(
      `Could not ${what} on ${dialect.name}: ${describeDriverError(error)}. Cairn's tables are missing or out of date in this database: call runner.migrate() once (at deploy or start-up) before using it.`,
      { cause: error },
    );
  }
  if (kind === 'failed') {
    return new StorageFailedError(`Could not ${what} on ${dialect.name}: ${describeDriverError(error)}. Retrying will not help: check the storage's configuration and the database.`, { cause: error });
  }
  return error;
}

/**
 * Kysely's Migrator reports a database migrated by a newer Cairn as "corrupted migrations": a
 * migration it has no code for was already applied. That is a version mismatch, not corruption.
 */
export function migrationFailure(dialect: StorageDialect, error: unknown): unknown {
  // A transient failure (lock contention, a lost connection) is retried by the caller as it is.
  if (dialect.classifyError(error) !== undefined) return error;
  const message = error !== null && typeof error === 'object' && 'message' in error ? String(error.message) : '';
  const missing = /previously executed migration (\S+) is missing/.exec(message);
  if (missing) {
    return new SchemaMismatchError(
      `Cairn's schema in this ${dialect.name} database is newer than this code: migration ${missing[1]} was applied by a newer version of @cairn/core, which this version does not know. ` +
        'Upgrade @cairn/core in this process (every process sharing the database needs a version that knows all applied migrations); nothing was changed.',
      { cause: error },
    );
  }
  if (message.startsWith('corrupted migrations')) {
    return new SchemaMismatchError(`Cairn's migrations in this ${dialect.name} database do not match this code (${message}); nothing was changed.`, { cause: error });
  }
  return permanentFailure(dialect, 'migrate', error);
}
