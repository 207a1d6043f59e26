/**
 * Statement profiles: Cairn running workload W on a driver whose statements are counted and timed
 * (a wrapped pg client, a wrapped better-sqlite3 `prepare`), to show where a run's time goes.
 */
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Runner } from '@cairn/core';
import { PostgresStorage } from '@cairn/storage-postgres';
import { SqliteStorage } from '@cairn/storage-sqlite';
import { concurrent, sequential, type RunFn } from './measure';
import { observePool, observeSqlite } from './observe';
import { fmt, markdown } from './report';
import { WorkloadW, silentLogger } from './workload';

export interface StatementProfile {
  backend: string;
  runs: number;
  concurrency: number;
  statementsPerRun: number;
  /** Mean time per run spent waiting on the driver (sum over the run's statements), ms; at C=1 only. */
  driverMsPerRun: number | null;
  /** Mean wall time per run, ms. */
  wallMsPerRun: number;
  byStatement: { sql: string; perRun: number; meanMs: number }[];
}

/** Counts and times statements by their SQL text (parameters and the schema prefix stripped). */
export class StatementCounter {
  private readonly stats = new Map<string, { count: number; ms: number }>();
  reset(): void {
    this.stats.clear();
  }
  record(sql: string, ms: number): void {
    const key = sql.replace(/\s+/g, ' ').replace(/"cairn"\./g, '').replace(/\(\$?\d+(, \$?\d+)*\)|\$\d+/g, '…').trim().slice(0, 90);
    const entry = this.stats.get(key) ?? { count: 0, ms: 0 };
    entry.count += 1;
    entry.ms += ms;
    this.stats.set(key, entry);
  }
  summary(backend: string, runs: number, concurrency: number, wallMs: number): StatementProfile {
    let total = 0;
    let ms = 0;
    for (const s of this.stats.values()) {
      total += s.count;
      ms += s.ms;
    }
    const byStatement = [...this.stats.entries()].map(([sql, s]) => ({ sql, perRun: s.count / runs, meanMs: s.ms / s.count })).sort((a, b) => b.perRun - a.perRun);
    return { backend, runs, concurrency, statementsPerRun: total / runs, driverMsPerRun: concurrency === 1 ? ms / runs : null, wallMsPerRun: wallMs / runs, byStatement };
  }
}

/** Cairn on a pg Pool whose clients count and time every statement. */
export async function profilePostgres(url: string, runs: number, concurrency: number): Promise<StatementProfile> {
  const counter = new StatementCounter();
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  observePool(pool, (sql, _params, ms) => counter.record(sql, ms));
  const runner = new Runner({ storage: new PostgresStorage({ pool, schema: 'cairn' }), workflows: [WorkloadW], logger: silentLogger });
  const run: RunFn = (trackingId, input) => runner.run(WorkloadW, input, trackingId);
  await concurrent(run, 50, concurrency, 'profile-pg-warm');
  counter.reset();
  const t0 = performance.now();
  if (concurrency === 1) await sequential(run, runs, 'profile-pg-c1');
  else await concurrent(run, runs, concurrency, 'profile-pg-cN');
  const wall = performance.now() - t0;
  await runner.close();
  await pool.end();
  return counter.summary('postgres', runs, concurrency, wall);
}

/** Cairn on a better-sqlite3 database whose statements are counted and timed. */
export async function profileSqlite(filename: string, runs: number): Promise<StatementProfile> {
  const counter = new StatementCounter();
  const db = new Database(filename);
  observeSqlite(db, (sql, _params, ms) => counter.record(sql, ms));
  const runner = new Runner({ storage: new SqliteStorage({ database: db, synchronous: 'NORMAL' }), workflows: [WorkloadW], logger: silentLogger });
  await runner.migrate();
  const run: RunFn = (trackingId, input) => runner.run(WorkloadW, input, trackingId);
  await sequential(run, 50, 'profile-sqlite-warm');
  counter.reset();
  const t0 = performance.now();
  await sequential(run, runs, 'profile-sqlite-c1');
  const wall = performance.now() - t0;
  await runner.close();
  return counter.summary('sqlite NORMAL', runs, 1, wall);
}

export function profileReport(p: StatementProfile): string {
  return [
    `statement profile — Cairn on ${p.backend}, C=${p.concurrency}, ${p.runs} runs: ${fmt(p.statementsPerRun)} statements/run, wall ${fmt(p.wallMsPerRun, 3)} ms/run${p.driverMsPerRun !== null ? `, in the driver ${fmt(p.driverMsPerRun, 3)} ms/run` : ''}`,
    markdown(
      ['statement', 'per run', 'mean ms'],
      p.byStatement.map((s) => [s.sql, fmt(s.perRun), fmt(s.meanMs, 3)]),
    ),
  ].join('\n');
}
