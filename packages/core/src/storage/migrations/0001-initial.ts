/** 0001 — the runs, steps and events tables, and the indexes claiming needs. */
import type { Kysely, Migration } from 'kysely';

export const initial: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('cairn_runs')
      .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('workflow_name', 'varchar(200)', (c) => c.notNull())
      .addColumn('workflow_version', 'integer', (c) => c.notNull())
      .addColumn('graph_hash', 'varchar(64)', (c) => c.notNull())
      .addColumn('tracking_id', 'varchar(512)', (c) => c.notNull())
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('input', 'text', (c) => c.notNull())
      .addColumn('output', 'text')
      .addColumn('error', 'text')
      .addColumn('parent_run_id', 'varchar(64)')
      .addColumn('parent_node', 'varchar(200)')
      .addColumn('lease_owner', 'varchar(200)')
      .addColumn('lease_epoch', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('lease_expires_at', 'bigint')
      .addColumn('wake_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('cairn_runs_tracking_uq', ['workflow_name', 'tracking_id'])
      .execute();
    await db.schema.createIndex('cairn_runs_status_wake_idx').on('cairn_runs').columns(['status', 'wake_at']).execute();
    await db.schema.createIndex('cairn_runs_status_lease_idx').on('cairn_runs').columns(['status', 'lease_expires_at']).execute();
    await db.schema.createIndex('cairn_runs_parent_idx').on('cairn_runs').column('parent_run_id').execute();

    await db.schema
      .createTable('cairn_steps')
      .addColumn('run_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('name', 'varchar(200)', (c) => c.notNull())
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('output', 'text')
      .addColumn('error', 'text')
      .addColumn('child_run_id', 'varchar(64)')
      .addColumn('wake_at', 'bigint')
      .addColumn('started_at', 'bigint')
      .addColumn('finished_at', 'bigint')
      .addPrimaryKeyConstraint('cairn_steps_pk', ['run_id', 'name'])
      .execute();

    await db.schema
      .createTable('cairn_events')
      .addColumn('run_id', 'varchar(64)', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('type', 'varchar(32)', (c) => c.notNull())
      .addColumn('node', 'varchar(200)')
      .addColumn('attempt', 'integer')
      .addColumn('detail', 'text')
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('cairn_events_pk', ['run_id', 'seq'])
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('cairn_events').execute();
    await db.schema.dropTable('cairn_steps').execute();
    await db.schema.dropTable('cairn_runs').execute();
  },
};
