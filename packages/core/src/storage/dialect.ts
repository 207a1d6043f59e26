/**
 * dialect — what a database package supplies to the one Kysely storage: the Kysely dialect that
 * connects, how to recognise its transient errors, and the queries that genuinely differ.
 */
import type { Dialect, RawBuilder, Transaction } from 'kysely';
import type { CairnDatabase } from './schema';

export type TransientKind = 'busy' | 'unavailable';

export interface StorageDialect {
  /** Short name for messages ('sqlite', 'postgres'). */
  readonly name: string;
  /** Creates the Kysely dialect (called once per storage). */
  createKyselyDialect(): Dialect;
  /** Recognises lock contention and lost connections; everything else is permanent. */
  classifyError(error: unknown): TransientKind | undefined;
  /**
   * Lock the rows of claimable runs with FOR UPDATE SKIP LOCKED while claiming them, so concurrent
   * workers never queue on each other's rows (PostgreSQL). SQLite's write transaction already
   * excludes other claimers.
   */
  readonly skipLockedClaims?: boolean;
  /**
   * The database's own time in epoch milliseconds, as SQL. When set, leases and due times are
   * judged by this one clock for every worker (a worker with a skewed clock can neither steal a
   * live lease nor keep a dead one); the runner's `now` is only used for relative offsets.
   */
  databaseNow?(): RawBuilder<number>;
  /** Tells sleeping workers that a run became claimable (PostgreSQL: NOTIFY), inside the transaction. */
  notify?(trx: Transaction<CairnDatabase>): Promise<void>;
  /** Subscribes to those wake-ups (PostgreSQL: LISTEN on a dedicated connection). */
  listen?(onWake: () => void): Promise<{ close(): Promise<void> }>;
  /** Closes what the dialect opened besides Kysely's connections. */
  close?(): Promise<void>;
}
