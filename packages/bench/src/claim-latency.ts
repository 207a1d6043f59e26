/**
 * Start and claim latency on (nearly) empty tables vs tables holding 1M finished runs (issue 4
 * target: claim latency with 1M finished runs ≤ 1.2× empty). Per backend, two databases each get
 * one run of W that Cairn executes (the template); one is then filled set-based (fill.ts) with 1M
 * finished copies of it. The two are measured in alternating blocks, so drift on a noisy machine
 * hits both alike. Measured:
 *
 * - start: a client-role Runner's `start()` (enqueue: insert + NOTIFY, one commit);
 * - claim: `storage.claimDue()` right after that start, which finds and claims the one due run
 *   (the query a worker's `work()` loop runs), then the run is marked completed (untimed);
 * - idle poll: `claimDue()` when nothing is due (what every idle worker runs each poll);
 * - pickup (PostgreSQL): enqueue → a `work()`ing worker's `step_started` and `run_completed`
 *   events (NOTIFY wake-up, claim, first commit), in this process.
 *
 * PostgreSQL's full database is VACUUM ANALYZEd after the fill (autovacuum would do so soon).
 * SQLite's is measured first as Cairn leaves it (Cairn never runs ANALYZE, so SQLite has no
 * statistics), then after ANALYZE. The SQL of one claim is captured from the driver and EXPLAINed.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Runner, workflowName, type CairnEvent, type KyselyStorage } from '@cairn/core';
import { PostgresStorage } from '@cairn/storage-postgres';
import { SqliteStorage } from '@cairn/storage-sqlite';
import { analyzeTables, fillFinishedRuns, postgresTarget, sqliteTarget, type FillResult, type SqlTarget } from './fill';
import { latency, nextTrackingId, type Latency } from './measure';
import { observePool, observeSqlite } from './observe';
import { StatementCounter, type StatementProfile } from './profile';
import { fmt, markdown, progress } from './report';
import { WorkloadW, silentLogger } from './workload';

const SCHEMA = 'cairn';
const CLAIMER = 'bench-claimer';
const WORKFLOW = workflowName(WorkloadW);
/** Blocks per comparison: empty and full alternate, block by block. */
const BLOCKS = 5;
/** Warm-up iterations of each kind when a probe opens (at most 2 s of them). */
const WARMUP = 30;
/** A kind's loop in one block stops after this long, once it has a sample (a slow claim can take seconds). */
const BLOCK_BUDGET_MS = 2_000;

interface Captured {
  sql: string;
  params: unknown[];
}

/** A storage whose statements can be recorded, and a way to EXPLAIN what was recorded. */
interface ClaimBackend {
  name: 'postgres' | 'sqlite';
  /** A fresh storage on the bench database; statements are recorded into `capture` while it is set. */
  storage(): KyselyStorage;
  capture: Captured[] | undefined;
  /** While set, every statement's driver time is recorded here. */
  timing: StatementCounter | undefined;
  explain(statement: Captured): Promise<string[]>;
  target: SqlTarget;
  pickup: boolean;
  close(): Promise<void>;
}

function postgresBackend(url: string): ClaimBackend {
  const pools: pg.Pool[] = [];
  const explainer = new pg.Client({ connectionString: url });
  const connected = explainer.connect();
  const backend: ClaimBackend = {
    name: 'postgres',
    capture: undefined,
    timing: undefined,
    storage() {
      const pool = new pg.Pool({ connectionString: url, max: 10 });
      pools.push(pool);
      observePool(pool, (sql, params, ms) => {
        backend.capture?.push({ sql, params });
        backend.timing?.record(sql, ms);
      });
      return new PostgresStorage({ pool, schema: SCHEMA });
    },
    async explain(statement) {
      await connected;
      await explainer.query('begin');
      try {
        const { rows } = await explainer.query<{ 'QUERY PLAN': string }>(`explain (analyze, buffers) ${statement.sql}`, statement.params);
        return rows.map((r) => r['QUERY PLAN']);
      } finally {
        await explainer.query('rollback');
      }
    },
    target: postgresTarget(url, SCHEMA),
    pickup: true,
    async close() {
      await backend.target.close();
      await explainer.end();
      await Promise.all(pools.map((p) => p.end()));
    },
  };
  return backend;
}

function sqliteBackend(filename: string): ClaimBackend {
  const backend: ClaimBackend = {
    name: 'sqlite',
    capture: undefined,
    timing: undefined,
    storage() {
      const db = new Database(filename);
      observeSqlite(db, (sql, params, ms) => {
        backend.capture?.push({ sql, params });
        backend.timing?.record(sql, ms);
      });
      return new SqliteStorage({ database: db, synchronous: 'NORMAL' });
    },
    async explain(statement) {
      // A fresh connection: SQLite loads sqlite_stat1 when it opens, and plans with what it loaded.
      const explainer = new Database(filename, { readonly: true });
      try {
        const rows = explainer.prepare(`explain query plan ${statement.sql}`).all(...statement.params) as { detail: string }[];
        return rows.map((r) => r.detail);
      } finally {
        explainer.close();
      }
    },
    target: sqliteTarget(filename),
    pickup: false,
    async close() {
      await backend.target.close();
    },
  };
  return backend;
}

export interface ClaimLatencySet {
  /** Rows in cairn_runs when measured. */
  tableRuns: number;
  start: Latency;
  claim: Latency;
  idlePoll: Latency;
  /** Enqueue → the worker's first `step_started` event (PostgreSQL). */
  pickup?: Latency;
  /** Enqueue → the worker's `run_completed` event (PostgreSQL). */
  enqueueToDone?: Latency;
  /** PostgreSQL: WAL bytes written per start + claim + complete cycle (pg_current_wal_lsn). */
  walBytesPerCycle?: number;
  /** The statements of a start and of a claim, per start / claim, with their mean driver time. */
  statements: { start: StatementProfile['byStatement']; claim: StatementProfile['byStatement'] };
  /** EXPLAIN of the statements one claim ran (PostgreSQL: ANALYZE, BUFFERS; SQLite: QUERY PLAN). */
  plans: { sql: string; plan: string[] }[];
}

export interface ClaimLatencyResult {
  backend: string;
  samples: number;
  fill: FillResult;
  empty: ClaimLatencySet;
  /**
   * The filled database. PostgreSQL: after VACUUM ANALYZE. SQLite: as Cairn leaves the file,
   * without statistics (measured alone, before ANALYZE, with a smaller sample when it is slow).
   */
  full: ClaimLatencySet;
  /** SQLite only: the filled database after ANALYZE (alternating with the empty one). */
  fullAnalyzed?: ClaimLatencySet;
}

/** Runs `body` up to `count` times, stopping after `budgetMs` once it has one result. */
async function loop<T>(count: number, budgetMs: number, body: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  const until = performance.now() + budgetMs;
  while (out.length < count) {
    out.push(await body());
    if (performance.now() > until) break;
  }
  return out;
}

/** An open measuring rig on one database: a client, a claimer, and (PostgreSQL, for pickup) a working worker. */
class Probe {
  private readonly client: Runner;
  private readonly claimer: KyselyStorage;
  private worker: Runner | undefined;
  private readonly waiting = new Map<string, { started?: number; resolve(started: number, done: number): void }>();
  private readonly times = { start: [] as number[], claim: [] as number[], idle: [] as number[], pickup: [] as number[], done: [] as number[] };
  private wal = { bytes: 0, cycles: 0 };
  private readonly startStatements = new StatementCounter();
  private readonly claimStatements = new StatementCounter();
  private cycles = 0;

  constructor(
    readonly backend: ClaimBackend,
    private readonly tag: string,
  ) {
    this.client = new Runner({ storage: backend.storage(), role: 'client', workflows: [WorkloadW], logger: silentLogger });
    this.claimer = backend.storage();
  }

  async open(): Promise<this> {
    // Warm-up, not kept.
    const warmUntil = performance.now() + 2_000;
    for (let i = 0; i < WARMUP && performance.now() < warmUntil; i++) {
      await this.startAndClaim();
      await this.idlePoll();
    }
    if (this.backend.pickup) {
      await this.startWorker();
      for (let i = 0; i < WARMUP && performance.now() < warmUntil + 2_000; i++) await this.pickup();
      await this.stopWorker();
    }
    this.startStatements.reset();
    this.claimStatements.reset();
    this.cycles = 0;
    return this;
  }

  /** A worker that `work()`s on this database, only while pickup is measured (it would take the claimer's runs). */
  private async startWorker(): Promise<void> {
    const onEvent = (event: CairnEvent): void => {
      const entry = this.waiting.get(event.trackingId);
      if (!entry) return;
      if (event.type === 'step_started' && entry.started === undefined) entry.started = performance.now();
      if (event.type === 'run_completed') entry.resolve(entry.started ?? performance.now(), performance.now());
    };
    this.worker = new Runner({ storage: this.backend.storage(), workflows: [WorkloadW], logger: silentLogger, onEvent });
    this.worker.work({ concurrency: 10 });
    await delay(500); // LISTEN is up
  }

  private async stopWorker(): Promise<void> {
    await this.worker?.close();
    this.worker = undefined;
  }

  /** `count` samples of each kind (fewer if a kind's loop runs past BLOCK_BUDGET_MS). */
  async block(count: number, budgetMs = BLOCK_BUDGET_MS): Promise<void> {
    const lsn = async (): Promise<number | undefined> =>
      this.backend.name === 'postgres' ? Number((await this.backend.target.rows<{ b: string }>("select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') as b"))[0]!.b) : undefined;
    const wal0 = await lsn();
    const pairs = await loop(count, budgetMs, () => this.startAndClaim());
    const wal1 = await lsn();
    if (wal0 !== undefined && wal1 !== undefined) this.wal = { bytes: this.wal.bytes + wal1 - wal0, cycles: this.wal.cycles + pairs.length };
    this.times.start.push(...pairs.map((p) => p.start));
    this.times.claim.push(...pairs.map((p) => p.claim));
    this.times.idle.push(...(await loop(count, budgetMs, () => this.idlePoll())));
    if (this.backend.pickup) {
      await this.startWorker();
      const picked = await loop(count, budgetMs, () => this.pickup());
      await this.stopWorker();
      this.times.pickup.push(...picked.map((p) => p.pickup));
      this.times.done.push(...picked.map((p) => p.done));
    }
  }

  /** Enqueue one run, then claim it (timed apart); the claimed run is marked completed, untimed. */
  private async startAndClaim(): Promise<{ start: number; claim: number }> {
    this.backend.timing = this.startStatements;
    const t0 = performance.now();
    await this.client.start(WorkloadW, { n: 0 }, nextTrackingId(`${this.tag}-claim`));
    const t1 = performance.now();
    this.backend.timing = this.claimStatements;
    const claimed = await this.claimer.claimDue([WORKFLOW], CLAIMER, 30_000, 1, Date.now());
    const t2 = performance.now();
    this.backend.timing = undefined;
    this.cycles += 1;
    if (claimed.length !== 1) throw new Error(`claim part: expected to claim 1 run, claimed ${claimed.length}`);
    await this.complete(claimed[0]!);
    return { start: t1 - t0, claim: t2 - t1 };
  }

  private async complete(claim: { run: { id: string }; lease: { owner: string; epoch: number } }): Promise<void> {
    await this.claimer.commit({ runId: claim.run.id, lease: claim.lease, run: { status: 'completed', output: null, release: true } }, Date.now());
  }

  private async idlePoll(): Promise<number> {
    const t0 = performance.now();
    const claimed = await this.claimer.claimDue([WORKFLOW], CLAIMER, 30_000, 10, Date.now());
    if (claimed.length !== 0) throw new Error('claim part: an idle poll claimed a run');
    return performance.now() - t0;
  }

  /** Enqueue → the worker's first step_started and its run_completed. */
  private async pickup(): Promise<{ pickup: number; done: number }> {
    const trackingId = nextTrackingId(`${this.tag}-pickup`);
    const finished = new Promise<{ started: number; done: number }>((resolve) => this.waiting.set(trackingId, { resolve: (started, done) => resolve({ started, done }) }));
    await this.client.start(WorkloadW, { n: 0 }, trackingId);
    const enqueued = performance.now();
    const { started, done } = await finished;
    this.waiting.delete(trackingId);
    return { pickup: started - enqueued, done: done - enqueued };
  }

  /** EXPLAINs one claim's statements, counts the runs, closes everything, and returns the set. */
  async finish(): Promise<ClaimLatencySet> {
    try {
      await this.client.start(WorkloadW, { n: 0 }, nextTrackingId(`${this.tag}-explain`));
      this.backend.capture = [];
      const [claim] = await this.claimer.claimDue([WORKFLOW], CLAIMER, 30_000, 1, Date.now());
      const captured = this.backend.capture.filter((s) => /cairn_runs/.test(s.sql) && /^\s*(select|update)/i.test(s.sql));
      this.backend.capture = undefined;
      await this.complete(claim!);
      // EXPLAIN with a run due, as when the statements ran.
      await this.client.start(WorkloadW, { n: 0 }, nextTrackingId(`${this.tag}-explain`));
      const plans: ClaimLatencySet['plans'] = [];
      for (const statement of captured) plans.push({ sql: statement.sql.replace(/\s+/g, ' '), plan: await this.backend.explain(statement) });
      const [leftover] = await this.claimer.claimDue([WORKFLOW], CLAIMER, 30_000, 1, Date.now());
      if (leftover) await this.complete(leftover);
      const [count] = await this.backend.target.rows<{ n: string | number }>(`select count(*) as n from ${this.backend.target.table('cairn_runs')}`);
      const t = this.times;
      return {
        tableRuns: Number(count!.n),
        start: latency(t.start),
        claim: latency(t.claim),
        idlePoll: latency(t.idle),
        ...(t.pickup.length > 0 ? { pickup: latency(t.pickup), enqueueToDone: latency(t.done) } : {}),
        ...(this.wal.cycles > 0 ? { walBytesPerCycle: this.wal.bytes / this.wal.cycles } : {}),
        statements: {
          start: this.startStatements.summary(this.backend.name, this.cycles, 1, 0).byStatement,
          claim: this.claimStatements.summary(this.backend.name, this.cycles, 1, 0).byStatement,
        },
        plans,
      };
    } finally {
      await this.worker?.close();
      await this.client.close();
      await this.claimer.close();
    }
  }
}

/** Both probes, block by block (alternating which goes first), `samples` of each kind in all. */
async function alternate(a: Probe, b: Probe, samples: number): Promise<[ClaimLatencySet, ClaimLatencySet]> {
  await a.open();
  await b.open();
  const perBlock = Math.ceil(samples / BLOCKS);
  for (let i = 0; i < BLOCKS; i++) {
    const [first, second] = i % 2 === 0 ? [a, b] : [b, a];
    await first.block(perBlock);
    await second.block(perBlock);
  }
  return [await a.finish(), await b.finish()];
}

/** Migrates and runs the template run (one run of W, executed by Cairn); returns its id. */
async function template(backend: ClaimBackend): Promise<string> {
  const runner = new Runner({ storage: backend.storage(), workflows: [WorkloadW], logger: silentLogger });
  await runner.migrate();
  const handle = await runner.start(WorkloadW, { n: 0 }, 'template');
  await handle.result();
  await runner.close();
  return handle.runId;
}

export async function claimLatencyPostgres(emptyUrl: string, fullUrl: string, fill: number, samples: number): Promise<ClaimLatencyResult> {
  const log = (line: string): void => progress(`  claim postgres  ${line}`);
  const empty = postgresBackend(emptyUrl);
  const full = postgresBackend(fullUrl);
  try {
    await template(empty);
    await analyzeTables(empty.target, () => undefined);
    const filled = await fillFinishedRuns(full.target, await template(full), fill, { analyze: true }, log);
    log(`filled in ${(filled.fillMs / 1000).toFixed(1)} s (+ ${(filled.analyzeMs / 1000).toFixed(1)} s vacuum analyze): ${filled.rows.runs} runs, ${filled.rows.steps} steps, ${filled.rows.events} events`);
    log(`empty vs ${fill} finished runs, ${BLOCKS} alternating blocks`);
    const [e, f] = await alternate(new Probe(empty, 'pg-empty'), new Probe(full, 'pg-full'), samples);
    return { backend: 'postgres', samples, fill: filled, empty: e, full: f };
  } finally {
    await empty.close();
    await full.close();
  }
}

export async function claimLatencySqlite(emptyFile: string, fullFile: string, fill: number, samples: number): Promise<ClaimLatencyResult> {
  const log = (line: string): void => progress(`  claim sqlite    ${line}`);
  // Migrate first: the fill target and the explainer open the files directly.
  for (const filename of [emptyFile, fullFile]) {
    const migrator = new Runner({ storage: new SqliteStorage({ filename, synchronous: 'NORMAL' }), workflows: [WorkloadW], logger: silentLogger });
    await migrator.migrate();
    await migrator.close();
  }
  const empty = sqliteBackend(emptyFile);
  const full = sqliteBackend(fullFile);
  try {
    await template(empty);
    const filled = await fillFinishedRuns(full.target, await template(full), fill, { analyze: false }, log);
    log(`filled in ${(filled.fillMs / 1000).toFixed(1)} s: ${filled.rows.runs} runs, ${filled.rows.steps} steps, ${filled.rows.events} events`);
    log(`${fill} finished runs, no statistics (as Cairn leaves the file)`);
    const unanalyzed = await new Probe(full, 'sqlite-nostats').open();
    await unanalyzed.block(samples, 4 * BLOCK_BUDGET_MS);
    const noStats = await unanalyzed.finish();
    filled.analyzeMs = await analyzeTables(full.target, log);
    log(`empty vs ${fill} finished runs after ANALYZE, ${BLOCKS} alternating blocks`);
    const [e, f] = await alternate(new Probe(empty, 'sqlite-empty'), new Probe(full, 'sqlite-full'), samples);
    return { backend: 'sqlite', samples, fill: filled, empty: e, full: noStats, fullAnalyzed: f };
  } finally {
    await empty.close();
    await full.close();
  }
}

/** Full ÷ empty p50 for each latency (`full`: as measured right after the fill, see ClaimLatencyResult). */
export function claimRatios(r: ClaimLatencyResult, full: ClaimLatencySet = r.full): Record<'start' | 'claim' | 'idlePoll' | 'pickup', number | null> {
  const ratio = (a: Latency | undefined, b: Latency | undefined): number | null => (a && b ? a.p50Ms / b.p50Ms : null);
  return { start: ratio(full.start, r.empty.start), claim: ratio(full.claim, r.empty.claim), idlePoll: ratio(full.idlePoll, r.empty.idlePoll), pickup: ratio(full.pickup, r.empty.pickup) };
}

export function claimReport(results: readonly ClaimLatencyResult[]): string {
  const rows: string[][] = [];
  for (const r of results) {
    const sets: [string, ClaimLatencySet | undefined][] = [
      [r.backend === 'postgres' ? 'after VACUUM ANALYZE' : 'no statistics', r.full],
      ['after ANALYZE', r.fullAnalyzed],
    ];
    for (const [label, full] of sets) {
      if (!full) continue;
      for (const key of ['start', 'claim', 'idlePoll', 'pickup', 'enqueueToDone'] as const) {
        const e = r.empty[key];
        const f = full[key];
        if (!e || !f) continue;
        rows.push([r.backend, label, key, fmt(e.p50Ms, 3), fmt(e.p99Ms, 3), fmt(f.p50Ms, 3), fmt(f.p99Ms, 3), String(f.samples), `${fmt(f.p50Ms / e.p50Ms)}×`]);
      }
    }
  }
  const out = [markdown(['backend', 'full tables', 'latency', 'empty p50 ms', 'empty p99 ms', 'full p50 ms', 'full p99 ms', 'full samples', 'p50 full ÷ empty'], rows, 3)];
  for (const r of results) {
    if (r.empty.walBytesPerCycle !== undefined && r.full.walBytesPerCycle !== undefined) {
      out.push('', `${r.backend}: WAL per start + claim + complete cycle: ${fmt(r.empty.walBytesPerCycle / 1024, 1)} KiB empty, ${fmt(r.full.walBytesPerCycle / 1024, 1)} KiB full`);
    }
    const full = r.fullAnalyzed ?? r.full;
    for (const kind of ['start', 'claim'] as const) {
      const rows = r.empty.statements[kind].map((e) => {
        const f = full.statements[kind].find((x) => x.sql === e.sql);
        return [e.sql, fmt(e.perRun), fmt(e.meanMs, 3), fmt(f?.meanMs, 3), f ? `${fmt(f.meanMs / e.meanMs)}×` : '–'];
      });
      out.push('', `${r.backend}: statements of one ${kind}, mean driver time, empty vs full${r.fullAnalyzed ? ' (after ANALYZE)' : ''}:`, markdown(['statement', `per ${kind}`, 'empty ms', 'full ms', 'full ÷ empty'], rows, 1));
    }
    out.push('', `${r.backend}: ${r.fill.rows.runs} runs, ${r.fill.rows.steps} steps, ${r.fill.rows.events} events after the fill (${r.fill.perRun.steps} steps and ${r.fill.perRun.events} events per run); fill ${(r.fill.fillMs / 1000).toFixed(1)} s, analyze ${(r.fill.analyzeMs / 1000).toFixed(1)} s`);
    for (const [label, set] of [
      ['empty', r.empty],
      ['full', r.full],
      ['full, analyzed', r.fullAnalyzed],
    ] as const) {
      for (const p of set?.plans ?? []) out.push(`  plan (${label}) ${p.sql.slice(0, 120)}…`, ...p.plan.map((l) => `    ${l}`));
    }
  }
  return out.join('\n');
}
