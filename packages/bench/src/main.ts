/**
 * Cairn benchmarks, workload W (issue 4, first part): Cairn vs the raw durable floor, same driver,
 * same invocation, on SQLite (WAL, synchronous NORMAL and FULL) and PostgreSQL (fsync on).
 *
 *   pnpm bench                      # build everything, then this with the defaults
 *   pnpm bench -- --runs 300        # a quick pass
 *   pnpm bench -- --only sqlite     # one backend family
 *
 * Writes a table to stdout and packages/bench/results/latest.json.
 * CAIRN_BENCH_PG_URL=postgres://… uses your server (it creates and drops database cairn_bench).
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Runner } from '@cairn/core';
import { PostgresStorage } from '@cairn/storage-postgres';
import { SqliteStorage } from '@cairn/storage-sqlite';
import { postgresFloor, sqliteFloor, type Floor } from './floor';
import { startThrowawayPostgres, type ThrowawayPostgres } from '@cairn/storage-postgres/testing';
import { STEPS, WorkloadW, silentLogger } from './workload';

// ---- command line ---------------------------------------------------------------------------------

interface Cli {
  runs: number;
  warmup: number;
  concurrency: number;
  only: 'all' | 'sqlite' | 'postgres';
  profile: boolean;
}

function parseCli(argv: string[]): Cli {
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      runs: { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '32' },
      only: { type: 'string', default: 'all' },
      'no-profile': { type: 'boolean', default: false },
    },
  });
  const int = (name: string, value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1) throw new Error(`--${name} must be a positive integer (got '${value}')`);
    return n;
  };
  const only = values.only;
  if (only !== 'all' && only !== 'sqlite' && only !== 'postgres') throw new Error(`--only must be all, sqlite or postgres (got '${only}')`);
  return { runs: int('runs', values.runs), warmup: int('warmup', values.warmup), concurrency: int('concurrency', values.concurrency), only, profile: !values['no-profile'] };
}

// ---- measuring ----------------------------------------------------------------------------------

type RunFn = (trackingId: string, input: unknown) => Promise<unknown>;

let sequence = 0;
/** A fresh tracking id for every run, across phases and systems. */
const nextTrackingId = (tag: string): string => `${tag}-${++sequence}`;

const percentile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;

interface SequentialResult {
  runs: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  runsPerSec: number;
}

interface ConcurrentResult {
  runs: number;
  concurrency: number;
  elapsedMs: number;
  runsPerSec: number;
  stepsPerSec: number;
}

async function sequential(fn: RunFn, runs: number, tag: string): Promise<SequentialResult> {
  const latencies: number[] = [];
  const begin = performance.now();
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn(nextTrackingId(tag), { n: i });
    latencies.push(performance.now() - t0);
  }
  const elapsed = performance.now() - begin;
  latencies.sort((a, b) => a - b);
  return { runs, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99), meanMs: elapsed / runs, runsPerSec: (runs * 1000) / elapsed };
}

/** `concurrency` runs in flight until `runs` have finished (a simple promise pool). */
async function concurrent(fn: RunFn, runs: number, concurrency: number, tag: string): Promise<ConcurrentResult> {
  let next = 0;
  const begin = performance.now();
  const lane = async (): Promise<void> => {
    while (next < runs) {
      const i = next++;
      await fn(nextTrackingId(tag), { n: i });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, runs) }, lane));
  const elapsedMs = performance.now() - begin;
  const runsPerSec = (runs * 1000) / elapsedMs;
  return { runs, concurrency, elapsedMs, runsPerSec, stepsPerSec: runsPerSec * STEPS.length };
}

// ---- systems under test ----------------------------------------------------------------------------

/** One measured system on one backend: opened fresh for each phase, closed after it. */
interface System {
  open(): Promise<{ run: RunFn; close(): Promise<void> }>;
}

function cairnSystem(storage: () => SqliteStorage | PostgresStorage): System {
  return {
    async open() {
      const runner = new Runner({ storage: storage(), workflows: [WorkloadW], logger: silentLogger });
      return { run: (trackingId, input) => runner.run(WorkloadW, input, trackingId), close: () => runner.close() };
    },
  };
}

function floorSystem(open: () => Floor | Promise<Floor>): System {
  return {
    async open() {
      const floor = await open();
      return { run: (trackingId, input) => floor.run(trackingId, input), close: () => floor.close() };
    },
  };
}

// ---- PostgreSQL counters ------------------------------------------------------------------------------

interface PgCounters {
  xactCommit: number;
  xactRollback: number;
  walSync: number | null;
}

/**
 * Reads the bench database's commit count once every backend on it has exited (a backend flushes
 * its pending statistics on exit), from a monitor connection to another database so the monitor's
 * own transactions are not counted.
 */
async function pgCounters(monitor: pg.Client, database: string): Promise<PgCounters> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await monitor.query<{ n: string }>("select count(*) as n from pg_stat_activity where datname = $1 and backend_type = 'client backend'", [database]);
    if (Number(rows[0]!.n) === 0) break;
    await delay(50);
  }
  await delay(300);
  await monitor.query('select pg_stat_clear_snapshot()');
  const db = await monitor.query<{ xact_commit: string; xact_rollback: string }>('select xact_commit, xact_rollback from pg_stat_database where datname = $1', [database]);
  // pg_stat_wal.wal_sync exists in PostgreSQL 14–17 (cluster-wide: includes the floor's and autovacuum's syncs).
  const wal = await monitor.query<{ wal_sync?: string }>('select * from pg_stat_wal').catch(() => ({ rows: [] as { wal_sync?: string }[] }));
  const walSync = wal.rows[0]?.wal_sync;
  return { xactCommit: Number(db.rows[0]!.xact_commit), xactRollback: Number(db.rows[0]!.xact_rollback), walSync: walSync === undefined ? null : Number(walSync) };
}

/** Busy CPU time of the whole machine so far, in ms (Linux /proc/stat), or null elsewhere. */
function machineBusyMs(): number | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return ((user + nice + system + irq + softirq + steal) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

// ---- phases -------------------------------------------------------------------------------------------

interface PhaseCounts {
  commitsPerRun: number;
  rollbacksPerRun: number;
  walSyncsPerRun: number | null;
}

interface SystemResult {
  backend: string;
  system: 'cairn' | 'floor';
  /**
   * nodeCpuMsPerRun: this process's CPU time (user + system) per measured run, all threads.
   * machineCpuMsPerRun: the whole machine's busy CPU time per run (/proc/stat; includes PostgreSQL
   * and anything else running on a noisy machine).
   */
  c1: SequentialResult & { nodeCpuMsPerRun: number; machineCpuMsPerRun: number | null; counts?: PhaseCounts };
  cN: ConcurrentResult & { nodeCpuMsPerRun: number; machineCpuMsPerRun: number | null; counts?: PhaseCounts };
}

interface PgMonitor {
  client: pg.Client;
  database: string;
}

async function withCounts<T extends object>(monitor: PgMonitor | undefined, runs: number, body: () => Promise<T>): Promise<T & { counts?: PhaseCounts }> {
  const before = monitor ? await pgCounters(monitor.client, monitor.database) : undefined;
  const result = await body();
  if (!monitor || !before) return result;
  const after = await pgCounters(monitor.client, monitor.database);
  const counts: PhaseCounts = {
    commitsPerRun: (after.xactCommit - before.xactCommit) / runs,
    rollbacksPerRun: (after.xactRollback - before.xactRollback) / runs,
    walSyncsPerRun: after.walSync !== null && before.walSync !== null ? (after.walSync - before.walSync) / runs : null,
  };
  return { ...result, counts };
}

/** Warm-up then measurement, in a freshly opened system that is closed afterwards (so counters flush). */
async function phase<T extends object>(
  system: System,
  cli: Cli,
  monitor: PgMonitor | undefined,
  measure: (run: RunFn) => Promise<T>,
  warm: (run: RunFn) => Promise<unknown>,
): Promise<T & { nodeCpuMsPerRun: number; machineCpuMsPerRun: number | null; counts?: PhaseCounts }> {
  return withCounts(monitor, cli.warmup + cli.runs, async () => {
    const opened = await system.open();
    try {
      await warm(opened.run);
      const cpu = process.cpuUsage();
      const machine = machineBusyMs();
      const result = await measure(opened.run);
      const used = process.cpuUsage(cpu);
      const busy = machine === null ? null : (machineBusyMs() ?? machine) - machine;
      return { ...result, nodeCpuMsPerRun: (used.user + used.system) / 1000 / cli.runs, machineCpuMsPerRun: busy === null ? null : busy / cli.runs };
    } finally {
      await opened.close();
    }
  });
}

async function measureBackend(backend: string, systems: { cairn: System; floor: System }, cli: Cli, monitor?: PgMonitor): Promise<SystemResult[]> {
  const log = (what: string): void => void process.stderr.write(`  ${backend.padEnd(16)} ${what}\n`);
  const c1 = async (name: 'cairn' | 'floor'): Promise<SystemResult['c1']> => {
    log(`${name} C=1`);
    return phase(systems[name], cli, monitor, (run) => sequential(run, cli.runs, `${backend}-${name}-c1`), (run) => sequential(run, cli.warmup, `${backend}-${name}-warm1`));
  };
  const cN = async (name: 'cairn' | 'floor'): Promise<SystemResult['cN']> => {
    log(`${name} C=${cli.concurrency}`);
    return phase(
      systems[name],
      cli,
      monitor,
      (run) => concurrent(run, cli.runs, cli.concurrency, `${backend}-${name}-cN`),
      (run) => concurrent(run, cli.warmup, cli.concurrency, `${backend}-${name}-warmN`),
    );
  };
  // Interleaved (floor, Cairn, floor, Cairn) so slow drift on a noisy machine hits both alike.
  const floor1 = await c1('floor');
  const cairn1 = await c1('cairn');
  const floorN = await cN('floor');
  const cairnN = await cN('cairn');
  return [
    { backend, system: 'floor', c1: floor1, cN: floorN },
    { backend, system: 'cairn', c1: cairn1, cN: cairnN },
  ];
}

// ---- statement profile ---------------------------------------------------------------------------------

interface StatementProfile {
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

class StatementCounter {
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

type QueryFn = (...args: unknown[]) => unknown;

/** Cairn on a pg Pool whose clients count and time every statement. */
async function profilePostgres(url: string, runs: number, concurrency: number): Promise<StatementProfile> {
  const counter = new StatementCounter();
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('connect', (client) => {
    const target = client as unknown as { query: QueryFn };
    const original = target.query.bind(client) as QueryFn;
    target.query = (...args: unknown[]) => {
      const first = args[0];
      const text = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '?');
      const t0 = performance.now();
      const result = original(...args);
      if (result instanceof Promise) return result.finally(() => counter.record(text, performance.now() - t0));
      counter.record(text, 0);
      return result;
    };
  });
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
async function profileSqlite(filename: string, runs: number): Promise<StatementProfile> {
  const counter = new StatementCounter();
  const db = new Database(filename);
  const prepare = db.prepare.bind(db);
  db.prepare = ((source: string) => {
    const statement = prepare(source) as unknown as Record<string, QueryFn>;
    for (const method of ['run', 'all', 'get', 'iterate']) {
      const original = statement[method]!.bind(statement);
      statement[method] = (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return original(...args);
        } finally {
          counter.record(source, performance.now() - t0);
        }
      };
    }
    return statement;
  }) as unknown as typeof db.prepare;
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

// ---- report ------------------------------------------------------------------------------------------------

const fmt = (n: number | null | undefined, digits = 2): string => (n === null || n === undefined || Number.isNaN(n) ? '–' : n.toFixed(digits));

function table(results: SystemResult[], concurrency: number): string {
  const head = ['backend', 'system', 'C=1 p50 ms', 'C=1 p99 ms', 'C=1 runs/s', `C=${concurrency} runs/s`, `C=${concurrency} steps/s`, 'node CPU ms/run C=1', `node CPU ms/run C=${concurrency}`, `machine CPU ms/run C=${concurrency}`, 'commits/run C=1', `commits/run C=${concurrency}`, 'WAL syncs/run C=1', `WAL syncs/run C=${concurrency}`];
  const rows = results.map((r) => [
    r.backend,
    r.system,
    fmt(r.c1.p50Ms, 3),
    fmt(r.c1.p99Ms, 3),
    fmt(r.c1.runsPerSec, 0),
    fmt(r.cN.runsPerSec, 0),
    fmt(r.cN.stepsPerSec, 0),
    fmt(r.c1.nodeCpuMsPerRun, 3),
    fmt(r.cN.nodeCpuMsPerRun, 3),
    fmt(r.cN.machineCpuMsPerRun, 3),
    fmt(r.c1.counts?.commitsPerRun),
    fmt(r.cN.counts?.commitsPerRun),
    fmt(r.c1.counts?.walSyncsPerRun),
    fmt(r.cN.counts?.walSyncsPerRun),
  ]);
  return markdown(head, rows);
}

function markdown(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (i < 2 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...rows.map(line)].join('\n');
}

interface Ratio {
  backend: string;
  /** Cairn C=1 p50 ÷ floor C=1 p50 (lower is better). */
  c1P50: number;
  /** Cairn C=1 runs/s ÷ floor C=1 runs/s (sequential throughput, higher is better). */
  c1RunsPerSec: number;
  /** Cairn C=N runs/s ÷ floor C=N runs/s (higher is better). */
  cNRunsPerSec: number;
}

interface Target {
  target: string;
  measured: string;
  met: boolean;
}

function ratios(results: SystemResult[]): Ratio[] {
  const backends = [...new Set(results.map((r) => r.backend))];
  return backends.map((backend) => {
    const cairn = results.find((r) => r.backend === backend && r.system === 'cairn')!;
    const floor = results.find((r) => r.backend === backend && r.system === 'floor')!;
    return { backend, c1P50: cairn.c1.p50Ms / floor.c1.p50Ms, c1RunsPerSec: cairn.c1.runsPerSec / floor.c1.runsPerSec, cNRunsPerSec: cairn.cN.runsPerSec / floor.cN.runsPerSec };
  });
}

function targets(results: SystemResult[], rs: Ratio[], concurrency: number): Target[] {
  const out: Target[] = [];
  const pgRatio = rs.find((r) => r.backend === 'postgres');
  if (pgRatio) {
    out.push({ target: `PostgreSQL C=${concurrency}: Cairn runs/s ≥ 1.0× floor`, measured: `${fmt(pgRatio.cNRunsPerSec)}×`, met: pgRatio.cNRunsPerSec >= 1.0 });
    out.push({ target: 'PostgreSQL C=1: Cairn p50 ≤ 1.25× floor', measured: `${fmt(pgRatio.c1P50)}×`, met: pgRatio.c1P50 <= 1.25 });
    const cairn = results.find((r) => r.backend === 'postgres' && r.system === 'cairn')!;
    const commits = Math.max(cairn.c1.counts?.commitsPerRun ?? Infinity, cairn.cN.counts?.commitsPerRun ?? Infinity);
    out.push({ target: 'PostgreSQL: ≤ 4 commits per 3-step run', measured: `${fmt(cairn.c1.counts?.commitsPerRun)} (C=1), ${fmt(cairn.cN.counts?.commitsPerRun)} (C=${concurrency})`, met: commits <= 4.0001 });
  }
  for (const r of rs.filter((x) => x.backend.startsWith('sqlite'))) {
    out.push({ target: `${r.backend} C=1: Cairn ≥ 0.8× floor (runs/s)`, measured: `${fmt(r.c1RunsPerSec)}× (p50 ratio ${fmt(r.c1P50)}×)`, met: r.c1RunsPerSec >= 0.8 });
    out.push({ target: `${r.backend} C=${concurrency}: Cairn ≥ 0.8× floor (runs/s)`, measured: `${fmt(r.cNRunsPerSec)}×`, met: r.cNRunsPerSec >= 0.8 });
  }
  return out;
}

// ---- main ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  const started = new Date();
  const work = mkdtempSync(join(tmpdir(), 'cairn-bench-'));
  const results: SystemResult[] = [];
  const profiles: StatementProfile[] = [];
  const versions: Record<string, string> = { node: process.version };
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const sources = ['core', 'storage-sqlite', 'storage-postgres'].map((name) => join(__dirname, '..', '..', name, 'src'));
    const dirty = execFileSync('git', ['status', '--porcelain', '--', ...sources], { encoding: 'utf8', cwd: __dirname, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    versions.cairn = dirty ? `${head} + uncommitted engine changes` : head;
  } catch {
    // not a git checkout
  }
  let server: ThrowawayPostgres | undefined;
  let fsType = 'unknown';
  try {
    fsType = execFileSync('df', ['-T', work], { encoding: 'utf8' }).trim().split('\n')[1]?.split(/\s+/)[1] ?? 'unknown';
  } catch {
    // no df
  }
  process.stderr.write(`cairn bench: ${cli.runs} runs (+${cli.warmup} warm-up) per phase, C=1 and C=${cli.concurrency}, files in ${work} (${fsType})\n`);
  try {
    if (cli.only !== 'postgres') {
      const probe = new Database(':memory:');
      versions.sqlite = (probe.prepare('select sqlite_version() as v').get() as { v: string }).v;
      probe.close();
      for (const synchronous of ['NORMAL', 'FULL'] as const) {
        const dir = join(work, `sqlite-${synchronous.toLowerCase()}`);
        mkdirSync(dir);
        const cairnFile = join(dir, 'cairn.db');
        const migrator = new Runner({ storage: new SqliteStorage({ filename: cairnFile, synchronous }), workflows: [WorkloadW], logger: silentLogger });
        await migrator.migrate();
        await migrator.close();
        results.push(
          ...(await measureBackend(
            `sqlite ${synchronous}`,
            { cairn: cairnSystem(() => new SqliteStorage({ filename: cairnFile, synchronous })), floor: floorSystem(() => sqliteFloor(join(dir, 'floor.db'), synchronous)) },
            cli,
          )),
        );
      }
      if (cli.profile) profiles.push(await profileSqlite(join(work, 'profile.db'), Math.min(cli.runs, 500)));
    }
    if (cli.only !== 'sqlite') {
      const external = process.env.CAIRN_BENCH_PG_URL;
      if (!external) server = await startThrowawayPostgres();
      const adminUrl = external ?? server!.urlFor('postgres');
      const database = 'cairn_bench';
      const monitor = new pg.Client({ connectionString: adminUrl });
      await monitor.connect();
      try {
        await monitor.query(`drop database if exists ${database}`);
        await monitor.query(`create database ${database}`);
        const url = (() => {
          const u = new URL(adminUrl);
          u.pathname = `/${database}`;
          return u.toString();
        })();
        const info = await monitor.query<{ server_version: string }>('show server_version');
        versions.postgres = info.rows[0]!.server_version;
        const settings = await monitor.query<{ name: string; setting: string }>("select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers', 'commit_delay', 'max_connections')");
        versions.postgresSettings = settings.rows.map((r) => `${r.name}=${r.setting}`).join(' ');
        const migrator = new Runner({ storage: new PostgresStorage({ connectionString: url, schema: 'cairn' }), workflows: [WorkloadW], logger: silentLogger });
        await migrator.migrate();
        await migrator.close();
        results.push(
          ...(await measureBackend(
            'postgres',
            { cairn: cairnSystem(() => new PostgresStorage({ connectionString: url, schema: 'cairn' })), floor: floorSystem(() => postgresFloor(url, 'floor')) },
            cli,
            { client: monitor, database },
          )),
        );
        if (cli.profile) {
          profiles.push(await profilePostgres(url, Math.min(cli.runs, 500), 1));
          profiles.push(await profilePostgres(url, Math.min(cli.runs, 500), cli.concurrency));
        }
        await pgCounters(monitor, database); // wait for the bench connections to go
        await monitor.query(`drop database if exists ${database}`);
      } finally {
        await monitor.end();
      }
    }
  } finally {
    server?.stop();
    rmSync(work, { recursive: true, force: true });
  }

  const rs = ratios(results);
  const ts = targets(results, rs, cli.concurrency);
  const machine = { nproc: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)), kernel: release(), filesystem: fsType };
  const report = [
    '',
    `machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGiB} GiB, Linux ${machine.kernel}, files on ${machine.filesystem}`,
    `versions: cairn ${versions.cairn ?? '?'}, node ${versions.node}${versions.sqlite ? `, SQLite ${versions.sqlite}` : ''}${versions.postgres ? `, PostgreSQL ${versions.postgres} (${versions.postgresSettings})` : ''}`,
    `workload W: 3 sequential no-op steps; ${cli.runs} runs per phase after ${cli.warmup} warm-up runs; every run its own tracking id`,
    '',
    table(results, cli.concurrency),
    '',
    markdown(
      ['backend', 'C=1 p50 ratio (Cairn ÷ floor)', 'C=1 runs/s ratio', `C=${cli.concurrency} runs/s ratio`],
      rs.map((r) => [r.backend, `${fmt(r.c1P50)}×`, `${fmt(r.c1RunsPerSec)}×`, `${fmt(r.cNRunsPerSec)}×`]),
    ),
    '',
    markdown(
      ['target', 'measured', 'met'],
      ts.map((t) => [t.target, t.measured, t.met ? 'yes' : 'NO']),
    ),
  ];
  for (const p of profiles) {
    report.push(
      '',
      `statement profile — Cairn on ${p.backend}, C=${p.concurrency}, ${p.runs} runs: ${fmt(p.statementsPerRun)} statements/run, wall ${fmt(p.wallMsPerRun, 3)} ms/run${p.driverMsPerRun !== null ? `, in the driver ${fmt(p.driverMsPerRun, 3)} ms/run` : ''}`,
      markdown(
        ['statement', 'per run', 'mean ms'],
        p.byStatement.map((s) => [s.sql, fmt(s.perRun), fmt(s.meanMs, 3)]),
      ),
    );
  }
  process.stdout.write(`${report.join('\n')}\n`);

  const resultsDir = join(__dirname, '..', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const json = { startedAt: started.toISOString(), finishedAt: new Date().toISOString(), machine, versions, settings: { ...cli, steps: STEPS.length, postgresPoolSize: 10 }, results, ratios: rs, targets: ts, profiles };
  writeFileSync(join(resultsDir, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
  process.stderr.write(`results: ${join(resultsDir, 'latest.json')}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
