/**
 * The bad-input catalog (issue 4). Each case injects one bad input or one storage fault and
 * expects a typed Cairn error whose message names what was wrong and what to do, within bounded
 * time, with every Cairn table (runs, steps, events, migrations, migration lock) unchanged: the
 * tables are read row by row before and after the case and compared. Round-trip cases are good
 * input that must survive: the value read back from the database is the value that went in.
 *
 * The catalog is one table (CATALOG); each case runs on SQLite and/or PostgreSQL. docs/bad-input.md
 * is the same catalog for readers, and the last test checks that it lists every case.
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  InvalidArgumentError,
  NonRetryableError,
  Parallel,
  PayloadTooLargeError,
  Runner,
  RunnerClosedError,
  RunNotFoundError,
  SchemaMismatchError,
  SerializationError,
  Step,
  StepFailedError,
  StorageBusyError,
  StorageFailedError,
  StorageUnavailableError,
  Subflow,
  TrackingIdConflictError,
  Workflow,
  WorkflowDefinitionError,
  migrations,
  type Condition,
  type RunnerOptions,
  type Serializer,
  type StepContext,
  type Storage,
  type WorkflowClass,
} from '@cairn/core';
import { memoryLogger } from '@cairn/core/testing';
import { PostgresStorage } from '@cairn/storage-postgres';
import { SqliteStorage } from '@cairn/storage-sqlite';
import { freshDatabase, serverUrl } from '../../storage-postgres/test/support/database';

// ---- the workflows the cases use --------------------------------------------------------------

/** What each run's first step saw as its input, by tracking id. */
const seen = new Map<string, unknown>();
/** What the `act` step of a run does, by tracking id. */
const behaviours = new Map<string, () => unknown>();

@Workflow({ name: 'catalog-echo' })
class Echo {
  @Step({ retries: 0 }) async echo(ctx: StepContext<unknown>) {
    seen.set(ctx.trackingId, ctx.input);
    return ctx.input;
  }
  // Reads the first step's output back (decoded from its stored text) and returns it as the result.
  @Step({ retries: 0 }) async again(ctx: StepContext<unknown, Echo>) {
    return ctx.results.echo;
  }
}

@Workflow({ name: 'catalog-act' })
class Act {
  @Step({ retries: 1, backoff: { type: 'fixed', min: 0 } }) async act(ctx: StepContext) {
    const behaviour = behaviours.get(ctx.trackingId);
    return behaviour ? behaviour() : 'done';
  }
  @Step({ retries: 0 }) async after() {
    return 'after';
  }
}

@Workflow({ name: 'catalog-bad-child-id' })
class BadChildId {
  @Subflow(() => Echo, { trackingId: () => '', retries: 0 }) child() {
    return { for: 'the child' };
  }
}

// Seeds: rows that are in the shared database before any case runs, so "unchanged" compares
// real rows (completed, failed, parked and pending runs), not empty tables.
@Workflow({ name: 'seed-ok' })
class SeedOk {
  @Step() async one(ctx: StepContext<{ n: number }>) {
    return { n: ctx.input.n, at: new Date(0), big: 2n ** 64n };
  }
  @Step() async two(ctx: StepContext<{ n: number }, SeedOk>) {
    return new Map([['n', ctx.results.one.n]]);
  }
}

@Workflow({ name: 'seed-failed' })
class SeedFailed {
  @Step({ retries: 0 }) async one(): Promise<never> {
    throw new NonRetryableError('card declined');
  }
}

@Workflow({ name: 'seed-parked' })
class SeedParked {
  @Step({ retries: 1, backoff: '1h' }) async one(): Promise<never> {
    throw new Error('not yet');
  }
}

@Workflow({ name: 'seed-pending' })
class SeedPending {
  @Step() async one() {
    return 1;
  }
}

// Decorator misuse: each class records what is wrong; the scanner reports it when it is first used.
class NotDecorated {
  @Step() async a() {
    return 1;
  }
}

class EchoSubclass extends Echo {}

@Workflow({ name: 'catalog-no-steps' })
class NoSteps {
  helper() {
    return 1;
  }
}

@Workflow({ name: 'catalog-step-on-property' })
class StepOnProperty {
  @Step() notAMethod: unknown = 1;
  @Step() async real() {
    return 1;
  }
}

@Workflow({ name: 'catalog-duplicate' })
class DuplicateNames {
  @Step({ name: 'charge' }) async chargeCard() {
    return 1;
  }
  @Step({ name: 'charge' }) async chargeAgain() {
    return 2;
  }
}

@Workflow({ name: 'catalog-parallel-alone' })
class ParallelWithoutStep {
  @Parallel('lookups') async lonely() {
    return 1;
  }
  @Step() async real() {
    return 1;
  }
}

@Workflow({ name: 'catalog-bad-target' })
class SubflowToPlainClass {
  @Subflow(() => NotDecorated) child() {
    return {};
  }
}

@Workflow({ name: 'catalog-undefined-target' })
class SubflowToUndefined {
  @Subflow(() => undefined as unknown as WorkflowClass) child() {
    return {};
  }
}

@Workflow({ name: 'catalog-when' })
class WhenNotFunction {
  @Step({ when: 'sometimes' as unknown as Condition }) async a() {
    return 1;
  }
}

@Workflow({ name: 'catalog-retry' })
class BadRetryOptions {
  @Step({ retries: -1, backoff: { min: '10s', max: '1s' }, timeout: 'forever' }) async a() {
    return 1;
  }
}

@Workflow({ name: 'has spaces', version: 0 })
class BadNameAndVersion {
  @Step() async a() {
    return 1;
  }
}

@Workflow({ name: 'catalog-static' })
class StaticStep {
  @Step() static async a() {
    return 1;
  }
  @Step() @Subflow(() => Echo) both() {
    return {};
  }
}

@Workflow({ name: 'catalog-echo' })
class EchoImpostor {
  @Step() async somethingElse() {
    return 1;
  }
}

// ---- databases, snapshots and the environment of a case ---------------------------------------

type Backend = 'sqlite' | 'postgres';
const BOTH: readonly Backend[] = ['sqlite', 'postgres'];
const SQLITE: readonly Backend[] = ['sqlite'];
const POSTGRES: readonly Backend[] = ['postgres'];

/** Knobs a case may turn on the storage it creates (each backend takes the ones it has). */
interface Tuning {
  busyTimeoutMs?: number;
  transientRetryMs?: number;
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  lockTimeoutMs?: number;
}

type Row = Record<string, unknown>;
/** Every Cairn table, row by row in key order ('absent' when the table does not exist). */
type Snapshot = Record<string, Row[] | 'absent'>;

const TABLES: readonly (readonly [string, string])[] = [
  ['cairn_runs', 'id'],
  ['cairn_steps', 'run_id, name'],
  ['cairn_events', 'run_id, seq'],
  ['cairn_migrations', 'name'],
  ['cairn_migrations_lock', 'id'],
];

interface Db {
  readonly backend: Backend;
  /** A new storage on this database (each runner owns and closes its own). */
  storage(tuning?: Tuning): Storage;
  snapshot(): Promise<Snapshot>;
  /** Runs raw SQL; `{t}` names a Cairn table (schema-qualified on PostgreSQL). */
  exec(text: string, table: string): Promise<void>;
  close(): Promise<void>;
}

class SqliteDb implements Db {
  readonly backend = 'sqlite';
  private reader: Database.Database | undefined;
  constructor(readonly file: string) {}

  storage(tuning: Tuning = {}): Storage {
    return new SqliteStorage({ filename: this.file, busyTimeoutMs: tuning.busyTimeoutMs, transientRetryMs: tuning.transientRetryMs });
  }

  private db(): Database.Database {
    this.reader ??= new Database(this.file);
    return this.reader;
  }

  async snapshot(): Promise<Snapshot> {
    const db = this.db();
    const present = new Set((db.prepare("select name from sqlite_master where type = 'table'").all() as { name: string }[]).map((r) => r.name));
    const snapshot: Snapshot = {};
    for (const [table, order] of TABLES) snapshot[table] = present.has(table) ? (db.prepare(`select * from ${table} order by ${order}`).all() as Row[]) : 'absent';
    return snapshot;
  }

  async exec(text: string, table: string): Promise<void> {
    this.db().exec(text.replace('{t}', table));
  }

  async close(): Promise<void> {
    this.reader?.close();
  }
}

class PgDb implements Db {
  readonly backend = 'postgres';
  private readonly pool: pg.Pool;
  constructor(
    readonly url: string,
    readonly schema: string,
  ) {
    this.pool = new pg.Pool({ connectionString: url, max: 1 });
    this.pool.on('error', () => undefined);
  }

  storage(tuning: Tuning = {}, extra: { connectionString?: string; pool?: pg.Pool } = {}): Storage {
    return new PostgresStorage({
      ...(extra.pool ? { pool: extra.pool } : { connectionString: extra.connectionString ?? this.url }),
      schema: this.schema,
      poolSize: 2,
      transientRetryMs: tuning.transientRetryMs,
      connectTimeoutMs: tuning.connectTimeoutMs,
      statementTimeoutMs: tuning.statementTimeoutMs,
      lockTimeoutMs: tuning.lockTimeoutMs,
    });
  }

  async snapshot(): Promise<Snapshot> {
    const { rows } = await this.pool.query<{ table_name: string }>('select table_name from information_schema.tables where table_schema = $1', [this.schema]);
    const present = new Set(rows.map((r) => r.table_name));
    const snapshot: Snapshot = {};
    for (const [table, order] of TABLES) {
      snapshot[table] = present.has(table) ? (await this.pool.query<Row>(`select * from "${this.schema}".${table} order by ${order}`)).rows : 'absent';
    }
    return snapshot;
  }

  async exec(text: string, table: string): Promise<void> {
    await this.pool.query(text.replace('{t}', `"${this.schema}".${table}`));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** The shared (migrated, seeded) database of one backend, and where fresh ones come from. */
interface World {
  backend: Backend;
  db: Db;
  fresh(): Promise<Db>;
  close(): Promise<void>;
}

let pgUrl: string | undefined;
let counter = 0;

async function openWorld(backend: Backend): Promise<World> {
  const opened: Db[] = [];
  const track = <D extends Db>(db: D): D => {
    opened.push(db);
    return db;
  };
  if (backend === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-bad-input-'));
    return {
      backend,
      db: track(new SqliteDb(join(dir, 'shared.db'))),
      fresh: async () => track(new SqliteDb(join(dir, `fresh-${++counter}.db`))),
      close: async () => {
        for (const db of opened) await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  pgUrl ??= await freshDatabase('bad_input');
  const url = pgUrl;
  return {
    backend,
    db: track(new PgDb(url, 'public')),
    // A schema of its own on the same database: as good as a fresh database, and cheaper.
    fresh: async () => track(new PgDb(url, `fresh_${process.pid}_${++counter}`)),
    close: async () => {
      for (const db of opened) await db.close();
    },
  };
}

async function seed(db: Db): Promise<void> {
  const logger = memoryLogger();
  const worker = new Runner({ storage: db.storage(), logger });
  await worker.migrate();
  await worker.run(SeedOk, { n: 1 }, 'seed-ok');
  await worker.run(SeedFailed, { n: 2 }, 'seed-failed').catch(() => undefined);
  const parked = await worker.start(SeedParked, { n: 3 }, 'seed-parked');
  for (let i = 0; i < 200 && (await parked.status()).status !== 'waiting'; i++) await new Promise((r) => setTimeout(r, 10));
  await worker.close();
  const client = new Runner({ storage: db.storage(), role: 'client', logger });
  await client.start(SeedPending, { n: 4 }, 'seed-pending');
  await client.close();
  const snapshot = await db.snapshot();
  const statuses = (snapshot.cairn_runs as Row[]).map((r) => r.status).sort();
  expect(statuses).toEqual(['completed', 'failed', 'pending', 'waiting']);
}

/** What a case gets: its backend's databases, and runners that are closed when it ends. */
interface Env {
  backend: Backend;
  db: Db;
  fresh(): Promise<Db>;
  /** A runner on its own storage (on `on`, default the shared database), closed after the case. */
  runner(options?: Partial<RunnerOptions>, on?: Db, tuning?: Tuning): Runner;
  /** A runner on a storage the case built. */
  runnerOn(storage: Storage, options?: Partial<RunnerOptions>): Runner;
  /** Runs after the case (and before the second snapshot), in reverse order. */
  defer(cleanup: () => unknown): void;
  /** A tracking id unique to this case. */
  tid(label: string): string;
}

function makeEnv(world: World): Env & { cleanup(): Promise<void> } {
  const cleanups: (() => unknown)[] = [];
  const env = {
    backend: world.backend,
    db: world.db,
    fresh: () => world.fresh(),
    runnerOn(storage: Storage, options: Partial<RunnerOptions> = {}): Runner {
      const runner = new Runner({ logger: memoryLogger(), ...options, storage });
      cleanups.push(() => runner.close({ timeoutMs: 0 }));
      return runner;
    },
    runner(options: Partial<RunnerOptions> = {}, on: Db = world.db, tuning: Tuning = {}): Runner {
      return env.runnerOn(on.storage(tuning), options);
    },
    defer(cleanup: () => unknown): void {
      cleanups.push(cleanup);
    },
    tid(label: string): string {
      return `${label}-${process.pid}-${++counter}`;
    },
    async cleanup(): Promise<void> {
      while (cleanups.length > 0) await Promise.resolve(cleanups.pop()!()).catch(() => undefined);
    },
  };
  return env;
}

// ---- what a case is ----------------------------------------------------------------------------

type ErrorClass = abstract new (...args: never[]) => Error;
type Fragment = string | RegExp;

interface Expected {
  error: ErrorClass;
  /** Fragments the message contains: what was wrong (naming the workflow, step or option) and what to do. */
  message: readonly Fragment[];
  cause?: { error: ErrorClass; message: readonly Fragment[] };
}

type Area = 'decorators' | 'arguments' | 'unknown' | 'values' | 'steps' | 'throws' | 'round-trips' | 'storage';

interface Case {
  /** Unique; the docs table lists each case under this name. */
  name: string;
  area: Area;
  backends: readonly Backend[];
  /** The database whose tables must stay unchanged (default: the shared, seeded one). */
  target?(env: Env): Promise<Db>;
  act(env: Env, target: Db): Promise<unknown>;
  /** The typed error the act must reject with. Absent: the act must succeed (good input). */
  throws?: Expected;
  /** For good input: what must hold of the act's value. */
  survives?(value: unknown): void;
  /**
   * 'unchanged' (default): every table identical. 'failed-run' / 'completed-run': the case ran a
   * workflow, so its own new run may appear (failed, with nothing half-written / completed); every
   * other row is unchanged. A function checks anything else.
   */
  database?: 'unchanged' | 'failed-run' | 'completed-run' | ((before: Snapshot, after: Snapshot) => void);
  /** The act must settle within this long (it must not hang). Default 15 s. */
  withinMs?: number;
}

// ---- helpers for the cases ---------------------------------------------------------------------

const never = (label: string) => (): never => {
  throw new Error(`${label}: the call should have failed`);
};

/** Starts `Echo` with `input`; expected to reject before writing anything. */
function startEcho(env: Env, input: unknown, options: Partial<RunnerOptions> = {}): Promise<unknown> {
  return env.runner(options).start(Echo, input, env.tid('start'));
}

/** Runs `Echo` with `value` and reads it back three ways: as the step's input, as the run's result, and from another runner's storage. */
async function roundTrip(env: Env, value: unknown): Promise<unknown[]> {
  const trackingId = env.tid('round-trip');
  const result = await env.runner().run(Echo, value, trackingId);
  const handle = await env.runner().get(Echo, trackingId);
  const reread = await handle!.result();
  return [seen.get(trackingId), result, reread];
}

function expectSame(value: unknown): (copies: unknown) => void {
  return (copies) => {
    for (const copy of copies as unknown[]) {
      expect(copy).toStrictEqual(value);
      expect(isDeepStrictEqual(copy, value)).toBe(true);
    }
  };
}

/** Runs `Act` whose step does `behaviour`; rejects with its error, after checking another runner reads the same error back. */
async function runAct(env: Env, behaviour: () => unknown, options: Partial<RunnerOptions> = {}): Promise<never> {
  throw await actFailure(env, behaviour, options);
}

async function actFailure(env: Env, behaviour: () => unknown, options: Partial<RunnerOptions> = {}): Promise<unknown> {
  const trackingId = env.tid('act');
  behaviours.set(trackingId, behaviour);
  const first = await env.runner(options).run(Act, {}, trackingId).then(never('runAct'), (e: unknown) => e);
  const replay = await (await env.runner().get(Act, trackingId))!.result().then(never('replay'), (e: unknown) => e);
  expect(replay).toBeInstanceOf(StepFailedError);
  expect((replay as Error).message).toBe((first as Error).message);
  expect(((replay as Error).cause as Error).message).toBe(((first as Error).cause as Error).message);
  return first;
}

/** A TCP server between the client and PostgreSQL: it forwards until frozen, then drops everything (a half-open peer). */
class TcpProxy {
  private frozen = false;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  port = 0;

  private constructor(private readonly target: { host: string; port: number } | undefined) {
    this.server = createServer((client) => this.accept(client));
  }

  static async start(target: { host: string; port: number } | undefined): Promise<TcpProxy> {
    const proxy = new TcpProxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as { port: number }).port;
    return proxy;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private accept(client: Socket): void {
    this.track(client);
    // Frozen (or no target): accept the connection and never answer.
    if (this.frozen || !this.target) return;
    const upstream = tcpConnect(this.target.port, this.target.host);
    this.track(upstream);
    client.on('data', (data) => void (this.frozen || upstream.write(data)));
    upstream.on('data', (data) => void (this.frozen || client.write(data)));
  }

  freeze(): void {
    this.frozen = true;
  }

  url(base: string): string {
    const url = new URL(base);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function pgTarget(): { host: string; port: number } {
  const url = new URL(serverUrl());
  return { host: url.hostname, port: Number(url.port || 5432) };
}

function withDatabase(base: string, database: string): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

const PACKAGES = join(__dirname, '..', '..');

/** `migrate()` in `count` child processes at once, on the built packages; each reports 'migrated' or its error. */
async function migrateInProcesses(target: Db, count: number): Promise<string[]> {
  for (const pkg of ['core', 'storage-sqlite', 'storage-postgres']) {
    if (!existsSync(join(PACKAGES, pkg, 'dist', 'index.js'))) throw new Error(`packages/${pkg}/dist is missing: this case runs the built packages in child processes. Run \`pnpm build\` first.`);
  }
  const script = `
    const options = JSON.parse(process.env.CAIRN_STORAGE);
    const storage = options.filename
      ? new (require(${JSON.stringify(join(PACKAGES, 'storage-sqlite'))}).SqliteStorage)({ ...options, busyTimeoutMs: 10000 })
      : new (require(${JSON.stringify(join(PACKAGES, 'storage-postgres'))}).PostgresStorage)({ ...options, listen: false });
    setTimeout(() => storage.migrate().then(() => storage.close()).then(
      () => console.log('migrated'),
      (e) => { console.log(e.name + ': ' + e.message); process.exitCode = 1; },
    ), Math.max(0, Number(process.env.GO_AT) - Date.now()));`;
  const options = target instanceof SqliteDb ? { filename: target.file } : { connectionString: (target as PgDb).url, schema: (target as PgDb).schema };
  const env = { ...process.env, CAIRN_STORAGE: JSON.stringify(options), GO_AT: String(Date.now() + 1000) };
  const runs = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, ['-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    return new Promise<string>((resolve) => child.on('close', () => resolve(out.trim())));
  });
  return Promise.all(runs);
}

// ---- the catalog -------------------------------------------------------------------------------

const FAST: Tuning = { busyTimeoutMs: 50, transientRetryMs: 400, connectTimeoutMs: 200, statementTimeoutMs: 300 };

const CATALOG: readonly Case[] = [
  // -- decorator misuse: one WorkflowDefinitionError listing every problem, before anything is written
  {
    name: 'class without @Workflow',
    area: 'decorators',
    backends: BOTH,
    act: (env) => env.runner().start(NotDecorated, {}, env.tid('x')),
    throws: { error: WorkflowDefinitionError, message: ['NotDecorated', 'has no @Workflow decorator'] },
  },
  {
    name: 'workflow without steps',
    area: 'decorators',
    backends: BOTH,
    act: (env) => env.runner().start(NoSteps, {}, env.tid('x')),
    throws: { error: WorkflowDefinitionError, message: ['NoSteps', 'has no @Step or @Subflow methods'] },
  },
  {
    name: '@Step on a property',
    area: 'decorators',
    backends: BOTH,
    act: (env) => env.runner().start(StepOnProperty, {}, env.tid('x')),
    throws: { error: WorkflowDefinitionError, message: ['StepOnProperty', "'notAMethod' is a property or accessor", 'decorators belong on methods'] },
  },
  {
    name: 'duplicate step names',
    area: 'decorators',
    backends: BOTH,
    act: (env) => env.runner().start(DuplicateNames, {}, env.tid('x')),
    throws: { error: WorkflowDefinitionError, message: ["duplicate step name 'charge'", 'chargeCard', 'chargeAgain'] },
  },
  {
    name: '@Parallel without @Step',
    area: 'decorators',
    backends: BOTH,
    act: (env) => env.runner().start(ParallelWithoutStep, {}, env.tid('x')),
    throws: { error: WorkflowDefinitionError, message: ["@Parallel on 'lonely' needs @Step or @Subflow"] },
  },
  {
    name: '@Subflow target is not a workflow',
    area: 'decorators',
    backends: BOTH,
    act: (env) => env.runner().start(SubflowToPlainClass, {}, env.tid('x')),
    throws: { error: WorkflowDefinitionError, message: ['@Subflow child', 'NotDecorated is not a @Workflow class'] },
  },
  {
    name: '@Subflow target thunk returns undefined (circular import)',
    area: 'decorators',
    backends: BOTH,
    act: (env) => env.runner().start(SubflowToUndefined, {}, env.tid('x')),
    throws: { error: WorkflowDefinitionError, message: ['@Subflow child', 'returned undefined', 'circular import'] },
  },
  {
    name: 'when is not a function',
    area: 'decorators',
    backends: BOTH,
    act: (env) => env.runner().start(WhenNotFunction, {}, env.tid('x')),
    throws: { error: WorkflowDefinitionError, message: ["@Step a: 'when' must be a function (got string)"] },
  },
  {
    name: 'bad retries, backoff and timeout',
    area: 'decorators',
    backends: BOTH,
    act: (env) => env.runner().start(BadRetryOptions, {}, env.tid('x')),
    throws: { error: WorkflowDefinitionError, message: ['3 problems', 'retries must be an integer from 0 to 1000 (got -1)', 'backoff.max (1000 ms) is smaller than backoff.min (10000 ms)', "timeout must be a duration like '200ms'"] },
  },
  {
    name: 'bad workflow name and version',
    area: 'decorators',
    backends: BOTH,
    act: (env) => env.runner().start(BadNameAndVersion, {}, env.tid('x')),
    throws: { error: WorkflowDefinitionError, message: ["workflow name 'has spaces' must be 1–200 characters", 'workflow version must be a positive integer (got 0)'] },
  },
  {
    name: 'static step, and @Step with @Subflow on one method',
    area: 'decorators',
    backends: BOTH,
    act: (env) => env.runner().start(StaticStep, {}, env.tid('x')),
    throws: { error: WorkflowDefinitionError, message: ["'a' is static; steps must be instance methods", 'a method cannot be both @Step and @Subflow'] },
  },
  {
    name: 'two classes registered as one workflow name and version',
    area: 'decorators',
    backends: BOTH,
    act: async (env) => {
      const runner = env.runner();
      runner.register(Echo);
      return runner.start(EchoImpostor, {}, env.tid('x'));
    },
    throws: { error: InvalidArgumentError, message: ["workflow 'catalog-echo' version 1", 'Echo and EchoImpostor', 'bump the version'] },
  },

  // -- wrong argument types and options: InvalidArgumentError naming the argument and the value
  {
    name: 'start() with a workflow name instead of the class',
    area: 'arguments',
    backends: BOTH,
    act: (env) => env.runner().start('catalog-echo' as unknown as WorkflowClass, {}, env.tid('x')),
    throws: { error: InvalidArgumentError, message: ["Expected a workflow class (a class decorated with @Workflow), got the string 'catalog-echo'", 'Pass the class itself'] },
  },
  {
    name: 'trackingId is not a string',
    area: 'arguments',
    backends: BOTH,
    act: (env) => env.runner().start(Echo, {}, 42 as unknown as string),
    throws: { error: InvalidArgumentError, message: ['trackingId must be a string (got number)'] },
  },
  {
    name: 'trackingId empty',
    area: 'arguments',
    backends: BOTH,
    act: (env) => env.runner().start(Echo, {}, ''),
    throws: { error: InvalidArgumentError, message: ['trackingId must be 1–512 characters (got 0)'] },
  },
  {
    name: 'trackingId longer than 512 characters',
    area: 'arguments',
    backends: BOTH,
    act: (env) => env.runner().start(Echo, {}, 'x'.repeat(513)),
    throws: { error: InvalidArgumentError, message: ['trackingId must be 1–512 characters (got 513)'] },
  },
  {
    name: 'trackingId with a NUL character',
    area: 'arguments',
    backends: BOTH,
    act: (env) => env.runner().start(Echo, {}, 'order\u00001'),
    throws: { error: InvalidArgumentError, message: ['trackingId must not contain control characters (NUL'] },
  },
  {
    name: 'trackingId with a lone surrogate',
    area: 'arguments',
    backends: BOTH,
    act: (env) => env.runner().get(Echo, 'order-\ud800'),
    throws: { error: InvalidArgumentError, message: ['trackingId must be valid Unicode (it contains a lone surrogate)'] },
  },
  {
    name: 'Runner without a storage',
    area: 'arguments',
    backends: BOTH,
    act: async () => new Runner({ storage: {} as Storage }),
    throws: { error: InvalidArgumentError, message: ['Runner options.storage must be a Cairn Storage', 'new SqliteStorage'] },
  },
  {
    name: 'leaseMs not a duration',
    area: 'arguments',
    backends: BOTH,
    act: async (env) => env.runner({ leaseMs: '1 fortnight' }),
    throws: { error: InvalidArgumentError, message: ["leaseMs must be a duration like '200ms', '30s' or '5m' (got '1 fortnight')"] },
  },
  {
    name: 'heartbeatMs not shorter than leaseMs',
    area: 'arguments',
    backends: BOTH,
    act: async (env) => env.runner({ leaseMs: '10s', heartbeatMs: '10s' }),
    throws: { error: InvalidArgumentError, message: ['heartbeatMs (10000) must be shorter than leaseMs (10000)'] },
  },
  {
    name: 'maxPayloadBytes not a positive integer',
    area: 'arguments',
    backends: BOTH,
    act: async (env) => env.runner({ maxPayloadBytes: 0 }),
    throws: { error: InvalidArgumentError, message: ['Runner options.maxPayloadBytes must be a positive integer (got 0)'] },
  },
  {
    name: 'role not worker or client',
    area: 'arguments',
    backends: BOTH,
    act: async (env) => env.runner({ role: 'boss' as 'worker' }),
    throws: { error: InvalidArgumentError, message: ["Runner options.role must be 'worker' or 'client' (got 'boss')"] },
  },
  {
    name: 'workerId with a NUL character',
    area: 'arguments',
    backends: BOTH,
    act: async (env) => env.runner({ workerId: 'worker\u00001' }),
    throws: { error: InvalidArgumentError, message: ['Runner options.workerId must not contain control characters', 'lone surrogates'] },
  },
  {
    name: 'clock without sleep()',
    area: 'arguments',
    backends: BOTH,
    act: async (env) => env.runner({ clock: { now: () => 0 } as unknown as RunnerOptions['clock'] }),
    throws: { error: InvalidArgumentError, message: ['Runner options.clock must be a Clock with now() and sleep(ms, signal)', 'sleep is not a function'] },
  },
  {
    name: 'serializer is JSON',
    area: 'arguments',
    backends: BOTH,
    act: async (env) => env.runner({ serializer: JSON as unknown as Serializer }),
    throws: { error: InvalidArgumentError, message: ['Runner options.serializer must have serialize(value) and deserialize(text)', 'serialize, deserialize are not a function'] },
  },
  {
    name: 'workflows is not an array',
    area: 'arguments',
    backends: BOTH,
    act: async (env) => env.runner({ workflows: Echo as unknown as WorkflowClass[] }),
    throws: { error: InvalidArgumentError, message: ['Runner options.workflows must be an array of workflow classes (got function)'] },
  },
  {
    name: 'work() with concurrency 0, and twice',
    area: 'arguments',
    backends: BOTH,
    act: async (env) => {
      const runner = env.runner();
      expect(() => runner.work({ concurrency: 0 })).toThrow(/work\(\{ concurrency \}\) must be a positive integer \(got 0\)/);
      runner.work({ pollMs: '1h' });
      runner.work();
    },
    throws: { error: InvalidArgumentError, message: ['work() was already called on this runner'] },
  },
  {
    name: 'resume() on a client runner',
    area: 'arguments',
    backends: BOTH,
    act: (env) => env.runner({ role: 'client' }).resume(SeedFailed, 'seed-failed'),
    throws: { error: InvalidArgumentError, message: ["resume() needs a runner with role 'worker'"] },
  },
  {
    name: 'resolve() returns null',
    area: 'arguments',
    backends: BOTH,
    act: (env) => env.runner({ resolve: () => null as unknown as object }).start(Echo, {}, env.tid('x')),
    throws: { error: InvalidArgumentError, message: ['resolve(Echo) returned null, not an instance'] },
  },
  {
    name: 'close() with a bad timeout',
    area: 'arguments',
    backends: BOTH,
    act: async (env) => {
      const runner = env.runner();
      await runner.close({ timeoutMs: 'later' }).then(never('close'), (e: unknown) => {
        // The bad call closed nothing: the runner still answers.
        expect(e).toBeInstanceOf(InvalidArgumentError);
        return undefined;
      });
      expect(await runner.get(SeedOk, 'seed-ok')).toBeDefined();
      return runner.close({ timeoutMs: -1 });
    },
    throws: { error: InvalidArgumentError, message: ['close({ timeoutMs }) must be a finite, non-negative number of milliseconds (got -1)'] },
  },
  {
    name: 'a runner used after close()',
    area: 'arguments',
    backends: BOTH,
    act: async (env) => {
      const runner = env.runner();
      await runner.close();
      return runner.start(Echo, {}, env.tid('x'));
    },
    throws: { error: RunnerClosedError, message: ['This runner is closed'] },
  },
  {
    name: 'storage options out of range',
    area: 'arguments',
    backends: BOTH,
    act: async (env) =>
      env.backend === 'sqlite' ? new SqliteStorage({ busyTimeoutMs: -5 }) : new PostgresStorage({ connectionString: serverUrl(), transientRetryMs: 1.5 }),
    throws: { error: InvalidArgumentError, message: [/(SqliteStorage busyTimeoutMs must be a non-negative integer \(got -5\)|PostgresStorage transientRetryMs must be a non-negative integer of milliseconds \(got 1\.5\))/] },
  },
  {
    name: 'SqliteStorage given a closed database',
    area: 'arguments',
    backends: SQLITE,
    act: async () => {
      const db = new Database(':memory:');
      db.close();
      return new SqliteStorage({ database: db });
    },
    throws: { error: InvalidArgumentError, message: ["SqliteStorage database ':memory:' is closed; pass an open better-sqlite3 Database"] },
  },
  {
    name: 'PostgresStorage given something that is not a pool',
    area: 'arguments',
    backends: POSTGRES,
    act: async () => new PostgresStorage({ pool: { query: () => undefined } as unknown as pg.Pool }),
    throws: { error: InvalidArgumentError, message: ['PostgresStorage pool must be a pg Pool'] },
  },
  {
    name: 'PostgresStorage schema that is not an identifier',
    area: 'arguments',
    backends: POSTGRES,
    act: async () => new PostgresStorage({ connectionString: serverUrl(), schema: 'cairn"; drop table x; --' }),
    throws: { error: InvalidArgumentError, message: ['PostgresStorage schema must be a lower-case identifier', 'drop table'] },
  },

  // -- unknown workflows and runs
  {
    name: 'resume() of a tracking id that was never started',
    area: 'unknown',
    backends: BOTH,
    act: (env) => env.runner().resume(Echo, 'never-started'),
    throws: { error: RunNotFoundError, message: ["No run of workflow 'catalog-echo' has tracking id 'never-started'"] },
  },
  {
    name: 'a subclass of a workflow without its own @Workflow',
    area: 'unknown',
    backends: BOTH,
    act: (env) => env.runner().start(EchoSubclass, {}, env.tid('x')),
    throws: { error: WorkflowDefinitionError, message: ['EchoSubclass', 'has no @Workflow decorator'] },
  },

  // -- values refused at start: nothing written
  {
    name: 'input over maxPayloadBytes',
    area: 'values',
    backends: BOTH,
    act: (env) => startEcho(env, { blob: 'x'.repeat(5000) }, { maxPayloadBytes: 1024 }),
    throws: { error: PayloadTooLargeError, message: ['Cannot store the input of workflow catalog-echo', 'over the 1024-byte limit (maxPayloadBytes)'] },
  },
  {
    name: 'function in the input',
    area: 'values',
    backends: BOTH,
    act: (env) => startEcho(env, { order: { id: 1, callback: () => 1 } }),
    throws: { error: SerializationError, message: ['Cannot store the input of workflow catalog-echo', 'Cannot stringify a function', 'value.order.callback'] },
  },
  {
    name: 'symbol in the input',
    area: 'values',
    backends: BOTH,
    act: (env) => startEcho(env, { tags: ['a', Symbol('b')] }),
    throws: { error: SerializationError, message: ['input of workflow catalog-echo', 'value.tags[1]'] },
  },
  {
    name: 'class instance in the input',
    area: 'values',
    backends: BOTH,
    act: (env) => {
      class Money {
        constructor(readonly cents: number) {}
        format(): string {
          return `${this.cents / 100}`;
        }
      }
      return startEcho(env, { total: new Money(100) });
    },
    throws: { error: SerializationError, message: ['input of workflow catalog-echo', 'non-POJO', 'value.total'] },
  },
  {
    name: 'Error object in the input',
    area: 'values',
    backends: BOTH,
    act: (env) => startEcho(env, { lastError: new Error('boom') }),
    throws: { error: SerializationError, message: ['input of workflow catalog-echo', 'value.lastError'] },
  },
  {
    name: 'Promise in the input',
    area: 'values',
    backends: BOTH,
    act: (env) => startEcho(env, { pending: Promise.resolve(1) }),
    throws: { error: SerializationError, message: ['input of workflow catalog-echo', 'a Promise', 'await it', 'value.pending'] },
  },
  {
    name: 'own __proto__ key in the input',
    area: 'values',
    backends: BOTH,
    act: (env) => startEcho(env, { payload: JSON.parse('{"__proto__": {"admin": true}}') as unknown }),
    throws: { error: SerializationError, message: ['input of workflow catalog-echo', '__proto__', 'value.payload'] },
  },
  {
    name: 'getter that throws in the input',
    area: 'values',
    backends: BOTH,
    act: (env) =>
      startEcho(env, {
        get total(): number {
          throw new Error('total is not loaded');
        },
      }),
    throws: { error: SerializationError, message: ['Cannot store the input of workflow catalog-echo: serializing it threw: total is not loaded'] },
  },
  {
    name: 'input nested 20 000 levels deep',
    area: 'values',
    backends: BOTH,
    act: (env) => {
      let deep: unknown = 'bottom';
      for (let i = 0; i < 20_000; i++) deep = [deep];
      return startEcho(env, deep);
    },
    throws: { error: SerializationError, message: ['input of workflow catalog-echo', 'nested too deeply', 'Flatten the value'] },
  },
  {
    name: 'same trackingId, different input',
    area: 'values',
    backends: BOTH,
    act: (env) => env.runner().start(SeedOk, { n: 2 }, 'seed-ok'),
    throws: { error: TrackingIdConflictError, message: ["Workflow 'seed-ok' already has a run with tracking id 'seed-ok'", 'different input', 'nothing was changed', 'Use a new tracking id'] },
  },
  {
    name: 'custom serializer that emits NUL (binary as latin1)',
    area: 'values',
    backends: BOTH,
    act: (env) =>
      startEcho(env, { n: 1 }, { serializer: { serialize: (v) => Buffer.from(JSON.stringify(v) + '\u0000').toString('latin1'), deserialize: (t) => JSON.parse(t.slice(0, -1)) as unknown } }),
    throws: { error: SerializationError, message: ['input of workflow catalog-echo', 'the serializer produced a NUL character'] },
  },
  {
    name: 'custom serializer that emits a lone surrogate',
    area: 'values',
    backends: BOTH,
    act: (env) => startEcho(env, 'x', { serializer: { serialize: () => '"\ud800"', deserialize: () => 'x' } }),
    throws: { error: SerializationError, message: ['input of workflow catalog-echo', 'lone surrogate', 'U+FFFD'] },
  },

  // -- values refused in a step: the step fails at once, the run fails, nothing half-written
  {
    name: 'step returns a function',
    area: 'steps',
    backends: BOTH,
    act: (env) => runAct(env, () => ({ ok: 1, nested: { fn: () => 1 } })),
    throws: {
      error: StepFailedError,
      message: ['Step act of catalog-act failed after 1 attempt', 'Cannot store the output of step act'],
      cause: { error: SerializationError, message: ['output of step act', 'value.nested.fn'] },
    },
    database: 'failed-run',
  },
  {
    name: 'step output over maxPayloadBytes',
    area: 'steps',
    backends: BOTH,
    act: (env) => runAct(env, () => 'y'.repeat(5000), { maxPayloadBytes: 1024 }),
    throws: {
      error: StepFailedError,
      message: ['Step act of catalog-act failed after 1 attempt'],
      cause: { error: PayloadTooLargeError, message: ['Cannot store the output of step act', 'over the 1024-byte limit (maxPayloadBytes)'] },
    },
    database: 'failed-run',
  },
  {
    name: 'step returns an Error object',
    area: 'steps',
    backends: BOTH,
    act: (env) => runAct(env, () => new TypeError('returned, not thrown')),
    throws: {
      error: StepFailedError,
      message: ['Step act of catalog-act failed after 1 attempt'],
      cause: { error: SerializationError, message: ['output of step act', 'non-POJO', 'the value itself'] },
    },
    database: 'failed-run',
  },
  {
    name: 'subflow trackingId function returns an empty string',
    area: 'steps',
    backends: BOTH,
    act: (env) => env.runner().run(BadChildId, {}, env.tid('parent')),
    throws: {
      error: StepFailedError,
      message: ['Step child of catalog-bad-child-id failed after 1 attempt', 'trackingId must be 1–512 characters (got 0)'],
      cause: { error: InvalidArgumentError, message: ['trackingId must be 1–512 characters (got 0)'] },
    },
    database: 'failed-run',
  },
  {
    name: 'resolve() returns an instance without the step method',
    area: 'steps',
    backends: BOTH,
    act: (env) => runAct(env, () => 1, { resolve: () => ({}) }),
    throws: {
      error: StepFailedError,
      message: ['Step act of catalog-act failed after 1 attempt'],
      cause: { error: NonRetryableError, message: ['catalog-act.act is not a function on the resolved instance'] },
    },
    database: 'failed-run',
  },

  // -- non-Error throws: a readable message, stored, and the same on every replay
  {
    name: "throw 'a string'",
    area: 'throws',
    backends: BOTH,
    act: (env) => runAct(env, () => {
      throw 'upstream said no';
    }),
    throws: { error: StepFailedError, message: ['Step act of catalog-act failed after 2 attempts: upstream said no'], cause: { error: Error, message: ['upstream said no'] } },
    database: 'failed-run',
  },
  {
    name: 'throw null',
    area: 'throws',
    backends: BOTH,
    act: (env) => runAct(env, () => {
      throw null;
    }),
    throws: { error: StepFailedError, message: ['failed after 2 attempts: null was thrown'], cause: { error: Error, message: ['null was thrown'] } },
    database: 'failed-run',
  },
  {
    name: 'throw undefined',
    area: 'throws',
    backends: BOTH,
    act: (env) => runAct(env, () => {
      throw undefined;
    }),
    throws: { error: StepFailedError, message: ['failed after 2 attempts: undefined was thrown'], cause: { error: Error, message: ['undefined was thrown'] } },
    database: 'failed-run',
  },
  {
    name: 'throw a number, a bigint, a symbol',
    area: 'throws',
    backends: BOTH,
    act: async (env) => {
      for (const [value, text] of [[Symbol('tag'), 'a symbol was thrown: tag'], [10n, 'bigint was thrown: 10']] as const) {
        const error = await actFailure(env, () => {
          throw value;
        });
        expect(((error as Error).cause as Error).message).toBe(text);
      }
      return runAct(env, () => {
        throw 42;
      });
    },
    throws: { error: StepFailedError, message: ['failed after 2 attempts: number was thrown: 42'], cause: { error: Error, message: ['number was thrown: 42'] } },
    database: 'failed-run',
  },
  {
    name: 'throw an object whose message getter throws',
    area: 'throws',
    backends: BOTH,
    act: (env) =>
      runAct(env, () => {
        throw {
          get message(): string {
            throw new Error('getter');
          },
        };
      }),
    throws: { error: StepFailedError, message: ['failed after 2 attempts: object was thrown (no readable message)'], cause: { error: Error, message: ['object was thrown (no readable message)'] } },
    database: 'failed-run',
  },
  {
    name: 'throw a plain object',
    area: 'throws',
    backends: BOTH,
    act: (env) => runAct(env, () => {
      throw { status: 503, body: 'try later' };
    }),
    throws: { error: StepFailedError, message: ['non-Error object was thrown: {"status":503,"body":"try later"}'], cause: { error: Error, message: ['{"status":503,"body":"try later"}'] } },
    database: 'failed-run',
  },
  {
    name: 'Error message with NUL and a lone surrogate',
    area: 'throws',
    backends: BOTH,
    act: async (env) => {
      const error = await actFailure(env, () => {
        throw new Error('bad byte \u0000 and half a pair \ud83d here');
      });
      expect(((error as Error).cause as Error).message).toBe('bad byte \u0000 and half a pair \ud83d here');
      throw error;
    },
    throws: { error: StepFailedError, message: ['bad byte \u0000 and half a pair \ud83d here'], cause: { error: Error, message: ['bad byte \u0000 and half a pair \ud83d here'] } },
    database: 'failed-run',
  },

  // -- good input that must survive exactly (read back from the database)
  {
    name: 'Date round-trip (ordinary, extreme, invalid)',
    area: 'round-trips',
    backends: BOTH,
    act: (env) => roundTrip(env, { at: new Date(1_700_000_000_123), first: new Date(-8.64e15), last: new Date(8.64e15), invalid: new Date(Number.NaN) }),
    survives: (copies) => {
      for (const copy of copies as { at: Date; first: Date; last: Date; invalid: Date }[]) {
        expect([copy.at.getTime(), copy.first.getTime(), copy.last.getTime()]).toEqual([1_700_000_000_123, -8.64e15, 8.64e15]);
        expect(copy.invalid).toBeInstanceOf(Date);
        expect(Number.isNaN(copy.invalid.getTime())).toBe(true);
      }
    },
    database: 'completed-run',
  },
  {
    name: 'BigInt round-trip',
    area: 'round-trips',
    backends: BOTH,
    act: (env) => roundTrip(env, [0n, -1n, 2n ** 64n, -(2n ** 200n)]),
    survives: expectSame([0n, -1n, 2n ** 64n, -(2n ** 200n)]),
    database: 'completed-run',
  },
  {
    name: 'Map and Set round-trip',
    area: 'round-trips',
    backends: BOTH,
    act: (env) => roundTrip(env, { byId: new Map<unknown, unknown>([[1, 'one'], [{ compound: 'key' }, new Set([NaN, 'x'])]]), tags: new Set(['a', 'b']) }),
    survives: expectSame({ byId: new Map<unknown, unknown>([[1, 'one'], [{ compound: 'key' }, new Set([NaN, 'x'])]]), tags: new Set(['a', 'b']) }),
    database: 'completed-run',
  },
  {
    name: 'undefined, NaN, -0 and ±Infinity round-trip',
    area: 'round-trips',
    backends: BOTH,
    act: async (env) => {
      const nothing = await roundTrip(env, undefined);
      expect(nothing).toHaveLength(3);
      for (const copy of nothing) expect(copy).toBeUndefined();
      return roundTrip(env, { gone: undefined, list: [undefined, NaN, -0, Infinity, -Infinity] });
    },
    survives: expectSame({ gone: undefined, list: [undefined, NaN, -0, Infinity, -Infinity] }),
    database: 'completed-run',
  },
  {
    name: 'typed arrays, sparse arrays, RegExp, URL and null-prototype objects round-trip',
    area: 'round-trips',
    backends: BOTH,
    act: (env) => {
      const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
      return roundTrip(env, { bytes: new Uint8Array([0, 255]), floats: new Float64Array([0.1, -0]), sparse: [1, , 3], re: /a\u0000b/giu, url: new URL('https://example.com/a?b=c'), bare });
    },
    survives: (copies) => {
      for (const copy of copies as Record<string, unknown>[]) {
        expect(copy.bytes).toStrictEqual(new Uint8Array([0, 255]));
        expect(copy.floats).toStrictEqual(new Float64Array([0.1, -0]));
        expect(1 in (copy.sparse as unknown[])).toBe(false);
        expect(copy.sparse).toHaveLength(3);
        expect(String(copy.re)).toBe(String(/a\u0000b/giu));
        expect(String(copy.url)).toBe('https://example.com/a?b=c');
        expect(Object.getPrototypeOf(copy.bare)).toBeNull();
        expect({ ...(copy.bare as object) }).toEqual({ a: 1 });
      }
    },
    database: 'completed-run',
  },
  {
    name: 'cycles and shared references round-trip',
    area: 'round-trips',
    backends: BOTH,
    act: (env) => {
      const shared = { id: 'shared' };
      const node: Record<string, unknown> = { left: shared, right: shared };
      node.self = node;
      return roundTrip(env, node);
    },
    survives: (copies) => {
      for (const copy of copies as Record<string, unknown>[]) {
        expect(copy.self).toBe(copy);
        expect(copy.left).toBe(copy.right);
        expect(copy.left).toEqual({ id: 'shared' });
      }
    },
    database: 'completed-run',
  },
  {
    name: 'NUL characters in strings, keys and Map keys round-trip',
    area: 'round-trips',
    backends: BOTH,
    act: (env) => roundTrip(env, { 'k\u0000ey': 'va\u0000lue', list: ['\u0000', '\u0000\u0000'], m: new Map([['\u0000', '\u0000']]) }),
    survives: expectSame({ 'k\u0000ey': 'va\u0000lue', list: ['\u0000', '\u0000\u0000'], m: new Map([['\u0000', '\u0000']]) }),
    database: 'completed-run',
  },
  {
    name: 'lone surrogates in strings and keys round-trip',
    area: 'round-trips',
    backends: BOTH,
    act: (env) => roundTrip(env, { high: 'a\ud800b', low: '\udc00', reversed: '\udc00\ud800', ['\udfff']: 'key', pair: '😀' }),
    survives: expectSame({ high: 'a\ud800b', low: '\udc00', reversed: '\udc00\ud800', ['\udfff']: 'key', pair: '😀' }),
    database: 'completed-run',
  },
  {
    name: 'a Buffer comes back as a Uint8Array with the same bytes',
    area: 'round-trips',
    backends: BOTH,
    act: (env) => roundTrip(env, Buffer.from('héllo')),
    survives: (copies) => {
      for (const copy of copies as unknown[]) {
        expect(copy).toBeInstanceOf(Uint8Array);
        expect(Buffer.isBuffer(copy)).toBe(false);
        expect(Buffer.from(copy as Uint8Array).toString()).toBe('héllo');
      }
    },
    database: 'completed-run',
  },

  // -- storage faults: a typed error within bounded time, nothing written
  {
    name: 'SQLite file locked longer than busy_timeout',
    area: 'storage',
    backends: SQLITE,
    act: async (env, target) => {
      const holder = new Database((target as SqliteDb).file);
      env.defer(() => holder.close());
      holder.exec('begin exclusive');
      env.defer(() => holder.exec('rollback'));
      const runner = env.runner({}, target, FAST);
      // Reads still work (WAL): only writers wait for the lock.
      expect(await runner.get(SeedOk, 'seed-ok')).toBeDefined();
      return runner.start(Echo, {}, env.tid('locked'));
    },
    throws: { error: StorageBusyError, message: [/Could not start run 'locked-\d+-\d+' of workflow catalog-echo on sqlite: database is locked \(SQLITE_BUSY\) \(tried \d+ times over \d+ ms\)/, 'safe to retry'] },
  },
  {
    name: 'PostgreSQL table locked by another session longer than lockTimeoutMs',
    area: 'storage',
    backends: POSTGRES,
    act: async (env, target) => {
      const db = target as PgDb;
      const holder = new pg.Client({ connectionString: db.url });
      holder.on('error', () => undefined);
      await holder.connect();
      env.defer(() => holder.end());
      await holder.query('begin');
      await holder.query(`lock table "${db.schema}".cairn_runs in access exclusive mode`);
      env.defer(() => holder.query('rollback'));
      return env.runnerOn(db.storage({ ...FAST, lockTimeoutMs: 100 })).start(Echo, {}, env.tid('locked'));
    },
    throws: { error: StorageBusyError, message: [/Could not start run 'locked-\d+-\d+' of workflow catalog-echo on postgres: canceling statement due to lock timeout \(55P03\) \(tried \d+ times over \d+ ms\)/, 'safe to retry'] },
  },
  {
    name: 'database opened read-only (SQLite file; PostgreSQL session, like a replica)',
    area: 'storage',
    backends: BOTH,
    act: (env, target) => {
      if (target instanceof SqliteDb) return env.runnerOn(new SqliteStorage({ database: new Database(target.file, { readonly: true }) })).start(Echo, {}, env.tid('ro'));
      const url = new URL((target as PgDb).url);
      url.searchParams.set('options', '-c default_transaction_read_only=on');
      return env.runnerOn((target as PgDb).storage(FAST, { connectionString: url.toString() })).start(Echo, {}, env.tid('ro'));
    },
    throws: {
      error: StorageFailedError,
      message: [/of workflow catalog-echo on (sqlite: attempt to write a readonly database \(SQLITE_READONLY\)|postgres: cannot execute \w+ in a read-only transaction \(25006\))/, 'Retrying will not help'],
    },
  },
  {
    name: 'SQLite file that is not a database',
    area: 'storage',
    backends: SQLITE,
    act: async (env) => {
      const file = join(mkdtempSync(join(tmpdir(), 'cairn-garbage-')), 'notes.txt');
      const text = 'These are my notes, not a database. '.repeat(100);
      writeFileSync(file, text);
      env.defer(() => expect(readFileSync(file, 'utf8')).toBe(text));
      return env.runnerOn(new SqliteStorage({ filename: file })).migrate();
    },
    throws: { error: StorageFailedError, message: ['Could not migrate on sqlite: file is not a database (SQLITE_NOTADB)', 'Retrying will not help'] },
  },
  {
    name: 'SQLite file in a directory that does not exist',
    area: 'storage',
    backends: SQLITE,
    act: async (env) => {
      const dir = join(tmpdir(), `cairn-missing-${process.pid}-${++counter}`);
      env.defer(() => expect(existsSync(dir)).toBe(false));
      return env.runnerOn(new SqliteStorage({ filename: join(dir, 'cairn.db') })).start(Echo, {}, env.tid('x'));
    },
    throws: { error: StorageFailedError, message: ["cannot open the SQLite file", 'the directory does not exist (SQLITE_CANTOPEN)'] },
  },
  {
    name: 'PostgreSQL unreachable (closed port)',
    area: 'storage',
    backends: POSTGRES,
    act: async (env, target) => {
      const url = new URL(serverUrl());
      url.port = String(await closedPort());
      return env.runnerOn((target as PgDb).storage(FAST, { connectionString: url.toString() })).start(Echo, {}, env.tid('x'));
    },
    throws: { error: StorageUnavailableError, message: ['on postgres: connect ECONNREFUSED', 'could not be reached', 'safe to retry'] },
  },
  {
    name: 'PostgreSQL host name that does not resolve',
    area: 'storage',
    backends: POSTGRES,
    act: (env, target) => env.runnerOn((target as PgDb).storage(FAST, { connectionString: 'postgres://cairn@no-such-host.invalid:5432/cairn' })).migrate(),
    throws: { error: StorageUnavailableError, message: ['Could not migrate on postgres: getaddrinfo ENOTFOUND no-such-host.invalid', 'could not be reached'] },
  },
  {
    name: 'PostgreSQL database that does not exist',
    area: 'storage',
    backends: POSTGRES,
    act: (env, target) => env.runnerOn((target as PgDb).storage(FAST, { connectionString: withDatabase(serverUrl(), 'no_such_database') })).migrate(),
    throws: { error: StorageFailedError, message: ['Could not migrate on postgres: database "no_such_database" does not exist (3D000)', 'Retrying will not help'] },
  },
  {
    name: 'PostgreSQL half-open: accepts TCP, never answers (Cairn pool)',
    area: 'storage',
    backends: POSTGRES,
    act: async (env, target) => {
      const silent = await TcpProxy.start(undefined);
      env.defer(() => silent.close());
      return env.runnerOn((target as PgDb).storage(FAST, { connectionString: silent.url((target as PgDb).url) })).start(Echo, {}, env.tid('x'));
    },
    throws: { error: StorageUnavailableError, message: [/on postgres: (could not open a connection to PostgreSQL within 200 ms|Connection terminated due to connection timeout)/, 'could not be reached'] },
  },
  {
    name: 'PostgreSQL half-open: accepts TCP, never answers (your pool, no timeouts)',
    area: 'storage',
    backends: POSTGRES,
    act: async (env, target) => {
      const silent = await TcpProxy.start(undefined);
      const pool = new pg.Pool({ connectionString: silent.url((target as PgDb).url), max: 2 });
      pool.on('error', () => undefined);
      env.defer(() => pool.end());
      env.defer(() => silent.close());
      return env.runnerOn((target as PgDb).storage(FAST, { pool })).start(Echo, {}, env.tid('x'));
    },
    throws: { error: StorageUnavailableError, message: ['could not open a connection to PostgreSQL within 200 ms (connectTimeoutMs', 'accepted the connection without answering'] },
  },
  {
    name: 'PostgreSQL connection goes silent mid-session (half-open)',
    area: 'storage',
    backends: POSTGRES,
    act: async (env, target) => {
      const proxy = await TcpProxy.start(pgTarget());
      env.defer(() => proxy.close());
      // One try: the error is the statement timeout itself, not a later failure to reconnect.
      const runner = env.runnerOn((target as PgDb).storage({ ...FAST, transientRetryMs: 100 }, { connectionString: proxy.url((target as PgDb).url) }));
      expect(await runner.get(SeedOk, 'seed-ok')).toBeDefined();
      proxy.freeze();
      return runner.start(Echo, {}, env.tid('x'));
    },
    throws: { error: StorageUnavailableError, message: [/of workflow catalog-echo on postgres: Query read timeout \(tried 1 time over \d+ ms\)/, 'could not be reached'] },
  },
  {
    name: 'exhausted pool (your pool of 1, its client held)',
    area: 'storage',
    backends: POSTGRES,
    act: async (env, target) => {
      const pool = new pg.Pool({ connectionString: (target as PgDb).url, max: 1 });
      env.defer(() => pool.end());
      const held = await pool.connect();
      env.defer(() => held.release());
      return env.runnerOn((target as PgDb).storage(FAST, { pool })).start(Echo, {}, env.tid('x'));
    },
    throws: { error: StorageBusyError, message: ['no connection of the pg Pool became free within 200 ms (all 1 of 1 in use', 'the pool is exhausted', 'safe to retry'] },
  },
  {
    name: 'tables missing (migrate() never ran)',
    area: 'storage',
    backends: BOTH,
    target: (env) => env.fresh(),
    act: (env, target) => env.runner({}, target).start(Echo, {}, env.tid('x')),
    throws: { error: SchemaMismatchError, message: [/Could not start run '.*' of workflow catalog-echo on (sqlite|postgres)/, "Cairn's tables are missing or out of date", 'call runner.migrate()'] },
  },
  {
    name: 'schema newer than the code',
    area: 'storage',
    backends: BOTH,
    target: async (env) => {
      const db = await env.fresh();
      const storage = db.storage();
      await storage.migrate();
      await storage.close();
      await db.exec("insert into {t} (name, timestamp) values ('9999-from-the-future', '2031-01-01T00:00:00.000Z')", 'cairn_migrations');
      return db;
    },
    act: (env, target) => env.runner({}, target).migrate(),
    throws: { error: SchemaMismatchError, message: ['is newer than this code: migration 9999-from-the-future', 'Upgrade @cairn/core', 'nothing was changed'] },
  },
  {
    name: 'concurrent migrations',
    area: 'storage',
    backends: BOTH,
    target: (env) => env.fresh(),
    act: async (env, target) => {
      // Four processes (the built packages) migrate the same empty database at the same instant.
      const outcomes = await migrateInProcesses(target, 4);
      expect(outcomes).toEqual(['migrated', 'migrated', 'migrated', 'migrated']);
      return env.runner({}, target).run(Echo, 'after migrating', env.tid('migrated'));
    },
    survives: (value) => expect(value).toBe('after migrating'),
    database: (before, after) => {
      expect(before.cairn_runs).toBe('absent');
      expect((after.cairn_migrations as Row[]).map((r) => r.name).sort()).toEqual(Object.keys(migrations));
      expect(after.cairn_runs).toHaveLength(1);
    },
  },
];

// ---- running the catalog -----------------------------------------------------------------------

function settle<T>(work: () => Promise<T>, ms: number, name: string): Promise<{ value: T } | { error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name}: did not settle within ${ms} ms (a hang)`)), ms);
  });
  const done = Promise.resolve()
    .then(work)
    .then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
  return Promise.race([done, hang]).finally(() => clearTimeout(timer));
}

function expectFragments(message: string, fragments: readonly Fragment[]): void {
  for (const fragment of fragments) {
    if (typeof fragment === 'string') expect(message).toContain(fragment);
    else expect(message).toMatch(fragment);
  }
}

function runIdsOf(snapshot: Snapshot): Set<string> {
  const runs = snapshot.cairn_runs;
  return new Set(runs === 'absent' || runs === undefined ? [] : runs.map((r) => String(r.id)));
}

/** The snapshot without the rows of `runIds` (runs, their steps and events). */
function without(snapshot: Snapshot, runIds: Set<string>): Snapshot {
  const rest: Snapshot = {};
  for (const [table, rows] of Object.entries(snapshot)) {
    rest[table] = rows === 'absent' ? rows : rows.filter((r) => !runIds.has(String(table === 'cairn_runs' ? r.id : (r.run_id ?? ''))));
  }
  return rest;
}

/** Every stored text of the given runs: run input/output/error, step output/error, event detail. */
function storedTexts(snapshot: Snapshot, runIds: Set<string>): string[] {
  const texts: string[] = [];
  const rowsOf = (table: string): Row[] => {
    const rows = snapshot[table];
    return rows === 'absent' || rows === undefined ? [] : rows;
  };
  for (const r of rowsOf('cairn_runs')) if (runIds.has(String(r.id))) texts.push(...[r.input, r.output, r.error].filter((t): t is string => typeof t === 'string'));
  for (const r of rowsOf('cairn_steps')) if (runIds.has(String(r.run_id))) texts.push(...[r.output, r.error].filter((t): t is string => typeof t === 'string'));
  for (const r of rowsOf('cairn_events')) if (runIds.has(String(r.run_id)) && typeof r.detail === 'string') texts.push(r.detail);
  return texts;
}

function checkDatabase(c: Case, before: Snapshot, after: Snapshot): void {
  const rule = c.database ?? 'unchanged';
  if (typeof rule === 'function') {
    rule(before, after);
    return;
  }
  if (rule === 'unchanged') {
    expect(after).toEqual(before);
    return;
  }
  const added = new Set([...runIdsOf(after)].filter((id) => !runIdsOf(before).has(id)));
  expect(added.size).toBeGreaterThan(0);
  // Every row that is not the case's own run is exactly as it was.
  expect(without(after, added)).toEqual(without(before, added));
  const runs = (after.cairn_runs as Row[]).filter((r) => added.has(String(r.id)));
  for (const run of runs) expect(run.status).toBe(rule === 'failed-run' ? 'failed' : 'completed');
  if (rule === 'failed-run') {
    // Nothing half-written: a failed step has no output, and the run has its error.
    for (const run of runs) expect(run.error).not.toBeNull();
    const failed = (after.cairn_steps as Row[]).filter((s) => added.has(String(s.run_id)) && s.status === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    for (const step of failed) expect(step.output).toBeNull();
  }
  // What is stored is text every database holds: no NUL, no lone surrogate.
  for (const text of storedTexts(after, added)) {
    expect(text.includes('\u0000')).toBe(false);
    expect((text as string & { isWellFormed(): boolean }).isWellFormed()).toBe(true);
  }
}

async function runCase(c: Case, world: World): Promise<void> {
  const env = makeEnv(world);
  try {
    const target = c.target ? await c.target(env) : world.db;
    const before = await target.snapshot();
    const outcome = await settle(() => c.act(env, target), c.withinMs ?? 15_000, c.name);
    // Close the case's runners (and release its locks) before looking again, so late writes show.
    await env.cleanup();
    const after = await target.snapshot();
    if ('error' in outcome && outcome.error instanceof Error && /did not settle/.test(outcome.error.message)) throw outcome.error;
    if (c.throws) {
      if (!('error' in outcome)) throw new Error(`${c.name}: expected ${c.throws.error.name}, but the call succeeded`);
      const error = outcome.error as Error;
      if (!(error instanceof c.throws.error)) throw new Error(`${c.name}: expected ${c.throws.error.name}, got ${String((error as Error | undefined)?.name)}: ${String((error as Error | undefined)?.message)}`);
      expect(typeof (error as Error & { code?: unknown }).code).toBe('string');
      expectFragments(error.message, c.throws.message);
      if (c.throws.cause) {
        expect(error.cause).toBeInstanceOf(c.throws.cause.error);
        expectFragments((error.cause as Error).message, c.throws.cause.message);
      }
    } else {
      if ('error' in outcome) throw outcome.error;
      c.survives?.(outcome.value);
    }
    checkDatabase(c, before, after);
  } finally {
    await env.cleanup();
  }
}

describe.each(BOTH)('bad-input catalog on %s', (backend) => {
  let world: World;
  beforeAll(async () => {
    world = await openWorld(backend);
    await seed(world.db);
  }, 60_000);
  afterAll(async () => {
    await world?.close();
  });

  const cases = CATALOG.filter((c) => c.backends.includes(backend));
  test.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => runCase(c, world), 30_000);
});

test('the catalog has at least 30 cases, unique names, and docs/bad-input.md lists every one', () => {
  expect(CATALOG.length).toBeGreaterThanOrEqual(30);
  expect(new Set(CATALOG.map((c) => c.name)).size).toBe(CATALOG.length);
  const docs = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'bad-input.md'), 'utf8');
  const missing = CATALOG.filter((c) => !docs.includes(`| ${c.name.replace(/\|/g, '\\|')} |`)).map((c) => c.name);
  expect(missing).toEqual([]);
});
