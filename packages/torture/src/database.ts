/**
 * database — the driver's own access to the database under test, for the two backends: install
 * the audit triggers, watch progress, expire leases behind the workers' backs (the chaos), see
 * who holds which lease, and read everything back for the verifier. It never goes through Cairn.
 * On PostgreSQL its connection calls itself `driver` (the audit's writer name); every query is
 * retried across the server restart the chaos causes.
 */
import pg from 'pg';
import type Database from 'better-sqlite3';
import { AUDIT_SELECT, openSqlite, POSTGRES_AUDIT_DDL, SQLITE_AUDIT_DDL, toAuditRow, type AuditRow, type RawAuditRow } from './audit';
import { PARENT } from './workflow';

export const DRIVER = 'driver';
const DRIVER_BUSY_MS = 200;

export interface RunRow {
  id: string;
  workflow: string;
  trackingId: string;
  status: string;
  output: string | null;
  parentRunId: string | null;
  epoch: number;
  wakeAt: number | null;
}

export interface StepRow {
  runId: string;
  name: string;
  status: string;
  attempts: number;
  output: string | null;
  childRunId: string | null;
}

export interface LeaseRow {
  runId: string;
  owner: string;
  epoch: number;
}

/** Everything the verifier reads from the database once the chaos is over. */
export interface Snapshot {
  runs: RunRow[];
  steps: StepRow[];
  /** step_completed events per (run, node). */
  completions: { runId: string; node: string; n: number }[];
  audit: AuditRow[];
}

export interface TortureDb {
  installAudit(): Promise<void>;
  /** Parent runs by status. */
  progress(): Promise<{ completed: number; failed: number }>;
  /** Running runs holding a live lease whose last write is at least `idleMs` old (a step is in flight). */
  expiryCandidates(idleMs: number): Promise<LeaseRow[]>;
  /** Moves the lease's expiry into the past if it is still exactly this lease; true if it did. */
  expire(lease: LeaseRow): Promise<boolean>;
  /** Running runs leased to `owner`. */
  leasesOf(owner: string): Promise<LeaseRow[]>;
  /** Current lease epoch of each run. */
  epochs(runIds: string[]): Promise<Map<string, number>>;
  /**
   * Whether `writer` (a stopped worker) is holding a transaction open. Its row locks (PostgreSQL)
   * or the write lock (SQLite) would keep every other worker from taking its runs over.
   */
  holdsTransaction(writer: string): Promise<boolean>;
  snapshot(): Promise<Snapshot>;
  close(): Promise<void>;
}

interface RawRun {
  id: string;
  workflow_name: string;
  tracking_id: string;
  status: string;
  output: string | null;
  parent_run_id: string | null;
  lease_epoch: number | string;
  wake_at: number | string | null;
}

interface RawStep {
  run_id: string;
  name: string;
  status: string;
  attempts: number | string;
  output: string | null;
  child_run_id: string | null;
}

interface RawLease {
  id: string;
  lease_owner: string;
  lease_epoch: number | string;
}

const toRun = (r: RawRun): RunRow => ({ id: r.id, workflow: r.workflow_name, trackingId: r.tracking_id, status: r.status, output: r.output, parentRunId: r.parent_run_id, epoch: Number(r.lease_epoch), wakeAt: r.wake_at === null ? null : Number(r.wake_at) });
const toStep = (r: RawStep): StepRow => ({ runId: r.run_id, name: r.name, status: r.status, attempts: Number(r.attempts), output: r.output, childRunId: r.child_run_id });
const toLease = (r: RawLease): LeaseRow => ({ runId: r.id, owner: r.lease_owner, epoch: Number(r.lease_epoch) });

const RUNS = 'select id, workflow_name, tracking_id, status, output, parent_run_id, lease_epoch, wake_at from cairn_runs';
const STEPS = 'select run_id, name, status, attempts, output, child_run_id from cairn_steps';
const COMPLETIONS = "select run_id, node, count(*) as n from cairn_events where type = 'step_completed' group by run_id, node";
const PROGRESS = `select status, count(*) as n from cairn_runs where workflow_name = '${PARENT}' group by status`;

function tally(rows: { status: string; n: number | string }[]): { completed: number; failed: number } {
  const count = (status: string): number => Number(rows.find((r) => r.status === status)?.n ?? 0);
  return { completed: count('completed'), failed: count('failed') };
}

/** The URL with application_name set: the identity the audit triggers record for this connection. */
export function withApplicationName(url: string, name: string): string {
  const u = new URL(url);
  u.searchParams.set('application_name', name);
  return u.toString();
}

class PostgresTortureDb implements TortureDb {
  private readonly pool: pg.Pool;

  constructor(url: string) {
    this.pool = new pg.Pool({ connectionString: withApplicationName(url, DRIVER), max: 3 });
    this.pool.on('error', () => undefined);
  }

  /** A query, retried for up to a minute while the server is restarting or refusing connections. */
  private async query<T>(text: string, values: unknown[] = []): Promise<T[]> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        return (await this.pool.query(text, values)).rows as T[];
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        const message = error instanceof Error ? error.message : String(error);
        const transient = (typeof code === 'string' && (code.startsWith('08') || code.startsWith('57P') || code === 'ECONNREFUSED' || code === 'ECONNRESET')) || /terminat|Connection|ECONNREFUSED/i.test(message);
        if (!transient || Date.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private readonly now = '(extract(epoch from statement_timestamp()) * 1000)::bigint';

  async installAudit(): Promise<void> {
    for (const statement of POSTGRES_AUDIT_DDL) await this.query(statement);
  }

  async progress(): Promise<{ completed: number; failed: number }> {
    return tally(await this.query<{ status: string; n: string }>(PROGRESS));
  }

  async expiryCandidates(idleMs: number): Promise<LeaseRow[]> {
    const rows = await this.query<RawLease>(
      `select id, lease_owner, lease_epoch from cairn_runs where status = 'running' and lease_owner is not null and lease_expires_at > ${this.now} and updated_at < ${this.now} - $1 order by id`,
      [idleMs],
    );
    return rows.map(toLease);
  }

  async expire(lease: LeaseRow): Promise<boolean> {
    const rows = await this.query(`update cairn_runs set lease_expires_at = 0 where id = $1 and lease_owner = $2 and lease_epoch = $3 and status = 'running' returning id`, [lease.runId, lease.owner, lease.epoch]);
    return rows.length === 1;
  }

  async leasesOf(owner: string): Promise<LeaseRow[]> {
    return (await this.query<RawLease>(`select id, lease_owner, lease_epoch from cairn_runs where status = 'running' and lease_owner = $1 order by id`, [owner])).map(toLease);
  }

  async epochs(runIds: string[]): Promise<Map<string, number>> {
    const rows = await this.query<{ id: string; lease_epoch: string }>('select id, lease_epoch from cairn_runs where id = any($1)', [runIds]);
    return new Map(rows.map((r) => [r.id, Number(r.lease_epoch)]));
  }

  async holdsTransaction(writer: string): Promise<boolean> {
    const rows = await this.query<{ n: string }>(`select count(*) as n from pg_stat_activity where application_name = $1 and state like 'idle in transaction%'`, [writer]);
    return Number(rows[0]?.n ?? 0) > 0;
  }

  async snapshot(): Promise<Snapshot> {
    return {
      runs: (await this.query<RawRun>(RUNS)).map(toRun),
      steps: (await this.query<RawStep>(STEPS)).map(toStep),
      completions: (await this.query<{ run_id: string; node: string; n: string }>(COMPLETIONS)).map((r) => ({ runId: r.run_id, node: r.node, n: Number(r.n) })),
      audit: (await this.query<RawAuditRow>(AUDIT_SELECT)).map(toAuditRow),
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

class SqliteTortureDb implements TortureDb {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = openSqlite(file, DRIVER);
    // better-sqlite3 waits for a lock synchronously: the driver's event loop (the chaos, the SIGCONT
    // of a stopped worker that may hold the lock) must never be frozen for long.
    this.db.pragma(`busy_timeout = ${DRIVER_BUSY_MS}`);
    this.db.pragma('journal_mode = WAL');
  }

  /**
   * A write in a BEGIN IMMEDIATE transaction (a deferred one could fail with SQLITE_BUSY_SNAPSHOT),
   * tried `attempts` times; undefined if the lock stayed busy.
   */
  private write<T>(fn: () => T, attempts: number): T | undefined {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        return this.db.transaction(fn).immediate();
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (typeof code !== 'string' || !code.startsWith('SQLITE_BUSY')) throw error;
      }
    }
    return undefined;
  }

  async installAudit(): Promise<void> {
    const done = this.write(() => {
      for (const statement of SQLITE_AUDIT_DDL) this.db.exec(statement);
      return true;
    }, 100);
    if (!done) throw new Error('could not install the audit triggers: the SQLite file stayed locked');
  }

  async progress(): Promise<{ completed: number; failed: number }> {
    return tally(this.db.prepare(PROGRESS).all() as { status: string; n: number }[]);
  }

  async expiryCandidates(idleMs: number): Promise<LeaseRow[]> {
    const now = Date.now();
    const rows = this.db
      .prepare(`select id, lease_owner, lease_epoch from cairn_runs where status = 'running' and lease_owner is not null and lease_expires_at > ? and updated_at < ? order by id`)
      .all(now, now - idleMs) as RawLease[];
    return rows.map(toLease);
  }

  async expire(lease: LeaseRow): Promise<boolean> {
    // One try: when the file is busy, this round skips the lease.
    return this.write(() => this.db.prepare(`update cairn_runs set lease_expires_at = 0 where id = ? and lease_owner = ? and lease_epoch = ? and status = 'running'`).run(lease.runId, lease.owner, lease.epoch).changes === 1, 1) ?? false;
  }

  async leasesOf(owner: string): Promise<LeaseRow[]> {
    return (this.db.prepare(`select id, lease_owner, lease_epoch from cairn_runs where status = 'running' and lease_owner = ? order by id`).all(owner) as RawLease[]).map(toLease);
  }

  async epochs(runIds: string[]): Promise<Map<string, number>> {
    const statement = this.db.prepare('select lease_epoch from cairn_runs where id = ?');
    const found = new Map<string, number>();
    for (const id of runIds) {
      const row = statement.get(id) as { lease_epoch: number } | undefined;
      if (row) found.set(id, Number(row.lease_epoch));
    }
    return found;
  }

  /** Someone keeps the write lock for 2 s: with the workers' transactions lasting milliseconds, the stopped one. */
  async holdsTransaction(): Promise<boolean> {
    this.db.pragma('busy_timeout = 2000');
    try {
      return this.write(() => true, 1) === undefined;
    } finally {
      this.db.pragma(`busy_timeout = ${DRIVER_BUSY_MS}`);
    }
  }

  async snapshot(): Promise<Snapshot> {
    return {
      runs: (this.db.prepare(RUNS).all() as RawRun[]).map(toRun),
      steps: (this.db.prepare(STEPS).all() as RawStep[]).map(toStep),
      completions: (this.db.prepare(COMPLETIONS).all() as { run_id: string; node: string; n: number }[]).map((r) => ({ runId: r.run_id, node: r.node, n: Number(r.n) })),
      audit: (this.db.prepare(AUDIT_SELECT).all() as RawAuditRow[]).map(toAuditRow),
    };
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

export function openTortureDb(backend: 'postgres' | 'sqlite', target: string): TortureDb {
  return backend === 'postgres' ? new PostgresTortureDb(target) : new SqliteTortureDb(target);
}
