/**
 * dialect — what a database package supplies to the one Kysely storage: the Kysely dialect that
 * connects, how to recognise its transient errors, and the queries that genuinely differ.
 */
import type { Dialect, RawBuilder, Transaction } from 'kysely';
import type { CommitRequest, CreateRunRequest } from './records';
import type { CairnDatabase, RunsTable } from './schema';

/** One fenced commit of a group, with the runner's time it was made at. */
export interface GroupedCommit {
  readonly request: CommitRequest;
  readonly now: number;
}

/** One start of a group, with the runner's time it was made at. */
export interface GroupedStart {
  readonly request: CreateRunRequest;
  readonly now: number;
}

export type TransientKind = 'busy' | 'unavailable';
export type PermanentKind = 'schema' | 'failed';

export interface StorageDialect {
  /** Short name for messages ('sqlite', 'postgres'). */
  readonly name: string;
  /** Creates the Kysely dialect (called once per storage). */
  createKyselyDialect(): Dialect;
  /** Recognises lock contention and lost connections; everything else is permanent. */
  classifyError(error: unknown): TransientKind | undefined;
  /**
   * Recognises the database's permanent errors, so they surface typed: 'schema' when Cairn's
   * tables are missing or differ (SchemaMismatchError: run migrate()), 'failed' for any other error
   * the database or driver raised (StorageFailedError). undefined: not the database's error (it is
   * rethrown as it is). Optional: without it, driver errors are rethrown as they are.
   */
  classifyPermanentError?(error: unknown): PermanentKind | undefined;
  /**
   * Lock the rows of claimable runs with FOR UPDATE SKIP LOCKED while claiming them, so concurrent
   * workers never queue on each other's rows (PostgreSQL). SQLite's write transaction already
   * excludes other claimers.
   */
  readonly skipLockedClaims?: boolean;
  /**
   * Group-commit transactions the storage keeps in flight at once (default 1). Commits arriving
   * meanwhile share the next one. SQLite has one connection, so 1; PostgreSQL gains from a few.
   */
  readonly commitConcurrency?: number;
  /**
   * The database's own time in epoch milliseconds, as SQL. When set, leases and due times are
   * judged by this one clock for every worker (a worker with a skewed clock can neither steal a
   * live lease nor keep a dead one); the runner's `now` is only used for relative offsets.
   */
  databaseNow?(): RawBuilder<number>;
  /**
   * Applies a group of fenced commits as one statement (one round trip, one commit), where the
   * database can: PostgreSQL's data-modifying CTEs. Returns the ids of the runs whose lease held;
   * the others were not written at all. The storage only hands over commits that need nothing
   * else (no parent or child wake-ups, no NOTIFY); without this hook it uses a transaction.
   */
  commitStatement?(commits: readonly GroupedCommit[]): Promise<ReadonlySet<string>>;
  /**
   * Inserts a group of new runs with their first rows as one statement (PostgreSQL), returning
   * the inserted rows by run id. A run whose workflow and tracking id are taken is not written at
   * all; the storage then looks at that run in a transaction. Without this hook, a transaction.
   */
  createRunStatement?(starts: readonly GroupedStart[]): Promise<ReadonlyMap<string, RunsTable>>;
  /** Tells sleeping workers that a run became claimable (PostgreSQL: NOTIFY), inside the transaction. */
  notify?(trx: Transaction<CairnDatabase>): Promise<void>;
  /** Subscribes to those wake-ups (PostgreSQL: LISTEN on a dedicated connection). */
  listen?(onWake: () => void): Promise<{ close(): Promise<void> }>;
  /** Closes what the dialect opened besides Kysely's connections. */
  close?(): Promise<void>;
}
