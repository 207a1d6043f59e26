/**
 * Errors: every error Cairn throws is a CairnError (and an Error) with a stable `code`, its class
 * name as `name`, and its `cause`. `errorFromRecord` rebuilds typed errors from stored records so a
 * failed run fails the same way in every process.
 */
import * as core from '@cairn/core';
import {
  CairnError,
  errorFromRecord,
  InvalidArgumentError,
  isTransientStorageError,
  LeaseLostError,
  NonRetryableError,
  PayloadTooLargeError,
  RunCancelledError,
  RunnerClosedError,
  RunNotFoundError,
  SerializationError,
  StepFailedError,
  StepTimeoutError,
  StorageBusyError,
  StorageUnavailableError,
  StorageFailedError,
  SchemaMismatchError,
  TrackingIdConflictError,
  WorkflowDefinitionChangedError,
  WorkflowDefinitionError,
  WorkflowNotRegisteredError,
  type CairnErrorCode,
} from '../src/errors/errors';
import { decodeError, describeThrown, encodeError, type StoredError } from '../src/serialization/thrown';

type Factory = (message: string, cause?: unknown) => CairnError;

/** Every error class, how to build one, and its stable code. */
const ALL: [string, Factory, CairnErrorCode, new (...args: never[]) => CairnError][] = [
  ['InvalidArgumentError', (m, c) => new InvalidArgumentError(m, { cause: c }), 'INVALID_ARGUMENT', InvalidArgumentError],
  ['WorkflowDefinitionError', (m) => new WorkflowDefinitionError(m, ['p1']), 'WORKFLOW_DEFINITION_INVALID', WorkflowDefinitionError],
  ['WorkflowNotRegisteredError', (m, c) => new WorkflowNotRegisteredError(m, { cause: c }), 'WORKFLOW_NOT_REGISTERED', WorkflowNotRegisteredError],
  ['WorkflowDefinitionChangedError', (m, c) => new WorkflowDefinitionChangedError(m, { cause: c }), 'WORKFLOW_DEFINITION_CHANGED', WorkflowDefinitionChangedError],
  ['TrackingIdConflictError', (m, c) => new TrackingIdConflictError(m, { cause: c }), 'TRACKING_ID_CONFLICT', TrackingIdConflictError],
  ['RunNotFoundError', (m, c) => new RunNotFoundError(m, { cause: c }), 'RUN_NOT_FOUND', RunNotFoundError],
  ['StepFailedError', (m, c) => new StepFailedError('charge', 4, m, { cause: c }), 'STEP_FAILED', StepFailedError],
  ['NonRetryableError', (m, c) => new NonRetryableError(m, { cause: c }), 'NON_RETRYABLE', NonRetryableError],
  ['StepTimeoutError', (m, c) => new StepTimeoutError(m, { cause: c }), 'STEP_TIMEOUT', StepTimeoutError],
  ['LeaseLostError', (m, c) => new LeaseLostError(m, { cause: c }), 'LEASE_LOST', LeaseLostError],
  ['SerializationError', (m, c) => new SerializationError(m, '.a[0]', { cause: c }), 'SERIALIZATION_FAILED', SerializationError],
  ['PayloadTooLargeError', (m) => new PayloadTooLargeError(m, 2000, 1000), 'PAYLOAD_TOO_LARGE', PayloadTooLargeError],
  ['RunCancelledError', (m, c) => new RunCancelledError(m, { cause: c }), 'RUN_CANCELLED', RunCancelledError],
  ['StorageBusyError', (m, c) => new StorageBusyError(m, { cause: c }), 'STORAGE_BUSY', StorageBusyError],
  ['StorageUnavailableError', (m, c) => new StorageUnavailableError(m, { cause: c }), 'STORAGE_UNAVAILABLE', StorageUnavailableError],
  ['StorageFailedError', (m, c) => new StorageFailedError(m, { cause: c }), 'STORAGE_FAILED', StorageFailedError],
  ['SchemaMismatchError', (m, c) => new SchemaMismatchError(m, { cause: c }), 'SCHEMA_MISMATCH', SchemaMismatchError],
  ['RunnerClosedError', (m, c) => new RunnerClosedError(m, { cause: c }), 'RUNNER_CLOSED', RunnerClosedError],
];

const TAKES_CAUSE = ALL.filter(([name]) => name !== 'WorkflowDefinitionError' && name !== 'PayloadTooLargeError');

describe('error classes', () => {
  it.each(ALL)('%s extends CairnError and Error, with its code and name', (name, make, code, cls) => {
    const error = make('something happened');
    expect(error).toBeInstanceOf(cls);
    expect(error).toBeInstanceOf(CairnError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe(code);
    expect(error.name).toBe(name);
    expect(typeof error.stack).toBe('string');
    expect(String(error)).toContain(name);
    // Exported from the package entry point under the same name.
    expect((core as Record<string, unknown>)[name]).toBe(cls);
  });

  it.each(TAKES_CAUSE)('%s keeps its cause', (_name, make) => {
    const cause = new Error('root cause');
    expect(make('wrapped', cause).cause).toBe(cause);
    expect(make('wrapped', 'a string cause').cause).toBe('a string cause');
    // No cause given: no `cause` property at all.
    expect('cause' in make('plain')).toBe(false);
  });

  it('uses a distinct code for every class', () => {
    const codes = ALL.map(([, make]) => make('m').code);
    expect(new Set(codes).size).toBe(ALL.length);
  });

  it('keeps the message', () => {
    expect(new TrackingIdConflictError('order-1 exists with another input').message).toBe('order-1 exists with another input');
  });

  it('StepFailedError carries step and attempts', () => {
    const error = new StepFailedError('charge', 4, 'Step charge failed after 4 attempts');
    expect(error.step).toBe('charge');
    expect(error.attempts).toBe(4);
  });

  it('SerializationError carries the path; PayloadTooLargeError bytes and limit', () => {
    expect(new SerializationError('m', '.a.b[1]').path).toBe('.a.b[1]');
    const big = new PayloadTooLargeError('m', 2_000_000, 1_048_576);
    expect(big).toBeInstanceOf(SerializationError);
    expect(big.bytes).toBe(2_000_000);
    expect(big.limit).toBe(1_048_576);
    expect(big.path).toBe('');
  });

  it('WorkflowDefinitionError lists every problem in its message and in `problems`', () => {
    const error = new WorkflowDefinitionError('Order', ['first problem', 'second problem']);
    expect(error.problems).toEqual(['first problem', 'second problem']);
    expect(Object.isFrozen(error.problems)).toBe(true);
    expect(error.message).toMatch(/Order/);
    expect(error.message).toMatch(/2 problems/);
    expect(error.message).toContain('  - first problem');
    expect(error.message).toContain('  - second problem');
    expect(new WorkflowDefinitionError('X', ['only']).message).toMatch(/1 problem\)/);
  });

  it('a subclass of a user error keeps its own name', () => {
    class CardDeclined extends NonRetryableError {}
    const error = new CardDeclined('declined');
    expect(error.name).toBe('CardDeclined');
    expect(error.code).toBe('NON_RETRYABLE');
    expect(error).toBeInstanceOf(NonRetryableError);
  });
});

describe('errorFromRecord', () => {
  const rebuild = (error: unknown): Error => errorFromRecord(decodeError(encodeError(error)));

  it('rebuilds StepFailedError with step, attempts and the cause chain', () => {
    const original = new StepFailedError('charge', 4, 'Step charge failed', {
      cause: new NonRetryableError('card declined', { cause: new TypeError('bad card') }),
    });
    const rebuilt = rebuild(original);
    expect(rebuilt).toBeInstanceOf(StepFailedError);
    const failed = rebuilt as StepFailedError;
    expect(failed.code).toBe('STEP_FAILED');
    expect(failed.step).toBe('charge');
    expect(failed.attempts).toBe(4);
    expect(failed.message).toBe('Step charge failed');
    expect(failed.stack).toBe(original.stack);
    expect(failed.cause).toBeInstanceOf(NonRetryableError);
    const cause = failed.cause as NonRetryableError;
    expect(cause.message).toBe('card declined');
    expect(cause.code).toBe('NON_RETRYABLE');
    expect(cause.cause).toBeInstanceOf(Error);
    expect((cause.cause as Error).name).toBe('TypeError');
    expect((cause.cause as Error).message).toBe('bad card');
  });

  it.each([
    ['NON_RETRYABLE', NonRetryableError],
    ['STEP_TIMEOUT', StepTimeoutError],
    ['WORKFLOW_DEFINITION_CHANGED', WorkflowDefinitionChangedError],
    ['WORKFLOW_NOT_REGISTERED', WorkflowNotRegisteredError],
    ['TRACKING_ID_CONFLICT', TrackingIdConflictError],
    ['RUN_CANCELLED', RunCancelledError],
  ] as const)('rebuilds %s to its class with message and cause', (code, cls) => {
    const record: StoredError = { name: cls.name, message: `it was ${code}`, code, cause: { name: 'Error', message: 'root' } };
    const error = errorFromRecord(record);
    expect(error).toBeInstanceOf(cls);
    expect(error).toBeInstanceOf(CairnError);
    expect((error as CairnError).code).toBe(code);
    expect(error.name).toBe(cls.name);
    expect(error.message).toBe(`it was ${code}`);
    expect((error.cause as Error).message).toBe('root');
  });

  it('rebuilds SerializationError with its path', () => {
    const error = rebuild(new SerializationError('Cannot store the output of step s', '.a.b[1]'));
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as SerializationError).path).toBe('.a.b[1]');
    expect((error as SerializationError).code).toBe('SERIALIZATION_FAILED');
  });

  it('rebuilds PayloadTooLargeError as a SerializationError with code PAYLOAD_TOO_LARGE', () => {
    const error = rebuild(new PayloadTooLargeError('too big', 2000, 1000));
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as PayloadTooLargeError).code).toBe('PAYLOAD_TOO_LARGE');
    expect(error.message).toBe('too big');
  });

  it('rebuilds every CairnError code to its own class, code intact', () => {
    // A step may throw any Cairn error (e.g. RunNotFoundError from a nested runner.get, or a
    // StorageBusyError); the stored failure must read back as the same class in every process.
    const wrong: string[] = [];
    for (const [name, make, code, cls] of ALL) {
      const rebuilt = rebuild(make('stored'));
      if (!(rebuilt instanceof cls) || (rebuilt as Partial<CairnError>).code !== code) wrong.push(`${name} (${code}) came back as ${rebuilt.constructor.name}`);
    }
    expect(wrong).toEqual([]);
  });

  it('keeps bytes and limit of a rebuilt PayloadTooLargeError', () => {
    const error = rebuild(new PayloadTooLargeError('too big', 2000, 1000)) as PayloadTooLargeError;
    expect([error.bytes, error.limit]).toEqual([2000, 1000]);
  });

  it('keeps the stored code on a rebuilt plain Error (user and Node errors are switched on by code)', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const rebuilt = rebuild(reset) as Error & { code?: string };
    expect(rebuilt.message).toBe('read ECONNRESET');
    expect(rebuilt.code).toBe('ECONNRESET');
  });

  it('turns an unknown code into a plain Error with the stored name, message, stack and cause', () => {
    const record: StoredError = {
      name: 'PaymentGatewayError',
      message: 'gateway said no',
      code: 'E_GATEWAY',
      stack: 'PaymentGatewayError: gateway said no\n    at somewhere',
      cause: { name: 'NonErrorThrown', message: 'x' },
    };
    const error = errorFromRecord(record);
    expect(error.constructor).toBe(Error);
    expect(error).not.toBeInstanceOf(CairnError);
    expect(error.name).toBe('PaymentGatewayError');
    expect(error.message).toBe('gateway said no');
    expect(error.stack).toBe(record.stack);
    expect((error.cause as Error).name).toBe('NonErrorThrown');
    expect((error.cause as Error).message).toBe('x');
  });

  it('rebuilds a record without a code as a plain Error', () => {
    const error = errorFromRecord({ name: 'NonErrorThrown', message: 'null was thrown' });
    expect(error.constructor).toBe(Error);
    expect(error.name).toBe('NonErrorThrown');
    expect(error.message).toBe('null was thrown');
    expect(error.cause).toBeUndefined();
  });

  it('round-trips a non-Error throw through describeThrown', () => {
    const error = errorFromRecord(describeThrown('x'));
    expect(error.message).toBe('x');
    expect(error.name).toBe('NonErrorThrown');
  });

  it('gives the same result each time it reads one record', () => {
    const record = describeThrown(new StepFailedError('s', 2, 'failed', { cause: 'boom' }));
    const a = errorFromRecord(record) as StepFailedError;
    const b = errorFromRecord(record) as StepFailedError;
    expect(a).not.toBe(b);
    expect([a.name, a.message, a.step, a.attempts, (a.cause as Error).message]).toEqual([b.name, b.message, b.step, b.attempts, (b.cause as Error).message]);
  });
});

describe('isTransientStorageError', () => {
  it('is true for StorageBusyError and StorageUnavailableError', () => {
    expect(isTransientStorageError(new StorageBusyError('locked'))).toBe(true);
    expect(isTransientStorageError(new StorageUnavailableError('connection reset'))).toBe(true);
  });

  it('is false for every other error and for non-errors', () => {
    for (const [name, make] of ALL) {
      if (name === 'StorageBusyError' || name === 'StorageUnavailableError') continue;
      expect(isTransientStorageError(make('m'))).toBe(false);
    }
    expect(isTransientStorageError(new Error('SQLITE_BUSY'))).toBe(false);
    expect(isTransientStorageError({ code: 'STORAGE_BUSY' })).toBe(false);
    expect(isTransientStorageError(null)).toBe(false);
    expect(isTransientStorageError(undefined)).toBe(false);
    expect(isTransientStorageError('STORAGE_BUSY')).toBe(false);
  });
});
