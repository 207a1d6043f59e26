/**
 * @cairn/core — durable, decorator-based workflows. Public API: decorators, the Runner, the
 * storage interface and its Kysely implementation, errors, serialization and time.
 */
import 'reflect-metadata';

export { Workflow, Step, Parallel, Subflow, type MemberDecorator } from './decorators/decorators';
export { compileWorkflow, workflowName } from './scanner/scanner';
export type {
  WorkflowClass,
  WorkflowOptions,
  StepOptions,
  SubflowOptions,
  StepContext,
  StepResults,
  UntypedWorkflow,
  Condition,
  Logger,
  NodeKind,
  NodeDefinition,
  StageDefinition,
  WorkflowDefinition,
} from './graph/types';
export { Runner, type RunnerOptions, type RunHandle, type RunInfo, type StepInfo, type WorkOptions, type CloseOptions } from './runner/runner';
export type { CairnEvent, EventListener } from './runner/events';
export { consoleLogger } from './runner/logger';
export * from './errors/errors';
export { backoffDelay, DEFAULT_RETRIES, type RetryOptions, type BackoffOptions, type RetryPolicy } from './retry/policy';
export { devalueSerializer, encodeValue, DEFAULT_MAX_PAYLOAD_BYTES, type Serializer } from './serialization/serializer';
export type { StoredError } from './serialization/thrown';
export { systemClock, ManualClock, type Clock } from './time/clock';
export type { Duration } from './time/duration';
export type { Storage } from './storage/storage';
export { KyselyStorage, type KyselyStorageOptions } from './storage/kysely-storage';
export type { GroupedCommit, GroupedStart, PermanentKind, StorageDialect, TransientKind } from './storage/dialect';
export type { CairnDatabase, RunsTable } from './storage/schema';
export { migrations } from './storage/migrations';
export type * from './storage/records';
