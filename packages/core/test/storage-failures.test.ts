/**
 * How database errors reach callers (storage/failures.ts): transient ones typed once retries are
 * spent, schema problems as SchemaMismatchError, other database errors as StorageFailedError, and
 * everything that is not the database's passed through unchanged.
 */
import type { Dialect } from 'kysely';
import { LeaseLostError, SchemaMismatchError, StorageBusyError, StorageFailedError, StorageUnavailableError } from '../src/errors/errors';
import type { StorageDialect } from '../src/storage/dialect';
import { describeDriverError, migrationFailure, permanentFailure, transientFailure } from '../src/storage/failures';

const dialect: StorageDialect = {
  name: 'testdb',
  createKyselyDialect: () => ({}) as Dialect,
  classifyError: (error) => ((error as { code?: string }).code === 'BUSY' ? 'busy' : undefined),
  classifyPermanentError: (error) => {
    const code = (error as { code?: string }).code;
    return code === 'NO_TABLE' ? 'schema' : code === 'READONLY' ? 'failed' : undefined;
  },
};

describe('describeDriverError', () => {
  it('adds the code unless the message has it', () => {
    expect(describeDriverError(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }))).toBe('database is locked (SQLITE_BUSY)');
    expect(describeDriverError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe('connect ECONNREFUSED 127.0.0.1:1');
  });

  it('reads an AggregateError without a message (Node tries every address of a host) through its first error', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED ::1:5432'), { code: 'ECONNREFUSED' });
    const aggregate = Object.assign(new AggregateError([refused], ''), { code: 'ECONNREFUSED' });
    expect(describeDriverError(aggregate)).toBe('connect ECONNREFUSED ::1:5432');
  });

  it('describes non-errors', () => {
    expect(describeDriverError('boom')).toBe('boom');
    expect(describeDriverError(null)).toBe('null');
  });
});

describe('typed storage failures', () => {
  it('a transient failure names the operation, the attempts and what to do', () => {
    const busy = transientFailure(dialect, 'start a run', 'busy', Object.assign(new Error('locked'), { code: 'BUSY' }), 3, 412.4);
    expect(busy).toBeInstanceOf(StorageBusyError);
    expect(busy.message).toMatch(/^Could not start a run on testdb: locked \(BUSY\) \(tried 3 times over 412 ms\)\. .*safe to retry/);
    const gone = transientFailure(dialect, 'migrate', 'unavailable', new Error('Connection terminated'), 1, 10);
    expect(gone).toBeInstanceOf(StorageUnavailableError);
    expect(gone.message).toContain('(tried 1 time over 10 ms)');
  });

  it('types permanent database errors and passes everything else through', () => {
    const missing = permanentFailure(dialect, 'read a run', Object.assign(new Error('no such table: cairn_runs'), { code: 'NO_TABLE' }));
    expect(missing).toBeInstanceOf(SchemaMismatchError);
    expect((missing as Error).message).toContain('call runner.migrate()');
    expect(permanentFailure(dialect, 'commit a step', Object.assign(new Error('readonly'), { code: 'READONLY' }))).toBeInstanceOf(StorageFailedError);
    const lost = new LeaseLostError('lost');
    expect(permanentFailure(dialect, 'commit a step', lost)).toBe(lost);
    const bug = new TypeError('x is not a function');
    expect(permanentFailure(dialect, 'commit a step', bug)).toBe(bug);
    const { classifyPermanentError: _unused, ...withoutHook } = dialect;
    const raw = Object.assign(new Error('readonly'), { code: 'READONLY' });
    expect(permanentFailure(withoutHook, 'commit a step', raw)).toBe(raw);
  });

  it('a database migrated by a newer Cairn is a SchemaMismatchError naming the unknown migration', () => {
    const error = migrationFailure(dialect, new Error('corrupted migrations: previously executed migration 0002-next is missing'));
    expect(error).toBeInstanceOf(SchemaMismatchError);
    expect((error as Error).message).toContain('newer than this code: migration 0002-next');
    const reordered = migrationFailure(dialect, new Error('corrupted migrations: expected previously executed migration a to be at index 0 but b was found in its place.'));
    expect(reordered).toBeInstanceOf(SchemaMismatchError);
    // A transient failure is left for the retry loop.
    const busy = Object.assign(new Error('locked'), { code: 'BUSY' });
    expect(migrationFailure(dialect, busy)).toBe(busy);
  });
});
