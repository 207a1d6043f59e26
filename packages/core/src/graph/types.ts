/**
 * graph types — the public vocabulary of a workflow: the options decorators take, the step
 * context a step receives, and the compiled, frozen graph (`WorkflowDefinition`) the runner runs.
 */
import type { RetryOptions, RetryPolicy } from '../retry/policy';

/** Any class; the runner gets its instance from `resolve` (your DI container) or `new cls()`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- constructor parameters are the user's; `unknown[]` would reject classes with typed constructors
export type WorkflowClass<T = object> = abstract new (...args: any[]) => T;

export interface WorkflowOptions {
  /** Stable name stored with every run. Defaults to the class name (set it explicitly if you minify). */
  name?: string;
  /** Positive integer. Bump it when you change the steps of a workflow that has runs in flight. */
  version?: number;
}

export interface Logger {
  debug(message: string, data?: Record<string, unknown>): void;
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

type Method = (...args: never[]) => unknown;

/**
 * The results of a workflow's steps so far, typed from the class: `results.getProduct` has the
 * awaited return type of `getProduct`. A skipped step reads as `undefined`. A subflow node's
 * result is the child run's result (the method's own return value is the child's input).
 */
export type StepResults<W> = {
  readonly [K in keyof W as W[K] extends Method ? K : never]: W[K] extends (...args: never[]) => infer R ? Awaited<R> : never;
};

/** The `W` of an untyped context: any node name, each result `unknown`. */
export type UntypedWorkflow = Record<string, Method>;

/** What a step (or a condition, or a subflow's input builder) receives. */
export interface StepContext<I = unknown, W = UntypedWorkflow> {
  /** The run's input, as given to `start`. */
  readonly input: I;
  /** Results of the nodes that finished before this one. */
  readonly results: StepResults<W>;
  /** 1 on the first attempt; counts every attempt, including ones interrupted by a crash. */
  readonly attempt: number;
  /** Aborted when the attempt times out, the lease is lost or the runner closes. */
  readonly signal: AbortSignal;
  readonly runId: string;
  readonly trackingId: string;
  readonly workflow: string;
  /** This node's name. */
  readonly step: string;
  /** `<runId>:<step>`: stable across attempts, crashes and resumes. Pass it to APIs that deduplicate. */
  readonly idempotencyKey: string;
  readonly log: Logger;
}

/** Evaluated once, when the node becomes ready; `false` stores the node as skipped for good. */
export type Condition<I = unknown, W = UntypedWorkflow> = (ctx: StepContext<I, W>) => boolean | Promise<boolean>;

export interface StepOptions<I = unknown, W = UntypedWorkflow> extends RetryOptions {
  /** Node name; defaults to the method name. */
  name?: string;
  /** Run the step only when this returns true. */
  when?: Condition<I, W>;
}

export interface SubflowOptions<I = unknown, W = UntypedWorkflow> extends RetryOptions {
  name?: string;
  when?: Condition<I, W>;
  /** The child's tracking id. Default `<parent trackingId>/<node name>`. */
  trackingId?: (ctx: StepContext<I, W>) => string;
}

export type NodeKind = 'step' | 'subflow';

export interface NodeDefinition {
  readonly name: string;
  readonly kind: NodeKind;
  /** The method the node calls (for a subflow: the method that builds the child's input). */
  readonly method: string | symbol;
  readonly group: string | undefined;
  readonly stage: number;
  readonly policy: RetryPolicy;
  readonly when: Condition | undefined;
  readonly subflow: { readonly target: WorkflowClass; readonly trackingId: ((ctx: StepContext) => string) | undefined } | undefined;
}

export interface StageDefinition {
  readonly index: number;
  readonly group: string | undefined;
  readonly nodes: readonly NodeDefinition[];
}

/** A compiled, validated, frozen workflow graph. */
export interface WorkflowDefinition {
  readonly name: string;
  readonly version: number;
  readonly workflowClass: WorkflowClass;
  readonly stages: readonly StageDefinition[];
  readonly nodes: readonly NodeDefinition[];
  /** Structural hash (names, kinds, order, groups, version): a run stores the hash it started with. */
  readonly hash: string;
}
