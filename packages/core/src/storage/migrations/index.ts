/**
 * migrations — Cairn's schema as Kysely migrations, applied by Kysely's Migrator with Cairn's own
 * bookkeeping tables (`cairn_migrations`, `cairn_migrations_lock`). Never edit a released
 * migration: add a new one.
 */
import type { Migration, MigrationProvider } from 'kysely';
import { initial } from './0001-initial';
import { liveRunsIndex } from './0002-live-runs-index';

export { LIVE_STATUSES } from './0002-live-runs-index';

export const migrations: Readonly<Record<string, Migration>> = Object.freeze({
  '0001-initial': initial,
  '0002-live-runs-index': liveRunsIndex,
});

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => ({ ...migrations }),
};

export const MIGRATION_TABLE = 'cairn_migrations';
export const MIGRATION_LOCK_TABLE = 'cairn_migrations_lock';
