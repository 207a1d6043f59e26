/**
 * errors — every error Cairn throws. One base class (`CairnError`) with a stable `code` and a
 * `cause`; each subclass names one situation. `errorFromRecord` rebuilds a typed error from what
 * the storage kept, so a failed run fails the same way in every process that reads it.
 */
import type { StoredError } from '../serialization/thrown';

export type CairnErrorCode =
  | 'INVALID_ARGUMENT'
  | 'WORKFLOW_DEFINITION_INVALID'
  | 'WORKFLOW_NOT_REGISTERED'
  | 'WORKFLOW_DEFINITION_CHANGED'
  | 'TRACKING_ID_CONFLICT'
  | 'RUN_NOT_FOUND'
  | 'STEP_FAILED'
  | 'NON_RETRYABLE'
  | 'STEP_TIMEOUT'
  | 'LEASE_LOST'
  | 'SERIALIZATION_FAILED'
  | 'PAYLOAD_TOO_LARGE'
  | 'RUN_CANCELLED'
  | 'STORAGE_BUSY'
  | 'STORAGE_UNAVAILABLE'
  | 'STORAGE_FAILED'
  | 'SCHEMA_MISMATCH'
  | 'RUNNER_CLOSED';

export interface CairnErrorOptions {
  cause?: unknown;
}

/** Base class of every error Cairn throws. `code` is stable and safe to switch on. */
export abstract class CairnError extends Error {
  abstract readonly code: CairnErrorCode;

  constructor(message: string, options?: CairnErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** A public call received an argument it cannot accept. Nothing was written. */
export class InvalidArgumentError extends CairnError {
  readonly code = 'INVALID_ARGUMENT';
}

/** A workflow class is malformed. `problems` lists every problem found, not only the first. */
export class WorkflowDefinitionError extends CairnError {
  readonly code = 'WORKFLOW_DEFINITION_INVALID';
  readonly problems: readonly string[];

  constructor(workflow: string, problems: readonly string[]) {
    super(
      `Workflow ${workflow} is not a valid definition (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
    this.problems = Object.freeze([...problems]);
  }
}

/** A run names a workflow this runner has no class for. */
export class WorkflowNotRegisteredError extends CairnError {
  readonly code = 'WORKFLOW_NOT_REGISTERED';
}

/** A stored run's graph no longer matches any registered class of its name and version. */
export class WorkflowDefinitionChangedError extends CairnError {
  readonly code = 'WORKFLOW_DEFINITION_CHANGED';
}

/** `start` was called with a tracking id that already names a run with a different input. */
export class TrackingIdConflictError extends CairnError {
  readonly code = 'TRACKING_ID_CONFLICT';
}

/** No run exists for the given workflow and tracking id (or run id). */
export class RunNotFoundError extends CairnError {
  readonly code = 'RUN_NOT_FOUND';
}

/** A step failed for good: its retries are spent, or its error was not retryable. */
export class StepFailedError extends CairnError {
  readonly code = 'STEP_FAILED';
  constructor(
    readonly step: string,
    readonly attempts: number,
    message: string,
    options?: CairnErrorOptions,
  ) {
    super(message, options);
  }
}

/** Throw this from a step to fail it at once, without spending its retries. */
export class NonRetryableError extends CairnError {
  readonly code = 'NON_RETRYABLE';
}

/** A step attempt outlived its `timeout`; `ctx.signal` was aborted with this error. */
export class StepTimeoutError extends CairnError {
  readonly code = 'STEP_TIMEOUT';
}

/** This worker no longer holds the run's lease: another worker owns it now. Nothing was written. */
export class LeaseLostError extends CairnError {
  readonly code = 'LEASE_LOST';
}

/** A value cannot be stored faithfully. `path` points inside the value (`.items[2].at`). */
export class SerializationError extends CairnError {
  readonly code: 'SERIALIZATION_FAILED' | 'PAYLOAD_TOO_LARGE' = 'SERIALIZATION_FAILED';
  constructor(
    message: string,
    readonly path: string,
    options?: CairnErrorOptions,
  ) {
    super(message, options);
  }
}

/** A serialized value is larger than the configured `maxPayloadBytes`. Nothing was written. */
export class PayloadTooLargeError extends SerializationError {
  override readonly code = 'PAYLOAD_TOO_LARGE';
  constructor(
    message: string,
    readonly bytes: number,
    readonly limit: number,
    options?: CairnErrorOptions,
  ) {
    super(message, '', options);
  }
}

/** The run was cancelled, or the runner shut down while the step was in flight. */
export class RunCancelledError extends CairnError {
  readonly code = 'RUN_CANCELLED';
}

/** The database stayed locked longer than the configured busy timeout. Safe to retry. */
export class StorageBusyError extends CairnError {
  readonly code = 'STORAGE_BUSY';
}

/** The database could not be reached or dropped the connection. Safe to retry. */
export class StorageUnavailableError extends CairnError {
  readonly code = 'STORAGE_UNAVAILABLE';
}

/**
 * The database refused an operation for a reason that retrying will not fix: the file is
 * read-only or not a database, the database does not exist, authentication failed, the disk is
 * full. `cause` is the driver's error. Nothing was written by the call that failed.
 */
export class StorageFailedError extends CairnError {
  readonly code = 'STORAGE_FAILED';
}

/**
 * Cairn's tables in this database do not match this version of Cairn: they are missing (call
 * `runner.migrate()` first) or were migrated by a newer version. Nothing was changed.
 */
export class SchemaMismatchError extends CairnError {
  readonly code = 'SCHEMA_MISMATCH';
}

/** The runner was closed; it accepts no more work. */
export class RunnerClosedError extends CairnError {
  readonly code = 'RUNNER_CLOSED';
}

/** True for errors a caller may retry as they are (lock contention, lost connection). */
export function isTransientStorageError(error: unknown): boolean {
  return error instanceof StorageBusyError || error instanceof StorageUnavailableError;
}

type SimpleError = new (message: string, options?: CairnErrorOptions) => CairnError;

const SIMPLE: Partial<Record<string, SimpleError>> = {
  INVALID_ARGUMENT: InvalidArgumentError,
  WORKFLOW_NOT_REGISTERED: WorkflowNotRegisteredError,
  WORKFLOW_DEFINITION_CHANGED: WorkflowDefinitionChangedError,
  TRACKING_ID_CONFLICT: TrackingIdConflictError,
  RUN_NOT_FOUND: RunNotFoundError,
  NON_RETRYABLE: NonRetryableError,
  STEP_TIMEOUT: StepTimeoutError,
  LEASE_LOST: LeaseLostError,
  RUN_CANCELLED: RunCancelledError,
  STORAGE_BUSY: StorageBusyError,
  STORAGE_UNAVAILABLE: StorageUnavailableError,
  STORAGE_FAILED: StorageFailedError,
  SCHEMA_MISMATCH: SchemaMismatchError,
  RUNNER_CLOSED: RunnerClosedError,
};

/**
 * Rebuilds the error a run or step failed with from its stored record, typed where the code is
 * known (every CairnError code), so `handle.result()` rejects with the same class, fields and
 * cause chain in every process. Unknown codes (ECONNRESET…) stay on a plain Error.
 */
export function errorFromRecord(record: StoredError): Error {
  const cause = record.cause ? errorFromRecord(record.cause) : undefined;
  const options = cause ? { cause } : undefined;
  const Simple = record.code !== undefined ? SIMPLE[record.code] : undefined;
  let error: Error;
  if (Simple) error = new Simple(record.message, options);
  else if (record.code === 'STEP_FAILED') error = new StepFailedError(record.step ?? '', record.attempts ?? 0, record.message, options);
  else if (record.code === 'SERIALIZATION_FAILED') error = new SerializationError(record.message, record.path ?? '', options);
  else if (record.code === 'PAYLOAD_TOO_LARGE') error = new PayloadTooLargeError(record.message, record.bytes ?? 0, record.limit ?? 0, options);
  else if (record.code === 'WORKFLOW_DEFINITION_INVALID') {
    error = new WorkflowDefinitionError('', record.problems ?? [record.message]);
    error.message = record.message;
  } else {
    error = new Error(record.message, options);
    error.name = record.name;
    if (record.code !== undefined) Object.assign(error, { code: record.code });
  }
  if (record.stack) error.stack = record.stack;
  return error;
}
