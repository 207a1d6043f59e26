/**
 * schema — the Kysely table types of Cairn's three tables (snake_case, as stored), and the
 * mapping from rows to records.
 */
import type { EventRecord, EventType, RunRecord, RunStatus, StepRecord, StepStatus } from './records';

export interface RunsTable {
  id: string;
  workflow_name: string;
  workflow_version: number;
  graph_hash: string;
  tracking_id: string;
  status: RunStatus;
  input: string;
  output: string | null;
  error: string | null;
  parent_run_id: string | null;
  parent_node: string | null;
  lease_owner: string | null;
  lease_epoch: number;
  lease_expires_at: number | null;
  wake_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface StepsTable {
  run_id: string;
  name: string;
  status: StepStatus;
  attempts: number;
  output: string | null;
  error: string | null;
  child_run_id: string | null;
  wake_at: number | null;
  started_at: number | null;
  finished_at: number | null;
}

export interface EventsTable {
  run_id: string;
  seq: number;
  type: EventType;
  node: string | null;
  attempt: number | null;
  detail: string | null;
  at: number;
}

export interface CairnDatabase {
  cairn_runs: RunsTable;
  cairn_steps: StepsTable;
  cairn_events: EventsTable;
}

/** Drivers may return 64-bit integers as strings or bigints; records use numbers. */
function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

function optNum(value: unknown): number | null {
  return value === null || value === undefined ? null : num(value);
}

export function toRunRecord(row: RunsTable): RunRecord {
  return {
    id: row.id,
    workflowName: row.workflow_name,
    workflowVersion: num(row.workflow_version),
    graphHash: row.graph_hash,
    trackingId: row.tracking_id,
    status: row.status,
    input: row.input,
    output: row.output,
    error: row.error,
    parentRunId: row.parent_run_id,
    parentNode: row.parent_node,
    leaseOwner: row.lease_owner,
    leaseEpoch: num(row.lease_epoch),
    leaseExpiresAt: optNum(row.lease_expires_at),
    wakeAt: optNum(row.wake_at),
    createdAt: num(row.created_at),
    updatedAt: num(row.updated_at),
  };
}

export function toStepRecord(row: StepsTable): StepRecord {
  return {
    runId: row.run_id,
    name: row.name,
    status: row.status,
    attempts: num(row.attempts),
    output: row.output,
    error: row.error,
    childRunId: row.child_run_id,
    wakeAt: optNum(row.wake_at),
    startedAt: optNum(row.started_at),
    finishedAt: optNum(row.finished_at),
  };
}

export function toEventRecord(row: EventsTable): EventRecord {
  return {
    runId: row.run_id,
    seq: num(row.seq),
    type: row.type,
    node: row.node,
    attempt: optNum(row.attempt),
    detail: row.detail,
    at: num(row.at),
  };
}
