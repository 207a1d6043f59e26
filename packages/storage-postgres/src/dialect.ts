/**
 * PostgreSQL dialect — what differs on PostgreSQL: the pg Pool (Cairn's own, or yours, which Cairn
 * never closes), claims with FOR UPDATE SKIP LOCKED so workers never queue on each other's rows,
 * leases judged by the database's clock, LISTEN/NOTIFY wake-ups (polling stays the fallback), and
 * which pg errors are transient. Concurrent migrate() calls are serialized by the advisory lock
 * Kysely's PostgreSQL adapter takes around migrations.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { PostgresDialect, sql, type RawBuilder, type Transaction } from 'kysely';
import { InvalidArgumentError, type CairnDatabase, type EventWrite, type GroupedCommit, type GroupedStart, type RunsTable, type StepWrite, type PermanentKind, type StorageDialect, type TransientKind } from '@cairn/core';
import { boundedPool, CONNECT_TIMEOUT, guardedPool, POOL_EXHAUSTED } from './guard';

export interface PostgresStorageOptions {
  /** Connection string (postgres://user:pass@host:port/db). Ignored when `pool` is given. */
  connectionString?: string;
  /** Your own pg Pool. Cairn uses it and never ends it. */
  pool?: pg.Pool;
  /** Size of the pool Cairn creates. Default 10. */
  poolSize?: number;
  /** Schema for Cairn's tables (created by migrate()). Default 'public'. */
  schema?: string;
  /**
   * Which clock judges leases and due times. 'database' (default): PostgreSQL's, the same for
   * every worker. 'runner': the Runner's injected clock (tests that move time by hand).
   */
  clock?: 'database' | 'runner';
  /** LISTEN for wake-ups on a dedicated connection. Default true. */
  listen?: boolean;
  /**
   * Longest wait for a connection, in ms: a new connection's handshake, or a free connection of the
   * pool. Default 10000. Bounds Cairn's calls on your pool too, whatever its own settings.
   */
  connectTimeoutMs?: number;
  /**
   * Longest wait for the answer to one statement, in ms (client-side, so it also ends a wait on a
   * half-open connection, which never answers). Default 60000; 0 disables it.
   */
  statementTimeoutMs?: number;
  /**
   * How long a statement on Cairn's own pool waits for a lock another session holds before it
   * fails and is retried (PostgreSQL's lock_timeout), in ms. Default 10000; 0: no limit. Set
   * lock_timeout on your own pool yourself.
   */
  lockTimeoutMs?: number;
  /**
   * How long one call keeps retrying lost connections and lock conflicts before it throws
   * StorageUnavailableError / StorageBusyError, in ms, attempts included. Default 20000.
   */
  transientRetryMs?: number;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,40}$/;
const BUSY_CODES = new Set(['40001', '40P01', '55P03', POOL_EXHAUSTED]);
const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '53300', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', CONNECT_TIMEOUT]);
/** Cairn's tables (or their schema) are missing or lack a column: migrate() was not run. */
const SCHEMA_CODES = new Set(['42P01', '42703', '3F000']);

/** By shape, not `instanceof`: socket errors may come from another realm (vm, jest). */
function classify(error: unknown): TransientKind | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (BUSY_CODES.has(code)) return 'busy';
    if (code.startsWith('08') || UNAVAILABLE_CODES.has(code)) return 'unavailable';
  }
  if (typeof message !== 'string') return undefined;
  if (/timeout exceeded when trying to connect/i.test(message)) return 'busy';
  if (/Connection terminated|not queryable|terminating connection|Client was closed|connection is closed|Query read timeout/i.test(message)) return 'unavailable';
  return undefined;
}

/** Every other error the server (a SQLSTATE) or the socket (a Node error code) raised is permanent. */
function classifyPermanent(error: unknown): PermanentKind | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const { code } = error as { code?: unknown };
  if (typeof code !== 'string') return undefined;
  if (SCHEMA_CODES.has(code)) return 'schema';
  return /^[0-9A-Z]{5}$/.test(code) || /^E[A-Z_]+$/.test(code) ? 'failed' : undefined;
}

function nonNegativeInteger(value: number | undefined, fallback: number, label: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) throw new InvalidArgumentError(`PostgresStorage ${label} must be a non-negative integer of milliseconds (got ${String(value)}).`);
  return value;
}

/** The most step or event rows a one-run statement spells out as VALUES; beyond, the unnest form. */
const MAX_VALUES_ROWS = 8;

/** Named statements: the name is derived from the text, so equal texts share a prepared statement. */
function named(kind: 'commit' | 'start', text: string): string {
  return `cairn_${kind}_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
}

/** `count` rows of `columns` as a VALUES list of typed parameters from $`first` on. */
function valuesRows(count: number, types: readonly string[], first: number): string {
  let n = first;
  return Array.from({ length: count }, () => `(${types.map((type) => `$${n++}::${type}`).join(', ')})`).join(', ');
}

const STEP_TYPES = ['text', 'text', 'int', 'text', 'text', 'text', 'bigint', 'bigint', 'bigint'] as const;
const STEP_NAMES = 'name, status, attempts, output, error, child_run_id, wake_at, started_at, finished_at';
const EVENT_TYPES = ['int', 'text', 'text', 'int', 'text'] as const;
const EVENT_NAMES = 'seq, type, node, attempt, detail';

function stepValues(steps: readonly StepWrite[]): unknown[] {
  return steps.flatMap((st) => [st.name, st.status, st.attempts, st.output, st.error, st.childRunId, st.wakeAt, st.startedAt, st.finishedAt]);
}

function eventValues(events: readonly EventWrite[]): unknown[] {
  return events.flatMap((ev) => [ev.seq, ev.type, ev.node, ev.attempt, ev.detail]);
}

/**
 * A group of fenced commits as one statement: the run updates, fenced on owner and epoch, then the
 * step upserts and event inserts of exactly the runs whose fence held. Every input is an array
 * (unnest), so the text is the same for one commit or sixty-four: it is a named prepared
 * statement, parsed and planned once per connection. A commit that changes no indexed column of
 * the run (a step finishing mid-run) is a HOT update. `now` is the database's clock, or each
 * commit's runner time when the runner's clock rules.
 */
function commitStatement(pool: pg.Pool, schema: string, databaseClock: boolean) {
  const table = (name: string): string => `"${schema}"."${name}"`;
  const now = databaseClock ? '(floor(extract(epoch from statement_timestamp()) * 1000))::bigint' : 'r.now';
  const text = `
    with r as (
      select * from unnest($1::text[], $2::text[], $3::int[], $4::bool[], $5::text[], $6::bool[], $7::text[], $8::bool[], $9::text[], $10::bool[], $11::bigint[], $12::bigint[])
        as r(id, owner, epoch, release, status, set_output, output, set_error, error, set_wake, wake, now)
    ), fenced as (
      update ${table('cairn_runs')} c set
        updated_at = ${now},
        lease_owner = case when r.release then null else c.lease_owner end,
        lease_expires_at = case when r.release then null else c.lease_expires_at end,
        status = coalesce(r.status, c.status),
        output = case when r.set_output then r.output else c.output end,
        error = case when r.set_error then r.error else c.error end,
        wake_at = case when r.set_wake then ${now} + r.wake else c.wake_at end
      from r
      where c.id = r.id and c.lease_owner = r.owner and c.lease_epoch = r.epoch
      returning c.id
    ), written_steps as (
      insert into ${table('cairn_steps')} as t (run_id, name, status, attempts, output, error, child_run_id, wake_at, started_at, finished_at)
      select s.* from unnest($13::text[], $14::text[], $15::text[], $16::int[], $17::text[], $18::text[], $19::text[], $20::bigint[], $21::bigint[], $22::bigint[])
        as s(run_id, name, status, attempts, output, error, child_run_id, wake_at, started_at, finished_at)
      where s.run_id in (select id from fenced)
      on conflict (run_id, name) do update set status = excluded.status, attempts = excluded.attempts, output = excluded.output, error = excluded.error,
        child_run_id = excluded.child_run_id, wake_at = excluded.wake_at, started_at = excluded.started_at, finished_at = excluded.finished_at
      where t.status not in ('completed', 'skipped')
    ), written_events as (
      insert into ${table('cairn_events')} (run_id, seq, type, node, attempt, detail, at)
      select e.run_id, e.seq, e.type, e.node, e.attempt, e.detail, ${now}
      from unnest($23::text[], $24::int[], $25::text[], $26::text[], $27::int[], $28::text[]) as e(run_id, seq, type, node, attempt, detail)
      join r on r.id = e.run_id
      where e.run_id in (select id from fenced)
      on conflict (run_id, seq) do nothing
    )
    select id from fenced`;
  const name = named('commit', text);
  const single = new Map<string, { name: string; text: string }>();
  /**
   * One commit with few rows, spelled out as VALUES: PostgreSQL executes it in about half the time
   * of the unnest form (the common case at low load, and C=1's whole latency). One prepared
   * statement per (steps, events) count, at most (MAX_VALUES_ROWS + 1)² of them.
   */
  const one = (steps: number, events: number): { name: string; text: string } => {
    const key = `${steps}/${events}`;
    let statement = single.get(key);
    if (!statement) {
      const runNow = databaseClock ? now : '$12::bigint';
      const text = `
        with fenced as (
          update ${table('cairn_runs')} c set
            updated_at = ${runNow},
            lease_owner = case when $4::boolean then null else c.lease_owner end,
            lease_expires_at = case when $4::boolean then null else c.lease_expires_at end,
            status = coalesce($5::text, c.status),
            output = case when $6::boolean then $7::text else c.output end,
            error = case when $8::boolean then $9::text else c.error end,
            wake_at = case when $10::boolean then ${runNow} + $11::bigint else c.wake_at end
          where c.id = $1::text and c.lease_owner = $2::text and c.lease_epoch = $3::int${databaseClock ? ' and $12::bigint is not null' : ''}
          returning c.id
        )${
          steps === 0
            ? ''
            : `, written_steps as (
          insert into ${table('cairn_steps')} as t (run_id, ${STEP_NAMES})
          select fenced.id, v.* from fenced, (values ${valuesRows(steps, STEP_TYPES, 13)}) as v(${STEP_NAMES})
          on conflict (run_id, name) do update set status = excluded.status, attempts = excluded.attempts, output = excluded.output, error = excluded.error,
            child_run_id = excluded.child_run_id, wake_at = excluded.wake_at, started_at = excluded.started_at, finished_at = excluded.finished_at
          where t.status not in ('completed', 'skipped')
        )`
        }${
          events === 0
            ? ''
            : `, written_events as (
          insert into ${table('cairn_events')} (run_id, ${EVENT_NAMES}, at)
          select fenced.id, v.*, ${runNow} from fenced, (values ${valuesRows(events, EVENT_TYPES, 13 + steps * STEP_TYPES.length)}) as v(${EVENT_NAMES})
          on conflict (run_id, seq) do nothing
        )`
        }
        select id from fenced`;
      statement = { name: named('commit', text), text };
      single.set(key, statement);
    }
    return statement;
  };
  return async (commits: readonly GroupedCommit[]): Promise<ReadonlySet<string>> => {
    const only = commits.length === 1 ? commits[0]! : undefined;
    if (only && (only.request.steps?.length ?? 0) <= MAX_VALUES_ROWS && (only.request.events?.length ?? 0) <= MAX_VALUES_ROWS) {
      const { request, now: at } = only;
      const run = request.run;
      const steps = request.steps ?? [];
      const events = request.events ?? [];
      const values = [
        request.runId, request.lease.owner, request.lease.epoch, run?.release === true, run?.status ?? null, run?.output !== undefined, run?.output ?? null,
        run?.error !== undefined, run?.error ?? null, run?.wakeAt !== undefined, run?.wakeAt === undefined || run.wakeAt === null ? null : run.wakeAt - at, at,
        ...stepValues(steps), ...eventValues(events),
      ];
      const { rows } = await pool.query<{ id: string }>({ ...one(steps.length, events.length), values });
      return new Set(rows.map((row) => row.id));
    }
    const v: unknown[][] = Array.from({ length: 28 }, () => []);
    for (const { request, now: at } of commits) {
      const run = request.run;
      const wake = run?.wakeAt === undefined || run.wakeAt === null ? null : run.wakeAt - at;
      // A due time travels as an offset from the commit's `now`, applied to the clock that rules.
      const runRow = [request.runId, request.lease.owner, request.lease.epoch, run?.release === true, run?.status ?? null, run?.output !== undefined, run?.output ?? null, run?.error !== undefined, run?.error ?? null, run?.wakeAt !== undefined, wake, at];
      runRow.forEach((value, i) => v[i]!.push(value));
      for (const st of request.steps ?? []) {
        [request.runId, st.name, st.status, st.attempts, st.output, st.error, st.childRunId, st.wakeAt, st.startedAt, st.finishedAt].forEach((value, i) => v[12 + i]!.push(value));
      }
      for (const ev of request.events ?? []) {
        [request.runId, ev.seq, ev.type, ev.node, ev.attempt, ev.detail].forEach((value, i) => v[22 + i]!.push(value));
      }
    }
    const { rows } = await pool.query<{ id: string }>({ name, text, values: v });
    return new Set(rows.map((row) => row.id));
  };
}

/**
 * New runs with their first steps and events as one statement (unnest, like the commit). A run
 * whose tracking id is taken writes nothing and is not returned. Enqueued runs (no owner) wake
 * sleeping workers (NOTIFY).
 */
function createRunStatement(pool: pg.Pool, schema: string, databaseClock: boolean, channel: string) {
  const table = (name: string): string => `"${schema}"."${name}"`;
  const now = databaseClock ? '(floor(extract(epoch from statement_timestamp()) * 1000))::bigint' : 'r.now';
  const text = `
    with r as (
      select * from unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[])
        as r(id, workflow_name, workflow_version, graph_hash, tracking_id, input, parent_run_id, parent_node, owner, lease_ms, now)
    ), inserted as (
      insert into ${table('cairn_runs')} (id, workflow_name, workflow_version, graph_hash, tracking_id, status, input, output, error, parent_run_id, parent_node,
        lease_owner, lease_epoch, lease_expires_at, wake_at, created_at, updated_at)
      select r.id, r.workflow_name, r.workflow_version, r.graph_hash, r.tracking_id, case when r.owner is null then 'pending' else 'running' end, r.input, null, null,
        r.parent_run_id, r.parent_node, r.owner, case when r.owner is null then 0 else 1 end, case when r.owner is null then null else ${now} + r.lease_ms end,
        null, ${now}, ${now}
      from r
      on conflict (workflow_name, tracking_id) do nothing
      -- The columns by name: a named statement's result type must not change when a migration adds one.
      returning id, workflow_name, workflow_version, graph_hash, tracking_id, status, input, output, error, parent_run_id, parent_node, lease_owner, lease_epoch, lease_expires_at, wake_at, created_at, updated_at
    ), written_steps as (
      insert into ${table('cairn_steps')} (run_id, name, status, attempts, output, error, child_run_id, wake_at, started_at, finished_at)
      select s.* from unnest($12::text[], $13::text[], $14::text[], $15::int[], $16::text[], $17::text[], $18::text[], $19::bigint[], $20::bigint[], $21::bigint[])
        as s(run_id, name, status, attempts, output, error, child_run_id, wake_at, started_at, finished_at)
      where s.run_id in (select id from inserted)
    ), written_events as (
      insert into ${table('cairn_events')} (run_id, seq, type, node, attempt, detail, at)
      select e.*, ${now} from unnest($22::text[], $23::int[], $24::text[], $25::text[], $26::int[], $27::text[]) as e(run_id, seq, type, node, attempt, detail)
      join r on r.id = e.run_id
      where e.run_id in (select id from inserted)
    ), woken as (
      select pg_notify($28, '') where exists (select 1 from inserted where lease_owner is null)
    )
    select inserted.id, inserted.workflow_name, inserted.workflow_version, inserted.graph_hash, inserted.tracking_id, inserted.status, inserted.input, inserted.output, inserted.error, inserted.parent_run_id, inserted.parent_node, inserted.lease_owner, inserted.lease_epoch, inserted.lease_expires_at, inserted.wake_at, inserted.created_at, inserted.updated_at, (select count(*) from woken) as woken from inserted`;
  const name = named('start', text);
  return async (starts: readonly GroupedStart[]): Promise<ReadonlyMap<string, RunsTable>> => {
    const v: unknown[][] = Array.from({ length: 27 }, () => []);
    for (const { request, now: at } of starts) {
      const { run } = request;
      [run.id, run.workflowName, run.workflowVersion, run.graphHash, run.trackingId, run.input, run.parentRunId, run.parentNode, request.owner, request.leaseMs, at].forEach((value, i) => v[i]!.push(value));
      for (const st of request.steps) [run.id, st.name, st.status, st.attempts, st.output, st.error, st.childRunId, st.wakeAt, st.startedAt, st.finishedAt].forEach((value, i) => v[11 + i]!.push(value));
      for (const ev of request.events) [run.id, ev.seq, ev.type, ev.node, ev.attempt, ev.detail].forEach((value, i) => v[21 + i]!.push(value));
    }
    const { rows } = await pool.query<RunsTable>({ name, text, values: [...v, channel] });
    return new Map(rows.map((row) => [row.id, row]));
  };
}

export function postgresDialect(options: PostgresStorageOptions): { dialect: StorageDialect; schema: string } {
  const schema = options.schema ?? 'public';
  if (typeof schema !== 'string' || !IDENTIFIER.test(schema)) throw new InvalidArgumentError(`PostgresStorage schema must be a lower-case identifier of at most 41 characters (got '${String(options.schema)}').`);
  const poolSize = options.poolSize ?? 10;
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new InvalidArgumentError(`PostgresStorage poolSize must be a positive integer (got ${String(options.poolSize)}).`);
  if (!options.pool && typeof options.connectionString !== 'string') throw new InvalidArgumentError('PostgresStorage needs a connectionString or a pool.');
  const clock = options.clock ?? 'database';
  if (clock !== 'database' && clock !== 'runner') throw new InvalidArgumentError(`PostgresStorage clock must be 'database' or 'runner' (got '${String(clock)}').`);
  const given = options.pool as Partial<pg.Pool> | undefined | null;
  if (given !== undefined && (given === null || typeof given !== 'object' || typeof given.connect !== 'function' || typeof given.on !== 'function')) {
    throw new InvalidArgumentError('PostgresStorage pool must be a pg Pool (new pg.Pool({ connectionString })).');
  }
  const connectTimeoutMs = nonNegativeInteger(options.connectTimeoutMs, 10_000, 'connectTimeoutMs');
  const statementTimeoutMs = nonNegativeInteger(options.statementTimeoutMs, 60_000, 'statementTimeoutMs');
  const lockTimeoutMs = nonNegativeInteger(options.lockTimeoutMs, 10_000, 'lockTimeoutMs');
  nonNegativeInteger(options.transientRetryMs, 0, 'transientRetryMs');

  const ownPool = options.pool
    ? undefined
    : new pg.Pool({
        connectionString: options.connectionString,
        max: poolSize,
        connectionTimeoutMillis: connectTimeoutMs,
        ...(statementTimeoutMs > 0 ? { query_timeout: statementTimeoutMs } : {}),
        ...(lockTimeoutMs > 0 ? { lock_timeout: lockTimeoutMs } : {}),
      });
  const raw = options.pool ?? ownPool!;
  const bounds = { connectTimeoutMs, statementTimeoutMs, isConnectionLost: (error: unknown) => classify(error) === 'unavailable' };
  // Every query Cairn makes, through Kysely or directly, waits only so long for a connection and an answer.
  const pool = boundedPool(raw, bounds);
  // A client killed by the server (restart, pg_terminate_backend) emits 'error': idle ones on the
  // pool, checked-out ones on themselves, where pg-pool removes its own listener. Without ours the
  // process would crash; the failed query surfaces as a transient error and the pool drops the client.
  const ignore = (): void => undefined;
  const onConnect = (client: pg.PoolClient): void => void client.on('error', ignore);
  pool.on('error', ignore);
  pool.on('connect', onConnect);
  const channel = `cairn_wake_${schema}`;
  const listeners = new Set<pg.Client>();
  const now = sql<number>`(floor(extract(epoch from statement_timestamp()) * 1000))::bigint`;

  const dialect: StorageDialect = {
    name: 'postgres',
    createKyselyDialect: () =>
      new PostgresDialect({
        // Yours is never ended by Cairn; either way a connection that stopped answering is bounded and dropped.
        pool: guardedPool(raw, { own: ownPool !== undefined, ...bounds }),
      }),
    classifyError: classify,
    classifyPermanentError: classifyPermanent,
    skipLockedClaims: true,
    commitConcurrency: 4,
    commitStatement: commitStatement(pool, schema, clock === 'database'),
    createRunStatement: createRunStatement(pool, schema, clock === 'database', channel),
    ...(clock === 'database' ? { databaseNow: (): RawBuilder<number> => now } : {}),
    async notify(trx: Transaction<CairnDatabase>): Promise<void> {
      await sql`select pg_notify(${channel}, '')`.execute(trx);
    },
    ...(options.listen === false
      ? {}
      : {
          listen: async (onWake: () => void) => {
            let closed = false;
            let client: pg.Client | undefined;
            let connecting: pg.Client | undefined;
            const connect = async (): Promise<void> => {
              while (!closed) {
                const next = new pg.Client(options.pool ? (pool as unknown as { options: pg.ClientConfig }).options : { connectionString: options.connectionString, connectionTimeoutMillis: connectTimeoutMs });
                next.on('error', () => undefined);
                connecting = next;
                try {
                  await next.connect();
                  await next.query(`LISTEN ${channel}`);
                } catch {
                  connecting = undefined;
                  await next.end().catch(() => undefined);
                  await new Promise((r) => setTimeout(r, 500));
                  continue;
                }
                connecting = undefined;
                if (closed) {
                  // close() came while we were connecting: do not keep this connection.
                  await next.end().catch(() => undefined);
                  return;
                }
                client = next;
                listeners.add(next);
                next.on('notification', () => onWake());
                next.on('end', () => {
                  listeners.delete(next);
                  if (!closed) void connect();
                });
                // Anything sent while we were not listening: look now.
                onWake();
                return;
              }
            };
            // Connect in the background: polling works meanwhile, and an unreachable database
            // must not hold up work() or close().
            void connect();
            return {
              close: async () => {
                closed = true;
                // A connection attempt still under way (a server that does not answer) ends now.
                await connecting?.end().catch(() => undefined);
                if (client) {
                  listeners.delete(client);
                  await client.end().catch(() => undefined);
                }
              },
            };
          },
        }),
    async close(): Promise<void> {
      // Kysely ends Cairn's own pool only if Kysely itself ever connected; queries made directly on
      // the pool (the commit and start statements) leave it to us.
      if (ownPool && !ownPool.ending) await ownPool.end();
      pool.off('error', ignore);
      pool.off('connect', onConnect);
      for (const client of listeners) await client.end().catch(() => undefined);
    },
  };
  return { dialect, schema };
}
