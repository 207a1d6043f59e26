/**
 * audit — a database-side witness of every write to Cairn's tables, kept in a table of its own
 * (`torture_audit`) by AFTER row triggers. Each audit row says who wrote (the writing connection's
 * identity: PostgreSQL's application_name, or on SQLite a per-connection function each process
 * registers), when, to which run, and which lease the run carried at that moment. The verifier
 * uses it to prove fencing over all writes: every step and event row was written by the process
 * holding the run's current lease epoch, and nobody wrote under a lease it had lost.
 *
 * Cairn's own tables and code are untouched; the triggers only append to the audit table.
 */
import Database from 'better-sqlite3';

/**
 * One audited row write. For `runs`: old/new status, owner and epoch, and the changed columns.
 * For `steps`/`events`: `name` is the step (or event node), `newStatus` the step status (or event
 * type), and `newOwner`/`newEpoch` the lease the run carried when the row was written.
 */
export interface AuditRow {
  id: number;
  at: number;
  writer: string;
  tbl: 'runs' | 'steps' | 'events';
  op: 'I' | 'U';
  runId: string;
  name: string | null;
  oldStatus: string | null;
  newStatus: string | null;
  oldOwner: string | null;
  newOwner: string | null;
  oldEpoch: number | null;
  newEpoch: number | null;
  changed: string | null;
}

export const AUDIT_SELECT = `select id, at_ms as at, writer, tbl, op, run_id, name, old_status, new_status, old_owner, new_owner, old_epoch, new_epoch, changed from torture_audit order by id`;

export interface RawAuditRow {
  id: number | string;
  at: number | string;
  writer: string;
  tbl: string;
  op: string;
  run_id: string;
  name: string | null;
  old_status: string | null;
  new_status: string | null;
  old_owner: string | null;
  new_owner: string | null;
  old_epoch: number | string | null;
  new_epoch: number | string | null;
  changed: string | null;
}

const optNumber = (value: number | string | null): number | null => (value === null ? null : Number(value));

export function toAuditRow(raw: RawAuditRow): AuditRow {
  if (raw.tbl !== 'runs' && raw.tbl !== 'steps' && raw.tbl !== 'events') throw new Error(`audit row ${raw.id}: unknown table ${raw.tbl}`);
  if (raw.op !== 'I' && raw.op !== 'U') throw new Error(`audit row ${raw.id}: unknown op ${raw.op}`);
  return {
    id: Number(raw.id),
    at: Number(raw.at),
    writer: raw.writer,
    tbl: raw.tbl,
    op: raw.op,
    runId: raw.run_id,
    name: raw.name,
    oldStatus: raw.old_status,
    newStatus: raw.new_status,
    oldOwner: raw.old_owner,
    newOwner: raw.new_owner,
    oldEpoch: optNumber(raw.old_epoch),
    newEpoch: optNumber(raw.new_epoch),
    changed: raw.changed,
  };
}

const RUN_COLUMNS = ['status', 'output', 'error', 'lease_owner', 'lease_epoch', 'lease_expires_at', 'wake_at'] as const;

export const POSTGRES_AUDIT_DDL: readonly string[] = [
  `create table torture_audit (
     id bigserial primary key, at_ms double precision not null, writer text not null, tbl text not null, op text not null,
     run_id text not null, name text, old_status text, new_status text, old_owner text, new_owner text,
     old_epoch bigint, new_epoch bigint, changed text)`,
  `create function torture_audit_runs() returns trigger language plpgsql as $$
   begin
     if TG_OP = 'INSERT' then
       insert into torture_audit (at_ms, writer, tbl, op, run_id, name, new_status, new_owner, new_epoch)
       values (extract(epoch from clock_timestamp()) * 1000, current_setting('application_name'), 'runs', 'I', NEW.id, NEW.workflow_name, NEW.status, NEW.lease_owner, NEW.lease_epoch);
     else
       insert into torture_audit (at_ms, writer, tbl, op, run_id, old_status, new_status, old_owner, new_owner, old_epoch, new_epoch, changed)
       values (extract(epoch from clock_timestamp()) * 1000, current_setting('application_name'), 'runs', 'U', NEW.id, OLD.status, NEW.status,
               OLD.lease_owner, NEW.lease_owner, OLD.lease_epoch, NEW.lease_epoch,
               concat_ws(',', ${RUN_COLUMNS.map((c) => `case when OLD.${c} is distinct from NEW.${c} then '${c}' end`).join(', ')}));
     end if;
     return null;
   end $$`,
  `create function torture_audit_steps() returns trigger language plpgsql as $$
   declare r record;
   begin
     select lease_owner, lease_epoch into r from cairn_runs where id = NEW.run_id;
     insert into torture_audit (at_ms, writer, tbl, op, run_id, name, old_status, new_status, new_owner, new_epoch)
     values (extract(epoch from clock_timestamp()) * 1000, current_setting('application_name'), 'steps', left(TG_OP, 1), NEW.run_id, NEW.name,
             case when TG_OP = 'UPDATE' then OLD.status end, NEW.status, r.lease_owner, r.lease_epoch);
     return null;
   end $$`,
  `create function torture_audit_events() returns trigger language plpgsql as $$
   declare r record;
   begin
     select lease_owner, lease_epoch into r from cairn_runs where id = NEW.run_id;
     insert into torture_audit (at_ms, writer, tbl, op, run_id, name, new_status, new_owner, new_epoch)
     values (extract(epoch from clock_timestamp()) * 1000, current_setting('application_name'), 'events', left(TG_OP, 1), NEW.run_id, NEW.node, NEW.type, r.lease_owner, r.lease_epoch);
     return null;
   end $$`,
  `create trigger torture_audit_runs after insert or update on cairn_runs for each row execute function torture_audit_runs()`,
  `create trigger torture_audit_steps after insert or update on cairn_steps for each row execute function torture_audit_steps()`,
  `create trigger torture_audit_events after insert or update on cairn_events for each row execute function torture_audit_events()`,
];

const SQLITE_RUN_LEASE = (column: 'lease_owner' | 'lease_epoch'): string => `(select ${column} from cairn_runs where id = NEW.run_id)`;

export const SQLITE_AUDIT_DDL: readonly string[] = [
  `create table torture_audit (
     id integer primary key, at_ms real not null, writer text not null, tbl text not null, op text not null,
     run_id text not null, name text, old_status text, new_status text, old_owner text, new_owner text,
     old_epoch integer, new_epoch integer, changed text)`,
  `create trigger torture_audit_runs_i after insert on cairn_runs begin
     insert into torture_audit (at_ms, writer, tbl, op, run_id, name, new_status, new_owner, new_epoch)
     values (torture_now(), torture_writer(), 'runs', 'I', NEW.id, NEW.workflow_name, NEW.status, NEW.lease_owner, NEW.lease_epoch);
   end`,
  `create trigger torture_audit_runs_u after update on cairn_runs begin
     insert into torture_audit (at_ms, writer, tbl, op, run_id, old_status, new_status, old_owner, new_owner, old_epoch, new_epoch, changed)
     values (torture_now(), torture_writer(), 'runs', 'U', NEW.id, OLD.status, NEW.status, OLD.lease_owner, NEW.lease_owner, OLD.lease_epoch, NEW.lease_epoch,
             rtrim(${RUN_COLUMNS.map((c) => `(case when OLD.${c} is not NEW.${c} then '${c},' else '' end)`).join(' || ')}, ','));
   end`,
  ...(['insert', 'update'] as const).map(
    (op) => `create trigger torture_audit_steps_${op[0]} after ${op} on cairn_steps begin
     insert into torture_audit (at_ms, writer, tbl, op, run_id, name, old_status, new_status, new_owner, new_epoch)
     values (torture_now(), torture_writer(), 'steps', '${op === 'insert' ? 'I' : 'U'}', NEW.run_id, NEW.name, ${op === 'insert' ? 'null' : 'OLD.status'}, NEW.status,
             ${SQLITE_RUN_LEASE('lease_owner')}, ${SQLITE_RUN_LEASE('lease_epoch')});
   end`,
  ),
  ...(['insert', 'update'] as const).map(
    (op) => `create trigger torture_audit_events_${op[0]} after ${op} on cairn_events begin
     insert into torture_audit (at_ms, writer, tbl, op, run_id, name, new_status, new_owner, new_epoch)
     values (torture_now(), torture_writer(), 'events', '${op === 'insert' ? 'I' : 'U'}', NEW.run_id, NEW.node, NEW.type,
             ${SQLITE_RUN_LEASE('lease_owner')}, ${SQLITE_RUN_LEASE('lease_epoch')});
   end`,
  ),
];

/**
 * Opens the shared SQLite file for one process, registering the functions the audit triggers call:
 * `torture_writer()` (this connection's identity) and `torture_now()` (epoch ms, the ledger's clock).
 */
export function openSqlite(file: string, writer: string): Database.Database {
  const db = new Database(file);
  db.function('torture_writer', { deterministic: false }, () => writer);
  db.function('torture_now', { deterministic: false }, () => Date.now());
  return db;
}
