/**
 * dialect — what a database package supplies to the one Kysely storage: the Kysely dialect that
 * connects, how to recognise its transient errors, and the queries that genuinely differ.
 */
import type { Dialect, Transaction } from 'kysely';
import type { CairnDatabase } from './schema';

export type TransientKind = 'busy' | 'unavailable';

export interface DueQuery {
  workflowNames: readonly string[];
  exclude: readonly string[];
  limit: number;
  now: number;
}

export interface StorageDialect {
  /** Short name for messages ('sqlite', 'postgres'). */
  readonly name: string;
  /** Creates the Kysely dialect (called once per storage). */
  createKyselyDialect(): Dialect;
  /** Recognises lock contention and lost connections; everything else is permanent. */
  classifyError(error: unknown): TransientKind | undefined;
  /**
   * Picks the ids of claimable runs inside the claiming transaction. The default selects them
   * plainly (SQLite's write transaction already excludes other claimers); PostgreSQL locks them
   * with FOR UPDATE SKIP LOCKED so concurrent workers never queue on the same rows.
   */
  selectDue?(trx: Transaction<CairnDatabase>, query: DueQuery): Promise<string[]>;
}
