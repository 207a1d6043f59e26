/**
 * driver — one torture run, on PostgreSQL or on a SQLite file shared by several processes. It
 * enqueues `runs` runs of the torture workflow from a client runner (keeping at most `window`
 * unfinished), while `workers` worker processes execute them and a chaos driver, with choices
 * drawn from a seeded generator, injects: SIGKILLs of random workers (each replaced by a fresh
 * process), lease expiries (the lease of a run in the middle of a step moved into the past),
 * PostgreSQL restarts and zombies (a worker SIGSTOPped until every run it held has been taken over,
 * then SIGCONTed). The last tenth of the runs is held back until every planned injection has
 * happened, so they all land while runs are in flight. Then everything is read back and verified
 * (verify.ts). The seed fixes the chaos's choices, not the interleavings the OS produces.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Runner, type Logger, type Storage } from '@cairn/core';
import { PostgresStorage } from '@cairn/storage-postgres';
import { SqliteStorage } from '@cairn/storage-sqlite';
import { openSqlite } from './audit';
import { DRIVER, openTortureDb, withApplicationName, type LeaseRow, type TortureDb } from './database';
import { Fleet, type WorkerProcess } from './fleet';
import { readExecutions, readStorageLines } from './ledger';
import { verify, type ChaosLog, type Verdict, type ZombieRecord } from './verify';
import { Torture, TortureChild, trackingIdOf } from './workflow';
import type { WorkerSettings } from './worker';

/** The server the PostgreSQL run uses: it must be ours to restart. */
export interface PostgresServer {
  url: string;
  urlFor(database: string): string;
  restart(): void;
}

/** The driver's parameters; those it passes on to every worker come from WorkerSettings. */
export interface TortureOptions extends Omit<WorkerSettings, 'tag' | 'dir' | 'target'> {
  runs: number;
  /** Worker processes (kept at this number: a killed one is replaced). */
  workers: number;
  /** Unfinished runs enqueued at any time. */
  window: number;
  kills: {
    /** A random worker is SIGKILLed after a random pause in this range (ms). */
    everyMs: [number, number];
    /** At least this many kills happen before the last tenth of the runs is enqueued. */
    atLeast: number;
    respawnAfterMs: number;
  };
  expiries: {
    everyMs: number;
    /** Leases expired per round, chosen among running runs with no write for `idleMs`. */
    perRound: number;
    idleMs: number;
  };
  /** PostgreSQL restarts (PostgreSQL only). */
  restarts: number;
  zombies: number;
  seed: number;
  /** Node arguments that start a worker (worker.js, or register-ts.js + worker.ts). */
  workerArgv: string[];
  /** Required for the PostgreSQL backend. */
  postgres?: PostgresServer;
  /** Give up when no run finishes for this long (the runs left are reported lost). */
  stallMs: number;
  /** Working directory (ledgers, the SQLite file); a new temporary one by default. */
  dir?: string;
  /** Keep the directory and database even when every check holds. */
  keep?: boolean;
  log?: (line: string) => void;
}

export interface TortureReport {
  backend: 'postgres' | 'sqlite';
  seed: number;
  runs: number;
  workers: number;
  concurrency: number;
  leaseMs: number;
  startedAt: string;
  durationMs: number;
  /** Time from the first run enqueued to the last one finished. */
  chaosMs: number;
  stalled: boolean;
  injected: {
    kills: number;
    workerProcesses: number;
    restarts: number;
    restartMs: number[];
    forcedLeaseExpiries: number;
    zombies: number;
  };
  verdict: Verdict;
  /** Where the ledgers are, when kept (a failure keeps them). */
  dir: string | undefined;
}

/** mulberry32: a small seeded generator for the chaos's choices. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function quietLogger(log: (line: string) => void): Logger {
  return { debug: () => undefined, info: () => undefined, warn: (m) => log(`client warn: ${m}`), error: (m) => log(`client error: ${m}`) };
}

async function createDatabase(server: PostgresServer): Promise<{ name: string; url: string }> {
  const name = `torture_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return { name, url: server.urlFor(name) };
}

async function dropDatabase(server: PostgresServer, name: string): Promise<void> {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name} with (force)`);
  } finally {
    await admin.end();
  }
}

/** The chaos of one run, and the bookkeeping the producer and the verifier need. */
class Chaos {
  private readonly finished = new AbortController();
  /** The producer is holding back the last runs until the planned injections have happened. */
  gateWaiting = false;
  oneOffsLeft: number;
  completed = 0;
  /** Runs completed or failed. */
  ended = 0;
  private readonly random: () => number;
  /** Tags of workers SIGSTOPped right now: their leases are left alone (one cause at a time). */
  private readonly stopped = new Set<string>();

  constructor(
    private readonly options: TortureOptions,
    private readonly db: TortureDb,
    private readonly fleet: Fleet,
    /** Shared with the fleet, which logs spawns, kills and exits in it. */
    readonly log: ChaosLog,
    private readonly say: (line: string) => void,
  ) {
    this.random = seededRandom(options.seed);
    this.oneOffsLeft = (options.backend === 'postgres' ? options.restarts : 0) + options.zombies;
  }

  get done(): boolean {
    return this.finished.signal.aborted;
  }

  /** Ends the chaos: every loop returns at once. */
  stop(): void {
    this.finished.abort();
  }

  /** Sleeps `ms`, or less if the chaos ends first. */
  private nap(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.finished.signal;
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }

  /** Whether a worker is SIGSTOPped right now (on SQLite it may hold the file's write lock). */
  anyStopped(): boolean {
    return this.stopped.size > 0;
  }

  quotaMet(): boolean {
    return this.oneOffsLeft === 0 && this.log.kills.length >= this.options.kills.atLeast;
  }

  private between([min, max]: [number, number]): number {
    return min + this.random() * (max - min);
  }

  private pick<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : items[Math.floor(this.random() * items.length)];
  }

  /** SIGKILLs a random live worker every few seconds; sooner when the producer waits for the quota. */
  async kills(): Promise<void> {
    let next = Date.now() + this.between(this.options.kills.everyMs);
    let last = 0;
    while (!this.done) {
      await this.nap(50);
      const now = Date.now();
      const owed = this.gateWaiting && this.log.kills.length < this.options.kills.atLeast && now - last > this.options.leaseMs;
      if (now < next && !owed) continue;
      // Keep at least one other worker running, so someone is left to take the runs over.
      const candidates = this.fleet.ready().filter((w) => now >= w.protectedUntil);
      if (this.fleet.ready().length < 2 || candidates.length === 0) continue;
      const victim = this.pick(candidates)!;
      this.fleet.kill(victim);
      this.say(`SIGKILL ${victim.tag} (pid ${victim.pid})`);
      last = now;
      next = now + this.between(this.options.kills.everyMs);
    }
  }

  /** Expires the leases of a few runs that are in the middle of a step, behind their owners' backs. */
  async expiries(): Promise<void> {
    while (!this.done) {
      await this.nap(this.options.expiries.everyMs);
      if (this.done) break;
      // Not while a worker is stopped: one cause at a time (and on SQLite the stopped worker may hold
      // the write lock, which the driver must not wait for).
      if (this.stopped.size > 0) continue;
      let candidates: LeaseRow[];
      try {
        // Leases of live workers only: a dead worker's runs are waiting for their lease to expire anyway.
        const live = new Set(this.fleet.ready().map((w) => w.tag));
        candidates = (await this.db.expiryCandidates(this.options.expiries.idleMs)).filter((l) => live.has(l.owner) && !this.stopped.has(l.owner));
      } catch (error) {
        this.say(`expiry round skipped: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      for (let i = 0; i < this.options.expiries.perRound && candidates.length > 0; i++) {
        const lease = candidates.splice(Math.floor(this.random() * candidates.length), 1)[0]!;
        const at = Date.now();
        if (await this.db.expire(lease).catch(() => false)) this.log.expiries.push({ ...lease, at });
      }
    }
  }

  /** PostgreSQL restarts and zombies, each once the finished runs reach its place in the schedule. */
  async oneOffs(): Promise<void> {
    const restarts = this.options.backend === 'postgres' ? this.options.restarts : 0;
    const plan: ('restart' | 'zombie')[] = [];
    for (let i = 0; i < Math.max(restarts, this.options.zombies); i++) {
      if (i < restarts) plan.push('restart');
      if (i < this.options.zombies) plan.push('zombie');
    }
    for (const [index, kind] of plan.entries()) {
      // Spread over 10–60 % of the runs: a zombie may need several tries (see zombie()), and they
      // must all happen while runs are in flight, before the producer's gate at 90 %.
      const at = Math.floor(this.options.runs * (0.1 + (0.5 * (index + 0.5)) / plan.length));
      while (!this.done && this.completed < at) await this.nap(50);
      if (this.done) return;
      if (kind === 'restart') this.restart();
      else await this.zombie();
      this.oneOffsLeft -= 1;
    }
  }

  private restart(): void {
    const server = this.options.postgres!;
    const startedAt = Date.now();
    server.restart();
    const endedAt = Date.now();
    this.log.restarts.push({ startedAt, endedAt });
    this.say(`PostgreSQL restarted (${endedAt - startedAt} ms)`);
  }

  /**
   * SIGSTOPs a worker that holds leases, waits until every run it held has a new lease epoch (another
   * worker took it over after the lease expired), then SIGCONTs it.
   */
  private async zombie(): Promise<void> {
    while (!this.done) {
      const candidates = this.fleet.ready().filter((w) => w.state === 'ready');
      const victim: WorkerProcess | undefined = candidates.length >= 2 ? this.pick(candidates) : undefined;
      if (!victim) {
        await sleep(200);
        continue;
      }
      this.stopped.add(victim.tag);
      const record: ZombieRecord = { tag: victim.tag, pid: victim.pid, stoppedAt: this.fleet.stop(victim), takenOverAt: undefined, continuedAt: 0, held: [], lost: [] };
      await sleep(150); // let statements already on their way land; the process itself sends nothing now
      // Stopped inside a transaction, it keeps its locks and nobody can take its runs over until it
      // resumes (see docs/reliability.md): not a zombie moment; try again a little later.
      const inTransaction = await this.db.holdsTransaction(victim.tag);
      const held = inTransaction ? [] : await this.db.leasesOf(victim.tag);
      if (inTransaction || held.length === 0) this.say(`${victim.tag} was stopped ${inTransaction ? 'inside a transaction' : 'holding no lease'}; resumed, will try again`);
      if (held.length === 0) {
        const blocksAll = inTransaction && this.options.backend === 'sqlite';
        this.log.pauses.push({ tag: victim.tag, stoppedAt: record.stoppedAt, continuedAt: this.fleet.resume(victim, 0), blocksAll });
        this.stopped.delete(victim.tag);
        await sleep(50);
        continue;
      }
      record.held = held;
      this.log.zombies.push(record);
      const deadline = Date.now() + this.options.leaseMs * 4 + 15_000;
      for (;;) {
        const epochs = await this.db.epochs(held.map((l) => l.runId));
        record.lost = held.filter((l) => (epochs.get(l.runId) ?? 0) > l.epoch);
        if (record.lost.length === held.length) {
          record.takenOverAt = Date.now();
          break;
        }
        if (Date.now() > deadline || this.done) break;
        await sleep(100);
      }
      record.continuedAt = this.fleet.resume(victim, Math.max(3000, this.options.leaseMs * 2));
      this.log.pauses.push({ tag: victim.tag, stoppedAt: record.stoppedAt, continuedAt: record.continuedAt, blocksAll: false });
      this.stopped.delete(victim.tag);
      this.say(`zombie ${victim.tag}: stopped ${record.continuedAt - record.stoppedAt} ms holding ${held.length} runs, ${record.lost.length} taken over, then SIGCONT`);
      return;
    }
  }
}

export async function runTorture(options: TortureOptions): Promise<TortureReport> {
  if (options.backend === 'postgres' && !options.postgres) throw new Error('the PostgreSQL torture run needs a server it may restart (options.postgres)');
  const say = (line: string): void => options.log?.(`[${options.backend}] ${line}`);
  const startedAt = new Date();
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), `cairn-torture-${options.backend}-`));
  const database = options.backend === 'postgres' ? await createDatabase(options.postgres!) : undefined;
  const target = database ? database.url : join(dir, 'torture.db');

  const clientStorage: Storage = database
    ? new PostgresStorage({ connectionString: withApplicationName(target, DRIVER), poolSize: 4 })
    : // A short busy timeout: better-sqlite3 waits synchronously, and the driver must stay responsive.
      new SqliteStorage({ database: openSqlite(target, DRIVER), busyTimeoutMs: 200 });
  const client = new Runner({ storage: clientStorage, role: 'client', workflows: [Torture, TortureChild], logger: quietLogger(say) });
  await client.migrate();
  const db = openTortureDb(options.backend, target);
  await db.installAudit();

  const chaosLog: ChaosLog = { spawns: [], kills: [], expiries: [], restarts: [], zombies: [], pauses: [], unexpectedExits: [] };
  const fleet = new Fleet(
    options.workers,
    options.workerArgv,
    (tag) => ({
      tag,
      dir,
      backend: options.backend,
      target,
      leaseMs: options.leaseMs,
      pollMs: options.pollMs,
      concurrency: options.concurrency,
      poolSize: options.poolSize,
      stepMs: options.stepMs,
      slowChance: options.slowChance,
      slowMs: options.slowMs,
    }),
    dir,
    chaosLog,
    options.kills.respawnAfterMs,
  );
  const log = chaosLog;
  const chaos = new Chaos(options, db, fleet, log, say);
  let loops: Promise<void>[] = [];
  let stalled = false;
  let chaosMs = 0;
  try {
    await fleet.start();
    const chaosStarted = Date.now();
    const progress = (async () => {
      let lastChange = Date.now();
      let lastReport = Date.now();
      while (chaos.ended < options.runs) {
        await sleep(200);
        const { completed, failed } = await db.progress();
        // Holding the last runs back is not a stall.
        if (completed + failed !== chaos.ended || chaos.gateWaiting) lastChange = Date.now();
        chaos.completed = completed;
        chaos.ended = completed + failed;
        if (Date.now() - lastReport > 5000) {
          lastReport = Date.now();
          say(`${completed}/${options.runs} completed, ${failed} failed; ${log.kills.length} kills, ${log.expiries.length} lease expiries, ${log.restarts.length} restarts, ${log.zombies.length} zombies`);
        }
        if (Date.now() - lastChange > options.stallMs) {
          stalled = true;
          say(`no run finished for ${options.stallMs} ms: giving up`);
          return;
        }
      }
    })();
    const produce = (async () => {
      const gate = Math.floor(options.runs * 0.9);
      // The gate never holds for ever: if an injection cannot happen (a zombie needs a worker holding
      // leases outside a transaction), the runs go on and the report shows what is missing.
      const gateLimitMs = Math.max(30_000, options.leaseMs * 10);
      let gateSince: number | undefined;
      let gaveUp = false;
      let started = 0;
      while (started < options.runs && !stalled) {
        const holding = started >= gate && !chaos.quotaMet() && !gaveUp;
        if (holding) gateSince ??= Date.now();
        if (holding && Date.now() - (gateSince ?? 0) > gateLimitMs) {
          gaveUp = true;
          say(`gave up waiting for the planned injections (${chaos.oneOffsLeft} one-offs left, ${log.kills.length} kills)`);
        }
        chaos.gateWaiting = holding && !gaveUp;
        const unfinished = started - chaos.ended;
        // On SQLite a stopped worker may hold the write lock: the client would wait for it.
        const paused = options.backend === 'sqlite' && chaos.anyStopped();
        if (chaos.gateWaiting || unfinished >= options.window || paused) {
          await sleep(50);
          continue;
        }
        const batch = Math.min(options.runs - started, options.window - unfinished, 25, started < gate ? gate - started : options.runs);
        await Promise.all(Array.from({ length: batch }, (_, i) => client.start(Torture, { n: started + i }, trackingIdOf(started + i))));
        started += batch;
      }
      chaos.gateWaiting = false;
    })();
    loops = [chaos.kills(), chaos.expiries(), chaos.oneOffs()];
    await produce;
    await progress;
    chaosMs = Date.now() - chaosStarted;
  } finally {
    // Also on an error: no worker process may outlive the run.
    chaos.stop();
    await Promise.all(loops);
    await fleet.shutdown(20_000);
    await client.close();
  }

  say('verifying');
  const snapshot = await db.snapshot();
  const verdict = verify({ runs: options.runs, chaos: log, snapshot, executions: readExecutions(dir), storageLines: readStorageLines(dir) });
  await db.close();
  const keep = options.keep === true || !verdict.ok;
  if (keep) {
    // For the post-mortem: what was injected, and the database as the verifier saw it.
    writeFileSync(join(dir, 'chaos.json'), JSON.stringify(log));
    writeFileSync(join(dir, 'snapshot.json'), JSON.stringify(snapshot));
  } else {
    if (database) await dropDatabase(options.postgres!, database.name);
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
  }
  return {
    backend: options.backend,
    seed: options.seed,
    runs: options.runs,
    workers: options.workers,
    concurrency: options.concurrency,
    leaseMs: options.leaseMs,
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    chaosMs,
    stalled,
    injected: {
      kills: log.kills.length,
      workerProcesses: log.spawns.length,
      restarts: log.restarts.length,
      restartMs: log.restarts.map((r) => r.endedAt - r.startedAt),
      forcedLeaseExpiries: log.expiries.length,
      zombies: log.zombies.length,
    },
    verdict,
    dir: keep ? dir : undefined,
  };
}
