/**
 * 0002 — a partial index over the runs that are not finished, by workflow. Claiming looks only at
 * pending, running and waiting runs; without it, a claim read every run of the workflow, so it
 * slowed down as finished runs piled up (SQLite without statistics: 0.5 s at 1 M finished runs).
 * The claim query repeats the predicate literally, which is how SQLite matches a partial index.
 * `updated_at` (the claim order) is deliberately not a key: every step commit sets it, and an
 * indexed column would make those updates non-HOT on PostgreSQL. Sorting the live runs is cheap.
 */
import { sql, type Kysely, type Migration } from 'kysely';

export const LIVE_STATUSES = sql<boolean>`status in ('pending', 'running', 'waiting')`;

export const liveRunsIndex: Migration = {
  async up(db: Kysely<unknown>) {
    // if not exists: on a large PostgreSQL table, operators may build it first with CREATE INDEX CONCURRENTLY.
    await db.schema.createIndex('cairn_runs_live_idx').ifNotExists().on('cairn_runs').column('workflow_name').where(LIVE_STATUSES).execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropIndex('cairn_runs_live_idx').execute();
  },
};
