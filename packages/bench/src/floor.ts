/**
 * The raw floor: the minimum durable bookkeeping for workload W, written by hand with the same
 * driver Cairn uses. Per run: one transaction inserting the run row; then per step one transaction
 * inserting the step row and updating the run row (the last one also completes the run).
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { STEPS, stepOutput } from './workload';

export interface Floor {
  run(trackingId: string, input: unknown): Promise<void>;
  close(): Promise<void>;
}

/** The step itself: a no-op that yields to the event loop, as an async Cairn step does. */
const noop = async (step: number): Promise<{ step: number; ok: boolean }> => stepOutput(step);

/** better-sqlite3 on its own file: WAL, the given synchronous, BEGIN IMMEDIATE, prepared statements. */
export function sqliteFloor(filename: string, synchronous: 'NORMAL' | 'FULL'): Floor {
  const db = new Database(filename);
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.exec(`create table if not exists floor_runs (id text primary key, workflow_name text not null, tracking_id text not null, status text not null,
             cursor integer not null, input text not null, output text, updated_at integer not null, unique (workflow_name, tracking_id));
           create table if not exists floor_steps (run_id text not null, name text not null, output text, finished_at integer not null, primary key (run_id, name));`);
  const insertRun = db.prepare('insert into floor_runs (id, workflow_name, tracking_id, status, cursor, input, updated_at) values (?, ?, ?, ?, 0, ?, ?)');
  const insertStep = db.prepare('insert into floor_steps (run_id, name, output, finished_at) values (?, ?, ?, ?)');
  const updateRun = db.prepare('update floor_runs set cursor = ?, status = ?, output = ?, updated_at = ? where id = ?');
  const start = db.transaction((id: string, trackingId: string, input: string) => void insertRun.run(id, 'bench-w', trackingId, 'running', input, Date.now()));
  const step = db.transaction((id: string, index: number, output: string) => {
    const now = Date.now();
    insertStep.run(id, STEPS[index], output, now);
    const last = index === STEPS.length - 1;
    updateRun.run(index + 1, last ? 'completed' : 'running', last ? output : null, now, id);
  });
  return {
    async run(trackingId, input) {
      const id = randomUUID();
      start.immediate(id, trackingId, JSON.stringify(input));
      for (let i = 0; i < STEPS.length; i++) step.immediate(id, i, JSON.stringify(await noop(i + 1)));
    },
    async close() {
      db.close();
    },
  };
}

/** A pg Pool (size 10, like Cairn's default) on its own schema. */
export async function postgresFloor(connectionString: string, schema: string, poolSize = 10): Promise<Floor> {
  const pool = new pg.Pool({ connectionString, max: poolSize });
  await pool.query(`create schema if not exists ${schema};
    create table if not exists ${schema}.floor_runs (id varchar(64) primary key, workflow_name varchar(200) not null, tracking_id varchar(512) not null,
      status varchar(16) not null, cursor integer not null, input text not null, output text, updated_at bigint not null, unique (workflow_name, tracking_id));
    create table if not exists ${schema}.floor_steps (run_id varchar(64) not null, name varchar(200) not null, output text, finished_at bigint not null, primary key (run_id, name));`);
  const insertRun = `insert into ${schema}.floor_runs (id, workflow_name, tracking_id, status, cursor, input, updated_at) values ($1, $2, $3, 'running', 0, $4, $5)`;
  const insertStep = `insert into ${schema}.floor_steps (run_id, name, output, finished_at) values ($1, $2, $3, $4)`;
  const updateRun = `update ${schema}.floor_runs set cursor = $1, status = $2, output = $3, updated_at = $4 where id = $5`;
  return {
    async run(trackingId, input) {
      const id = randomUUID();
      // A single statement is its own transaction (autocommit): one round trip, one commit.
      await pool.query(insertRun, [id, 'bench-w', trackingId, JSON.stringify(input), Date.now()]);
      for (let i = 0; i < STEPS.length; i++) {
        const output = JSON.stringify(await noop(i + 1));
        const client = await pool.connect();
        try {
          const now = Date.now();
          const last = i === STEPS.length - 1;
          await client.query('begin');
          await client.query(insertStep, [id, STEPS[i], output, now]);
          await client.query(updateRun, [i + 1, last ? 'completed' : 'running', last ? output : null, now, id]);
          await client.query('commit');
        } catch (error) {
          await client.query('rollback').catch(() => undefined);
          throw error;
        } finally {
          client.release();
        }
      }
    },
    async close() {
      await pool.end();
    },
  };
}
