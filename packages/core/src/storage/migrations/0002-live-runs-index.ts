/**
 * 0002 — a partial index over the runs that are not finished, by workflow in claim order. Claiming
 * looks only at pending, running and waiting runs; without it, a claim read every run of the
 * workflow and sorted them, so it slowed down as finished runs piled up (SQLite without
 * statistics: 0.5 s at 1 M finished runs). The claim query repeats the predicate literally, which
 * is how SQLite matches a partial index.
 */
import { sql, type Kysely, type Migration } from 'kysely';

export const LIVE_STATUSES = sql<boolean>`status in ('pending', 'running', 'waiting')`;

export const liveRunsIndex: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.createIndex('cairn_runs_live_idx').on('cairn_runs').columns(['workflow_name', 'updated_at']).where(LIVE_STATUSES).execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropIndex('cairn_runs_live_idx').execute();
  },
};
