/**
 * Set-based fill of Cairn's real tables with finished runs, for the claim part: N copies of a
 * template run that Cairn itself executed (its run row, its step rows and its event rows), each
 * with a fresh id and tracking id and times shifted into the past, written by a few
 * INSERT … SELECT statements over a number series (generate_series on PostgreSQL, a recursive
 * CTE on SQLite), then optionally VACUUM ANALYZE / ANALYZE. Columns are read from the database, so columns
 * added by later migrations are copied from the template as they are.
 */
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import pg from 'pg';

/** A raw connection to the database holding Cairn's tables, in the few ways the fill needs. */
export interface SqlTarget {
  readonly dialect: 'postgres' | 'sqlite';
  /** Qualified table name. */
  table(name: string): string;
  columns(table: string): Promise<string[]>;
  exec(sql: string): Promise<void>;
  rows<T>(sql: string): Promise<T[]>;
  close(): Promise<void>;
}

const quote = (identifier: string): string => `"${identifier.replace(/"/g, '""')}"`;
const literal = (value: string): string => `'${value.replace(/'/g, "''")}'`;

export function postgresTarget(url: string, schema: string): SqlTarget {
  const client = new pg.Client({ connectionString: url });
  const connected = client.connect();
  return {
    dialect: 'postgres',
    table: (name) => `${quote(schema)}.${quote(name)}`,
    async columns(table) {
      await connected;
      const { rows } = await client.query<{ column_name: string }>('select column_name from information_schema.columns where table_schema = $1 and table_name = $2 order by ordinal_position', [schema, table]);
      return rows.map((r) => r.column_name);
    },
    async exec(sql) {
      await connected;
      await client.query(sql);
    },
    async rows<T>(sql: string) {
      await connected;
      return (await client.query(sql)).rows as T[];
    },
    async close() {
      await client.end();
    },
  };
}

export function sqliteTarget(filename: string): SqlTarget {
  const db = new Database(filename);
  db.pragma('busy_timeout = 5000');
  return {
    dialect: 'sqlite',
    table: (name) => quote(name),
    async columns(table) {
      return (db.pragma(`table_info(${quote(table)})`) as { name: string }[]).map((c) => c.name);
    },
    async exec(sql) {
      db.exec(sql);
    },
    async rows<T>(sql: string) {
      return db.prepare(sql).all() as T[];
    },
    async close() {
      db.close();
    },
  };
}

/** A random version-4 UUID per row, as text (what `randomUUID()` gives the runner). */
function uuidExpression(dialect: SqlTarget['dialect']): string {
  if (dialect === 'postgres') return 'gen_random_uuid()::text';
  return "printf('%08x-%04x-4%03x-%04x-%012x', random() & 4294967295, random() & 65535, random() & 4095, (random() & 16383) | 32768, random() & 281474976710655)";
}

/** `with recursive g(n)`: the numbers 1..count. */
function series(dialect: SqlTarget['dialect'], count: number): string {
  return dialect === 'postgres' ? `g(n) as (select generate_series(1, ${count}))` : `g(n) as (select 1 union all select n + 1 from g where n < ${count})`;
}

/** Time columns (epoch ms) shifted with the copy, per table. */
const TIME_COLUMNS: Record<string, readonly string[]> = {
  cairn_runs: ['created_at', 'updated_at', 'lease_expires_at', 'wake_at'],
  cairn_steps: ['started_at', 'finished_at', 'wake_at'],
  cairn_events: ['at'],
};

export interface FillResult {
  runs: number;
  /** Rows in each table after the fill. */
  rows: { runs: number; steps: number; events: number };
  /** Rows each finished run has: 1 run row, its step rows and its event rows (from the template). */
  perRun: { steps: number; events: number };
  fillMs: number;
  /** Whether the fill ended with analyzeTables(). */
  analyzed: boolean;
  analyzeMs: number;
}

/**
 * Writes `count` finished copies of the run `templateRunId` (tracking ids `fill-1` … `fill-N`,
 * oldest first, 1 s apart, the newest 1 s before the template), then (with `analyze`) refreshes
 * the planner statistics.
 */
export async function fillFinishedRuns(target: SqlTarget, templateRunId: string, count: number, options: { analyze: boolean }, log: (line: string) => void): Promise<FillResult> {
  const runs = target.table('cairn_runs');
  const steps = target.table('cairn_steps');
  const events = target.table('cairn_events');
  const [template] = await target.rows<{ created_at: string | number; workflow_name: string }>(`select created_at, workflow_name from ${runs} where id = ${literal(templateRunId)}`);
  if (!template) throw new Error(`fill: template run ${templateRunId} not found`);
  const templateCreated = Number(template.created_at);
  const [perRunSteps] = await target.rows<{ n: string | number }>(`select count(*) as n from ${steps} where run_id = ${literal(templateRunId)}`);
  const [perRunEvents] = await target.rows<{ n: string | number }>(`select count(*) as n from ${events} where run_id = ${literal(templateRunId)}`);

  const t0 = performance.now();
  // Runs: the template's row with a new id, tracking id and times.
  const runColumns = await target.columns('cairn_runs');
  const runValues = runColumns.map((c) => {
    if (c === 'id') return uuidExpression(target.dialect);
    if (c === 'tracking_id') return `'fill-' || g.n`;
    if (TIME_COLUMNS.cairn_runs!.includes(c)) return `t.${quote(c)} - cast(${count + 1} - g.n as bigint) * 1000`;
    return `t.${quote(c)}`;
  });
  log(`fill: ${count} runs`);
  // Oldest first, as a real history was written: rows in time order, random ids.
  await target.exec(`with recursive ${series(target.dialect, count)} insert into ${runs} (${runColumns.map(quote).join(', ')}) select ${runValues.join(', ')} from ${runs} t cross join g where t.id = ${literal(templateRunId)}`);

  // Steps and events: the template run's rows, once per filled run, shifted by that run's offset.
  const filled = `r.workflow_name = ${literal(template.workflow_name)} and r.tracking_id like 'fill-%'`;
  for (const [name, table] of [
    ['cairn_steps', steps],
    ['cairn_events', events],
  ] as const) {
    const columns = await target.columns(name);
    const values = columns.map((c) => {
      if (c === 'run_id') return 'r.id';
      if (TIME_COLUMNS[name]!.includes(c)) return `t.${quote(c)} + (r.created_at - ${templateCreated})`;
      return `t.${quote(c)}`;
    });
    log(`fill: ${name}`);
    // In the runs' time order, as they were written (a run's rows follow its own run row).
    await target.exec(`insert into ${table} (${columns.map(quote).join(', ')}) select ${values.join(', ')} from ${runs} r cross join ${table} t where t.run_id = ${literal(templateRunId)} and ${filled} order by r.created_at`);
  }
  const fillMs = performance.now() - t0;

  if (target.dialect === 'sqlite') await target.exec('pragma wal_checkpoint(truncate)');
  const analyzeMs = options.analyze ? await analyzeTables(target, log) : 0;
  const count1 = async (table: string): Promise<number> => Number((await target.rows<{ n: string | number }>(`select count(*) as n from ${table}`))[0]!.n);
  return {
    runs: count,
    rows: { runs: await count1(runs), steps: await count1(steps), events: await count1(events) },
    perRun: { steps: Number(perRunSteps!.n), events: Number(perRunEvents!.n) },
    fillMs,
    analyzed: options.analyze,
    analyzeMs,
  };
}

/**
 * Refreshes the planner's statistics: VACUUM ANALYZE (then CHECKPOINT) on PostgreSQL (what
 * autovacuum would soon do after a bulk load), ANALYZE on SQLite (which Cairn never runs itself).
 * Returns the time taken.
 */
export async function analyzeTables(target: SqlTarget, log: (line: string) => void): Promise<number> {
  log(target.dialect === 'postgres' ? 'vacuum analyze' : 'analyze');
  const t0 = performance.now();
  if (target.dialect === 'postgres') {
    for (const name of ['cairn_runs', 'cairn_steps', 'cairn_events']) await target.exec(`vacuum analyze ${target.table(name)}`);
    // Write the fill's dirty pages out now rather than during the measurement (superuser only).
    await target.exec('checkpoint').catch(() => undefined);
  } else {
    await target.exec('analyze');
  }
  return performance.now() - t0;
}
