/**
 * records — the rows Cairn keeps, in the shape the runner sees them (camelCase, numbers for
 * times in epoch milliseconds), and the writes the runner asks the storage to make.
 */

/**
 * pending: created, not yet claimed. running: a worker holds the lease. waiting: parked (a long
 * backoff until `wakeAt`, or a subflow child still running). completed / failed: final.
 */
export type RunStatus = 'pending' | 'running' | 'waiting' | 'completed' | 'failed';

/**
 * running: attempt `attempts` started and has not finished. retrying: attempt `attempts` failed,
 * the next is due. waiting: a subflow node waiting for its child. completed / skipped / failed: final.
 */
export type StepStatus = 'running' | 'retrying' | 'waiting' | 'completed' | 'skipped' | 'failed';

export interface RunRecord {
  id: string;
  workflowName: string;
  workflowVersion: number;
  graphHash: string;
  trackingId: string;
  status: RunStatus;
  /** Serialized input. */
  input: string;
  /** Serialized result, once completed. */
  output: string | null;
  /** JSON `StoredError`, once failed (or parked on an error). */
  error: string | null;
  parentRunId: string | null;
  parentNode: string | null;
  leaseOwner: string | null;
  /** Incremented on every claim: the fencing token together with `leaseOwner`. */
  leaseEpoch: number;
  leaseExpiresAt: number | null;
  wakeAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface StepRecord {
  runId: string;
  name: string;
  status: StepStatus;
  attempts: number;
  output: string | null;
  /** JSON `StoredError` of the last failed attempt, or the skip reason for a skipped node. */
  error: string | null;
  childRunId: string | null;
  /** For a retrying step: when its next attempt is due. */
  wakeAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
}

export type EventType =
  | 'run_started'
  | 'run_resumed'
  | 'run_parked'
  | 'run_completed'
  | 'run_failed'
  | 'step_started'
  | 'step_completed'
  | 'step_skipped'
  | 'step_retrying'
  | 'step_failed'
  | 'subflow_started';

export interface EventRecord {
  runId: string;
  seq: number;
  type: EventType;
  node: string | null;
  attempt: number | null;
  /** JSON detail (error, skip reason, delay…). */
  detail: string | null;
  at: number;
}

/** The fencing token of one claim. Every commit is conditional on it. */
export interface Lease {
  readonly owner: string;
  readonly epoch: number;
}

export type StepWrite = Omit<StepRecord, 'runId'>;
export type EventWrite = Omit<EventRecord, 'runId' | 'at'>;

export interface NewRun {
  id: string;
  workflowName: string;
  workflowVersion: number;
  graphHash: string;
  trackingId: string;
  input: string;
  parentRunId: string | null;
  parentNode: string | null;
}

export interface CreateRunRequest {
  run: NewRun;
  /**
   * The new run is inserted already leased to this owner (start = insert + claim, one commit), or
   * unclaimed (`pending`, for any worker to pick up) when null.
   */
  owner: string | null;
  leaseMs: number;
  /** Rows of the first stage (started or skipped), written in the same commit. */
  steps: StepWrite[];
  events: EventWrite[];
}

/** A claimed run: its rows and the lease the claimer must present on every commit. */
export interface Claim {
  run: RunRecord;
  steps: StepRecord[];
  lease: Lease;
  nextSeq: number;
}

export type CreateRunResult = { created: true; claim: Claim } | { created: false; run: RunRecord };

export interface RunUpdate {
  status?: RunStatus;
  output?: string | null;
  error?: string | null;
  wakeAt?: number | null;
  /** Give the lease up (parking or finishing): another worker may claim the run at once. */
  release?: boolean;
}

export interface CommitRequest {
  runId: string;
  lease: Lease;
  run?: RunUpdate;
  steps?: StepWrite[];
  events?: EventWrite[];
  /** A parent run waiting on this run: made due now, in the same commit. */
  wakeParent?: string;
  /** Child runs this run parks to wait for: if one has already finished, the run is made due now. */
  wakeIfFinished?: string[];
}

export interface ClaimOptions {
  /** Also claim a failed run (an explicit resume). Failed steps get a fresh retry budget. */
  includeFailed?: boolean;
  /** Claim a waiting run even before its `wakeAt` (its child finished, or an explicit resume). */
  ignoreWakeAt?: boolean;
}
