/**
 * storage — the interface between the runner and a database. One implementation exists
 * (`KyselyStorage`); dialect packages configure it. Every method that changes a run takes `now`
 * from the runner's clock, and every write a worker makes while executing is fenced on its lease.
 */
import type { Claim, ClaimOptions, CommitRequest, CreateRunRequest, CreateRunResult, EventRecord, Lease, RunRecord, StepRecord } from './records';

export interface Storage {
  /** Creates or upgrades the schema. Safe to call from many processes at once. */
  migrate(): Promise<void>;
  /**
   * Idempotent start: inserts the run (already claimed by `owner`) with its first rows, or returns
   * the existing run with the same workflow name and tracking id. One commit.
   */
  createRun(request: CreateRunRequest, now: number): Promise<CreateRunResult>;
  findRun(workflowName: string, trackingId: string): Promise<RunRecord | undefined>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  listSteps(runId: string): Promise<StepRecord[]>;
  listEvents(runId: string): Promise<EventRecord[]>;
  /** Takes the lease of one run if nobody holds a live one. One commit. */
  claimRun(runId: string, owner: string, leaseMs: number, now: number, options?: ClaimOptions): Promise<Claim | undefined>;
  /** Claims up to `limit` runs that are pending, due, or whose lease expired. */
  claimDue(workflowNames: readonly string[], owner: string, leaseMs: number, limit: number, now: number, exclude?: readonly string[]): Promise<Claim[]>;
  /** Applies one fenced change in one transaction. Throws `LeaseLostError` (and writes nothing) if the lease is gone. */
  commit(request: CommitRequest, now: number): Promise<void>;
  /** Extends a live lease; false if it was lost. */
  renewLease(runId: string, lease: Lease, leaseMs: number, now: number): Promise<boolean>;
  /** Optional: subscribes to "a run became claimable" wake-ups so workers need not wait for a poll. */
  listen?(onWake: () => void): Promise<{ close(): Promise<void> }> | undefined;
  close(): Promise<void>;
}
