/**
 * The one PostgreSQL server of a bench invocation: CAIRN_BENCH_PG_URL, or a throwaway server from
 * @cairn/storage-postgres/testing. Every part gets its own database on it (created fresh, dropped
 * afterwards), and a monitor connection to the `postgres` database reads the commit counters.
 */
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { startThrowawayPostgres, type ThrowawayPostgres } from '@cairn/storage-postgres/testing';

export interface BenchPostgres {
  /** Connection to the admin database, for DDL and counters (never to a bench database). */
  monitor: pg.Client;
  version: string;
  /** The settings that matter for durability and throughput, as `name=value` pairs. */
  settings: string;
  /** Drops `name` if it exists, creates it, and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Waits for the database's connections to go, then drops it. */
  dropDatabase(name: string): Promise<void>;
  close(): Promise<void>;
}

export async function openBenchPostgres(): Promise<BenchPostgres> {
  const external = process.env.CAIRN_BENCH_PG_URL;
  let server: ThrowawayPostgres | undefined;
  if (!external) server = await startThrowawayPostgres();
  const adminUrl = external ?? server!.urlFor('postgres');
  const monitor = new pg.Client({ connectionString: adminUrl });
  try {
    await monitor.connect();
  } catch (error) {
    server?.stop();
    throw error;
  }
  const info = await monitor.query<{ server_version: string }>('show server_version');
  const settings = await monitor.query<{ name: string; setting: string }>(
    "select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers', 'commit_delay', 'max_connections', 'max_wal_size') order by name",
  );
  const urlFor = (database: string): string => {
    const u = new URL(adminUrl);
    u.pathname = `/${database}`;
    return u.toString();
  };
  return {
    monitor,
    version: info.rows[0]!.server_version,
    settings: settings.rows.map((r) => `${r.name}=${r.setting}`).join(' '),
    async createDatabase(name) {
      await waitForDisconnect(monitor, name);
      await monitor.query(`drop database if exists ${name}`);
      await monitor.query(`create database ${name}`);
      return urlFor(name);
    },
    async dropDatabase(name) {
      await waitForDisconnect(monitor, name);
      await monitor.query(`drop database if exists ${name}`);
    },
    async close() {
      await monitor.end().catch(() => undefined);
      server?.stop();
    },
  };
}

/** Waits (up to 10 s) until no client backend is connected to `database`. */
export async function waitForDisconnect(monitor: pg.Client, database: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await monitor.query<{ n: string }>("select count(*) as n from pg_stat_activity where datname = $1 and backend_type = 'client backend'", [database]);
    if (Number(rows[0]!.n) === 0) return;
    await delay(50);
  }
}

export interface PgCounters {
  xactCommit: number;
  xactRollback: number;
  walSync: number | null;
}

/**
 * Reads a database's commit count once every backend on it has exited (a backend flushes its
 * pending statistics on exit), from the monitor connection to another database so the monitor's
 * own transactions are not counted.
 */
export async function pgCounters(monitor: pg.Client, database: string): Promise<PgCounters> {
  await waitForDisconnect(monitor, database);
  await delay(300);
  await monitor.query('select pg_stat_clear_snapshot()');
  const db = await monitor.query<{ xact_commit: string; xact_rollback: string }>('select xact_commit, xact_rollback from pg_stat_database where datname = $1', [database]);
  // pg_stat_wal.wal_sync exists in PostgreSQL 14–17 (cluster-wide: includes the floor's and autovacuum's syncs).
  const wal = await monitor.query<{ wal_sync?: string }>('select * from pg_stat_wal').catch(() => ({ rows: [] as { wal_sync?: string }[] }));
  const walSync = wal.rows[0]?.wal_sync;
  return { xactCommit: Number(db.rows[0]?.xact_commit ?? 0), xactRollback: Number(db.rows[0]?.xact_rollback ?? 0), walSync: walSync === undefined ? null : Number(walSync) };
}
