/**
 * execution — one worker's execution of one claimed run, from its first open stage until it
 * completes, fails, parks or loses its lease. It owns the hot-path commit discipline: every
 * finished step is one fenced commit that also starts (or skips) whatever comes next, and the
 * last one completes the run. Commits of one run are serialized in memory, so the "last sibling
 * of a stage" is decided exactly once.
 */
import pRetry from 'p-retry';
import {
  LeaseLostError,
  NonRetryableError,
  RunCancelledError,
  RunnerClosedError,
  SerializationError,
  StepFailedError,
  TrackingIdConflictError,
  WorkflowDefinitionChangedError,
} from '../errors/errors';
import type { Logger, NodeDefinition, StageDefinition, StepContext, WorkflowDefinition } from '../graph/types';
import { backoffDelay } from '../retry/policy';
import { encodeValue, type Serializer } from '../serialization/serializer';
import { decodeError, describeThrown, encodeError, ThrownValueError, toStoredError, type StoredError } from '../serialization/thrown';
import type { Claim, CommitRequest, EventWrite, Lease, RunRecord, RunUpdate, StepRecord, StepWrite } from '../storage/records';
import type { Storage } from '../storage/storage';
import type { Clock } from '../time/clock';
import { activate, activateNode, isFinal, type Row } from './activation';
import { runAttempt } from './attempt';
import { toCairnEvent, type CairnEvent } from './events';
import { createContext } from './context';

export interface ExecutionSettings {
  owner: string;
  leaseMs: number;
  heartbeatMs: number;
  parkAfterMs: number;
  maxPayloadBytes: number;
  random: () => number;
}

export interface ExecutionDeps {
  storage: Storage;
  serializer: Serializer;
  clock: Clock;
  logger: Logger;
  settings: ExecutionSettings;
  emit(event: CairnEvent): void;
  /** Starts (or finds, idempotently) the child run of a subflow node and executes it here. */
  startChild(parent: RunRecord, node: NodeDefinition, input: unknown, trackingId: string): Promise<RunRecord>;
  /** Resumes a failed child run (the parent node's retry). */
  resumeChild(childRunId: string): Promise<void>;
}

export type ExecutionOutcome =
  | { kind: 'completed'; output: string }
  | { kind: 'failed'; error: string }
  | { kind: 'parked'; wakeAt: number | null; childFinished: boolean }
  | { kind: 'lost' }
  | { kind: 'released' }
  | { kind: 'stopped'; error: unknown };

type TaskOutcome = undefined | { parkUntil: number } | { child: string };

/** Thrown from p-retry's shouldRetry to leave the loop when the next attempt is parked durably. */
class ParkSignal extends Error {}

/** Stops a heartbeat without the cost of a DOMException reason (once per run). */
const HEARTBEAT_DONE = new Error('execution ended');

const INTERRUPTED = 'the worker running this attempt stopped (crash, kill or lost lease) before it finished';

export class RunExecution {
  private readonly abort = new AbortController();
  private readonly rows = new Map<string, StepRecord>();
  private readonly results: Record<string, unknown> = {};
  private readonly input: unknown;
  private run: RunRecord;
  private lease: Lease;
  private seq: number;
  private stage = 0;
  private terminal: 'completed' | 'failed' | undefined;
  /** The run's stored output or error, as committed by the commit that finished it. */
  private settled: string | undefined;
  private draining = false;
  /** Set by prepare() on a recovery: replays are reported right after `run_resumed`. */
  private replayPending = false;
  /**
   * The earliest due time among the parked steps this execution found. The storage (on PostgreSQL,
   * the database clock) already judged the run due; parked steps wait only their difference to it,
   * so a worker whose clock is skewed never delays another worker's run.
   */
  private dueBase: number | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: ExecutionDeps,
    private readonly definition: WorkflowDefinition,
    claim: Claim,
    private readonly instance: object,
    private readonly resumed: boolean,
  ) {
    this.run = claim.run;
    this.lease = claim.lease;
    this.seq = claim.nextSeq;
    for (const row of claim.steps) {
      this.rows.set(row.name, row);
      if (row.status === 'completed') this.results[row.name] = this.decode(row.output);
    }
    this.input = this.decode(this.run.input);
  }

  get runId(): string {
    return this.run.id;
  }

  /** Stops the execution: in-flight steps see their signal abort; nothing more is committed. */
  stop(reason: Error): void {
    if (!this.abort.signal.aborted) this.abort.abort(reason);
  }

  /** Lets in-flight steps finish, then hands the run back (status pending) instead of going on. */
  drain(): void {
    this.draining = true;
  }

  async execute(): Promise<ExecutionOutcome> {
    const heartbeat = this.heartbeat();
    try {
      this.stage = this.definition.stages.findIndex((s) => s.nodes.some((n) => !['completed', 'skipped'].includes(this.rows.get(n.name)?.status ?? '')));
      if (this.stage === -1) this.stage = this.definition.stages.length;
      await this.prepare();
      while (this.terminal === undefined) {
        if (this.draining) return await this.release();
        const stage = this.definition.stages[this.stage]!;
        const outcomes = await Promise.all(stage.nodes.filter((n) => !isFinal(this.rows.get(n.name))).map((n) => this.task(n)));
        if (this.terminal !== undefined) break;
        if (this.stage !== stage.index) continue;
        return await this.park(outcomes);
      }
      return this.terminal === 'completed' ? { kind: 'completed', output: this.settled! } : { kind: 'failed', error: this.settled! };
    } catch (error) {
      const reason = this.abort.signal.aborted ? this.abort.signal.reason : error;
      if (reason instanceof RunnerClosedError && !(error instanceof LeaseLostError)) {
        // Closing: interrupted attempts stay counted; the run goes back to the queue at once.
        const released = await this.serial(() => this.releaseCommit()).then(
          () => true,
          () => false,
        );
        if (released) return { kind: 'released' };
      }
      this.stop(reason instanceof Error ? reason : new RunCancelledError('execution stopped'));
      if (reason instanceof LeaseLostError) {
        this.deps.logger.warn(`cairn: lost the lease on run ${this.run.id}; another worker owns it now`, { runId: this.run.id });
        return { kind: 'lost' };
      }
      return { kind: 'stopped', error: reason };
    } finally {
      heartbeat.stop();
    }
  }

  // ---- preparation of a claimed run ------------------------------------------------------------

  /** Emits `step_replayed` for each completed step a recovered run will not execute again. */
  private replay(): void {
    for (const node of this.definition.nodes) {
      const row = this.rows.get(node.name);
      if (row?.status === 'completed') this.emit({ type: 'step_replayed', node: node.name, attempt: row.attempts });
    }
  }

  /**
   * Puts the open stage in a runnable state: an attempt interrupted by a crash counts as spent
   * (the budget survives crash loops), failed nodes of a failed run being resumed get a fresh
   * budget, due parked attempts begin, and a stage without rows is activated. One commit, only
   * when something changed.
   * A recovery (an interrupted or failed run, not a continuation) reports its completed steps.
   */
  private async prepare(): Promise<void> {
    const stage = this.definition.stages[this.stage];
    if (!stage) {
      await this.serial(() => this.commitAdvance([], []));
      return;
    }
    const now = this.deps.clock.now();
    const writes: StepWrite[] = [];
    const events: EventWrite[] = [];
    const dues = stage.nodes.map((n) => this.rows.get(n.name)).flatMap((r) => (r?.status === 'retrying' && r.wakeAt !== null ? [r.wakeAt] : []));
    this.dueBase = dues.length > 0 ? Math.min(...dues) : undefined;
    if (stage.nodes.some((n) => !this.rows.has(n.name))) {
      await this.serial(async () => {
        const pending = new Map<string, Row>(this.rows);
        const activation = await activate({ definition: this.definition, fromStage: this.stage, rows: pending, context: (n) => this.context(n, 0, this.abort.signal), now, nextSeq: () => this.seq++ });
        await this.commitAdvance(activation.steps, activation.events, activation);
      });
      return;
    }
    // The whole run had failed (its stage settled with a failure) and is being resumed: only then do
    // failed steps get a fresh budget. A parked run waking up leaves its failed siblings failed.
    const runFailed = stage.nodes.every((n) => isFinal(this.rows.get(n.name)));
    // A recovery: this run was interrupted (a crash, a lost lease) or failed, not merely continued.
    const recovering = this.resumed && stage.nodes.some((n) => this.rows.get(n.name)!.status === 'running' || (runFailed && this.rows.get(n.name)!.status === 'failed'));
    if (recovering) events.push({ seq: this.seq++, type: 'run_resumed', node: null, attempt: null, detail: null });
    for (const node of stage.nodes) {
      const row = this.rows.get(node.name)!;
      if (row.status === 'failed' && row.attempts === 0) {
        // Its condition threw: the node never became ready, so the condition is evaluated again.
        const { write, event } = await activateNode(node, (n) => this.context(n, 0, this.abort.signal), now, () => this.seq++);
        writes.push(write);
        events.push(event);
      } else if (row.status === 'failed' && runFailed) {
        writes.push({ ...this.write(row), status: 'running', attempts: 1, error: null, childRunId: null, wakeAt: null, startedAt: now, finishedAt: null });
        events.push({ seq: this.seq++, type: 'step_started', node: node.name, attempt: 1, detail: JSON.stringify({ resumedAfterFailure: true }) });
      } else if (row.status === 'running' && this.resumed) {
        const next = row.attempts + 1;
        const interrupted = JSON.stringify({ name: 'Interrupted', message: `attempt ${row.attempts} was interrupted: ${INTERRUPTED}` });
        if (next > node.policy.retries + 1) {
          writes.push({ ...this.write(row), status: 'failed', error: interrupted, finishedAt: now });
          events.push({ seq: this.seq++, type: 'step_failed', node: node.name, attempt: row.attempts, detail: JSON.stringify({ error: INTERRUPTED, final: true }) });
        } else {
          writes.push({ ...this.write(row), attempts: next, error: interrupted, startedAt: now });
          events.push({ seq: this.seq++, type: 'step_started', node: node.name, attempt: next, detail: JSON.stringify({ previousAttempt: INTERRUPTED }) });
        }
      } else if (row.status === 'retrying' && node.kind === 'step' && (row.wakeAt === null || row.wakeAt === this.dueBase)) {
        // A due attempt (an enqueued run's first, a handed-back run's next) begins in this commit.
        writes.push({ ...this.write(row), status: 'running', attempts: row.attempts + 1, wakeAt: null, startedAt: now });
        events.push({ seq: this.seq++, type: 'step_started', node: node.name, attempt: row.attempts + 1, detail: null });
      }
    }
    this.replayPending = recovering;
    if (events.length > 0) await this.serial(() => this.commitAdvance(writes, events));
  }

  // ---- node tasks -----------------------------------------------------------------------------

  private task(node: NodeDefinition): Promise<TaskOutcome> {
    return node.kind === 'step' ? this.stepTask(node) : this.subflowTask(node);
  }

  private async waitUntilDue(row: StepRecord): Promise<{ parkUntil: number } | undefined> {
    const wait = (row.wakeAt ?? 0) - (this.dueBase ?? row.wakeAt ?? 0);
    if (wait > this.deps.settings.parkAfterMs) return { parkUntil: this.deps.clock.now() + wait };
    if (wait > 0) await this.deps.clock.sleep(wait, this.abort.signal);
    return undefined;
  }

  private async stepTask(node: NodeDefinition): Promise<TaskOutcome> {
    const row = this.rows.get(node.name)!;
    let attempt = row.attempts;
    if (row.status === 'retrying') {
      const parked = await this.waitUntilDue(row);
      if (parked) return parked;
      attempt += 1;
      await this.startAttempt(node, attempt);
    }
    const maxAttempts = node.policy.retries + 1;
    let parkUntil: number | undefined;
    let output: { text: string; value: unknown };
    try {
      output = await pRetry(
        async (n) => {
          if (n > 1) {
            attempt += 1;
            await this.startAttempt(node, attempt);
          }
          return this.attemptStep(node, attempt);
        },
        {
          retries: Math.max(0, maxAttempts - attempt),
          minTimeout: 0,
          maxTimeout: 0,
          factor: 1,
          signal: this.abort.signal,
          shouldRetry: async ({ error }) => {
            if (!this.retryable(error, node)) return false;
            const delay = backoffDelay(node.policy, attempt, this.deps.settings.random);
            const due = this.deps.clock.now() + delay;
            await this.recordRetry(node, attempt, error, delay, due);
            if (delay > this.deps.settings.parkAfterMs) {
              parkUntil = due;
              throw new ParkSignal();
            }
            await this.deps.clock.sleep(delay, this.abort.signal);
            return true;
          },
        },
      );
    } catch (error) {
      if (parkUntil !== undefined && error instanceof ParkSignal) return { parkUntil };
      if (this.abort.signal.aborted) throw this.abort.signal.reason;
      await this.settle(node, { status: 'failed', error: toStoredError(error), attempts: attempt });
      return undefined;
    }
    await this.settle(node, { status: 'completed', output: output.text, value: output.value, attempts: attempt });
    return undefined;
  }

  private async attemptStep(node: NodeDefinition, attempt: number): Promise<{ text: string; value: unknown }> {
    const method = (this.instance as Record<string | symbol, unknown>)[node.method];
    if (typeof method !== 'function') throw new NonRetryableError(`${this.definition.name}.${String(node.method)} is not a function on the resolved instance`);
    const value = await runAttempt({
      call: (signal) => (method as (ctx: StepContext) => unknown).call(this.instance, this.context(node, attempt, signal)),
      runSignal: this.abort.signal,
      timeoutMs: node.policy.timeoutMs,
      clock: this.deps.clock,
      describe: `Step ${node.name} (attempt ${attempt})`,
    });
    const text = encodeValue(this.deps.serializer, value, `output of step ${node.name}`, this.deps.settings.maxPayloadBytes);
    return { text, value: this.decode(text) };
  }

  private retryable(error: unknown, node: NodeDefinition): boolean {
    if (this.abort.signal.aborted) return false;
    if (error instanceof NonRetryableError || error instanceof SerializationError || error instanceof LeaseLostError) return false;
    if (error instanceof RunCancelledError || error instanceof RunnerClosedError || error instanceof TrackingIdConflictError) return false;
    if (!node.policy.retryIf) return true;
    try {
      return node.policy.retryIf(error instanceof ThrownValueError ? error.thrown : error) === true;
    } catch (predicateError) {
      this.deps.logger.warn(`cairn: retryIf of step ${node.name} threw; not retrying`, { error: describeThrown(predicateError).message });
      return false;
    }
  }

  private async subflowTask(node: NodeDefinition): Promise<TaskOutcome> {
    const maxAttempts = node.policy.retries + 1;
    for (;;) {
      let row = this.rows.get(node.name)!;
      if (row.status === 'retrying') {
        const parked = await this.waitUntilDue(row);
        if (parked) return parked;
        const attempt = row.attempts + 1;
        if (row.childRunId) await this.deps.resumeChild(row.childRunId);
        await this.serial(() => this.commit({ steps: [{ ...this.write(row), status: row.childRunId ? 'waiting' : 'running', attempts: attempt, startedAt: this.deps.clock.now() }], events: [{ seq: this.seq++, type: 'step_started', node: node.name, attempt, detail: null }] }));
        row = this.rows.get(node.name)!;
      }
      if (row.status === 'running') {
        const started = await this.startSubflow(node, row);
        if (!started) return undefined;
        row = this.rows.get(node.name)!;
      }
      const child = row.childRunId ? await this.deps.storage.getRun(row.childRunId) : undefined;
      if (!child) {
        await this.settle(node, { status: 'failed', error: { name: 'Error', message: `child run ${row.childRunId ?? '?'} of subflow ${node.name} is missing` }, attempts: row.attempts });
        return undefined;
      }
      if (child.status === 'completed') {
        await this.settle(node, { status: 'completed', output: child.output ?? this.deps.serializer.serialize(undefined), value: this.decode(child.output), attempts: row.attempts });
        return undefined;
      }
      if (child.status !== 'failed') return { child: child.id };
      const error: StoredError = child.error ? decodeError(child.error) : { name: 'Error', message: `child run ${child.id} failed` };
      if (row.attempts >= maxAttempts || error.code === 'WORKFLOW_DEFINITION_CHANGED') {
        await this.settle(node, { status: 'failed', error, attempts: row.attempts });
        return undefined;
      }
      const delay = backoffDelay(node.policy, row.attempts, this.deps.settings.random);
      await this.recordRetry(node, row.attempts, error, delay, this.deps.clock.now() + delay);
    }
  }

  /** Builds the child's input, starts the child (idempotently) and marks the node waiting. */
  private async startSubflow(node: NodeDefinition, row: StepRecord): Promise<boolean> {
    const ctx = this.context(node, row.attempts, this.abort.signal);
    let child: RunRecord;
    try {
      const method = (this.instance as Record<string | symbol, unknown>)[node.method] as (c: StepContext) => unknown;
      const input = await runAttempt({ call: () => method.call(this.instance, ctx), runSignal: this.abort.signal, timeoutMs: node.policy.timeoutMs, clock: this.deps.clock, describe: `Subflow ${node.name} input` });
      const trackingId = node.subflow?.trackingId ? node.subflow.trackingId(ctx) : `${this.run.trackingId}/${node.name}`;
      child = await this.deps.startChild(this.run, node, input, trackingId);
    } catch (error) {
      if (this.abort.signal.aborted) throw this.abort.signal.reason;
      await this.settle(node, { status: 'failed', error: toStoredError(error), attempts: row.attempts });
      return false;
    }
    await this.serial(() =>
      this.commit({ steps: [{ ...this.write(row), status: 'waiting', childRunId: child.id }], events: [{ seq: this.seq++, type: 'subflow_started', node: node.name, attempt: row.attempts, detail: JSON.stringify({ childRunId: child.id, trackingId: child.trackingId }) }] }),
    );
    return true;
  }

  // ---- commits --------------------------------------------------------------------------------

  private startAttempt(node: NodeDefinition, attempt: number): Promise<void> {
    return this.serial(() => {
      const row = this.rows.get(node.name)!;
      return this.commit({ steps: [{ ...this.write(row), status: 'running', attempts: attempt, wakeAt: null, startedAt: this.deps.clock.now() }], events: [{ seq: this.seq++, type: 'step_started', node: node.name, attempt, detail: null }] });
    });
  }

  private recordRetry(node: NodeDefinition, attempt: number, error: unknown, delayMs: number, due: number): Promise<void> {
    return this.serial(() => {
      const row = this.rows.get(node.name)!;
      const record = toStoredError(error);
      return this.commit({ steps: [{ ...this.write(row), status: 'retrying', attempts: attempt, error: JSON.stringify(record), wakeAt: due }], events: [{ seq: this.seq++, type: 'step_retrying', node: node.name, attempt, detail: JSON.stringify({ error: record.message, delayMs }) }] });
    });
  }

  private settle(node: NodeDefinition, result: { status: 'completed'; output: string; value: unknown; attempts: number } | { status: 'failed'; error: StoredError; attempts: number }): Promise<void> {
    return this.serial(async () => {
      const now = this.deps.clock.now();
      const row = this.rows.get(node.name)!;
      const write: StepWrite =
        result.status === 'completed'
          ? { ...this.write(row), status: 'completed', attempts: result.attempts, output: result.output, error: null, wakeAt: null, finishedAt: now }
          : { ...this.write(row), status: 'failed', attempts: result.attempts, error: JSON.stringify(result.error), wakeAt: null, finishedAt: now };
      const event: EventWrite =
        result.status === 'completed'
          ? { seq: this.seq++, type: 'step_completed', node: node.name, attempt: result.attempts, detail: null }
          : { seq: this.seq++, type: 'step_failed', node: node.name, attempt: result.attempts, detail: JSON.stringify({ error: result.error.message, final: true }) };
      if (result.status === 'completed') this.results[node.name] = result.value;
      await this.commitAdvance([write], [event]);
    });
  }

  /**
   * Commits `steps`/`events` and, when they settle the open stage, whatever follows: the next
   * stage's rows, or the run's completion or failure. One transaction.
   */
  private async commitAdvance(steps: StepWrite[], events: EventWrite[], preActivated?: Awaited<ReturnType<typeof activate>>): Promise<void> {
    const now = this.deps.clock.now();
    const rows = new Map<string, Row>(this.rows);
    for (const s of steps) rows.set(s.name, s);
    let run: RunUpdate | undefined;
    let nextStage = this.stage;
    let terminal: 'completed' | 'failed' | undefined;
    let activation = preActivated;
    const stage: StageDefinition | undefined = this.definition.stages[this.stage];
    const stageRows = stage ? stage.nodes.map((n) => rows.get(n.name)) : [];
    if (!activation && stageRows.every(isFinal)) {
      if (stageRows.some((r) => r?.status === 'failed')) activation = { steps: [], events: [], stage: this.stage, outcome: 'failed' };
      else activation = await activate({ definition: this.definition, fromStage: this.stage + 1, rows, context: (n) => this.context(n, 0, this.abort.signal), now, nextSeq: () => this.seq++ });
    }
    if (activation) {
      if (activation !== preActivated) {
        steps.push(...activation.steps);
        events.push(...activation.events);
      }
      nextStage = activation.stage;
      let output: string | undefined;
      let outputError: StoredError | undefined;
      if (activation.outcome === 'completed') {
        try {
          output = this.output(rows);
        } catch (error) {
          outputError = toStoredError(error);
        }
      }
      if (output !== undefined) {
        terminal = 'completed';
        run = { status: 'completed', output, error: null, wakeAt: null, release: true };
        events.push({ seq: this.seq++, type: 'run_completed', node: null, attempt: null, detail: null });
      } else if (outputError) {
        terminal = 'failed';
        run = { status: 'failed', error: JSON.stringify(outputError), wakeAt: null, release: true };
        events.push({ seq: this.seq++, type: 'run_failed', node: null, attempt: null, detail: JSON.stringify({ error: outputError.message }) });
      } else if (activation.outcome === 'failed') {
        terminal = 'failed';
        const failedStage = this.definition.stages[activation.stage]!;
        const failed = failedStage.nodes.map((n) => rows.get(n.name)!).find((r) => r.status === 'failed')!;
        const cause = failed.error ? decodeError(failed.error) : { name: 'Error', message: 'failed' };
        const error = new StepFailedError(failed.name, failed.attempts, `Step ${failed.name} of ${this.definition.name} failed after ${failed.attempts} attempt${failed.attempts === 1 ? '' : 's'}: ${cause.message}`);
        run = { status: 'failed', error: JSON.stringify({ ...describeThrown(error), stack: undefined, cause }), wakeAt: null, release: true };
        events.push({ seq: this.seq++, type: 'run_failed', node: failed.name, attempt: failed.attempts, detail: JSON.stringify({ error: error.message }) });
      }
    }
    await this.commit({ steps, events, run, wakeParent: terminal && this.run.parentRunId ? this.run.parentRunId : undefined });
    this.stage = nextStage;
    this.terminal = terminal;
    if (run) this.settled = terminal === 'completed' ? run.output! : run.error!;
  }

  private async commit(change: Pick<CommitRequest, 'steps' | 'events' | 'run' | 'wakeParent' | 'wakeIfFinished'>): Promise<void> {
    if (this.abort.signal.aborted) throw this.abort.signal.reason;
    const request: CommitRequest = { runId: this.run.id, lease: this.lease, ...change };
    try {
      await this.deps.storage.commit(request, this.deps.clock.now());
    } catch (error) {
      if (error instanceof LeaseLostError) this.stop(error);
      throw error;
    }
    for (const s of change.steps ?? []) this.rows.set(s.name, { ...s, runId: this.run.id });
    for (const e of change.events ?? []) {
      this.deps.emit(toCairnEvent(e, this.identity(), this.deps.clock.now()));
      if (e.type === 'run_resumed' && this.replayPending) {
        this.replayPending = false;
        this.replay();
      }
    }
  }

  /**
   * Hands the run back between stages: the next stage's attempts, written as started by the last
   * commit, were never begun, so they are written back as due (not counted), and the run becomes
   * pending for any worker to claim at once.
   */
  private async release(): Promise<ExecutionOutcome> {
    await this.serial(() => this.releaseCommit());
    return { kind: 'released' };
  }

  private releaseCommit(): Promise<void> {
    const stage = this.definition.stages[this.stage];
    const notBegun = this.abort.signal.aborted ? [] : (stage?.nodes ?? []).map((n) => this.rows.get(n.name)!).filter((r) => r.status === 'running');
    const request: CommitRequest = {
      runId: this.run.id,
      lease: this.lease,
      run: { status: 'pending', release: true },
      steps: notBegun.map((r) => ({ ...this.write(r), status: 'retrying', attempts: r.attempts - 1, wakeAt: null })),
      events: [{ seq: this.seq++, type: 'run_parked', node: null, attempt: null, detail: JSON.stringify({ released: true }) }],
    };
    return this.deps.storage.commit(request, this.deps.clock.now());
  }

  /** Parks the run (lease released) while nodes wait for a due time or a child run. */
  private async park(outcomes: TaskOutcome[]): Promise<ExecutionOutcome> {
    const dues = outcomes.flatMap((o) => (o && 'parkUntil' in o ? [o.parkUntil] : []));
    const children = outcomes.flatMap((o) => (o && 'child' in o ? [o.child] : []));
    const wakeAt = dues.length > 0 ? Math.min(...dues) : null;
    await this.serial(() =>
      this.commit({
        run: { status: 'waiting', wakeAt, release: true },
        events: [{ seq: this.seq++, type: 'run_parked', node: null, attempt: null, detail: JSON.stringify({ wakeAt, children }) }],
        wakeIfFinished: children,
      }),
    );
    // A child that finished between our check and the park found us still running and could
    // not wake us: look once more, now that we are parked.
    let childFinished = false;
    for (const id of children) {
      const child = await this.deps.storage.getRun(id);
      if (child && (child.status === 'completed' || child.status === 'failed')) childFinished = true;
    }
    return { kind: 'parked', wakeAt, childFinished };
  }

  /** Parks a run whose graph no longer matches any registered class, with the error visible. */
  static async parkChanged(deps: ExecutionDeps, claim: Claim, error: WorkflowDefinitionChangedError): Promise<void> {
    await deps.storage.commit(
      {
        runId: claim.run.id,
        lease: claim.lease,
        run: { status: 'waiting', wakeAt: null, error: encodeError(error), release: true },
        events: [{ seq: claim.nextSeq, type: 'run_parked', node: null, attempt: null, detail: JSON.stringify({ error: error.message }) }],
      },
      deps.clock.now(),
    );
  }

  // ---- helpers --------------------------------------------------------------------------------

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private heartbeat(): { stop(): void } {
    const stopper = new AbortController();
    const loop = async (): Promise<void> => {
      for (;;) {
        await this.deps.clock.sleep(this.deps.settings.heartbeatMs, stopper.signal);
        try {
          const held = await this.deps.storage.renewLease(this.run.id, this.lease, this.deps.settings.leaseMs, this.deps.clock.now());
          if (!held) {
            this.stop(new LeaseLostError(`Lease on run ${this.run.id} was taken over by another worker.`));
            return;
          }
        } catch (error) {
          this.deps.logger.warn(`cairn: could not renew the lease on run ${this.run.id}`, { error: describeThrown(error).message });
        }
      }
    };
    loop().catch(() => undefined);
    return { stop: () => stopper.abort(HEARTBEAT_DONE) };
  }

  private context(node: NodeDefinition, attempt: number, signal: AbortSignal): StepContext {
    const source = { workflow: this.definition.name, runId: this.run.id, trackingId: this.run.trackingId, input: this.input, results: this.results, logger: this.deps.logger };
    return createContext(source, node, attempt, signal);
  }

  /** The run's result: its last node's result, or a record of the last stage's results by name. */
  private output(rows: Map<string, Row>): string {
    const last = this.definition.stages[this.definition.stages.length - 1]!;
    if (last.nodes.length === 1) {
      const row = rows.get(last.nodes[0]!.name);
      return row?.status === 'completed' && row.output !== null ? row.output : this.deps.serializer.serialize(undefined);
    }
    const record: Record<string, unknown> = {};
    for (const node of last.nodes) record[node.name] = this.results[node.name];
    return encodeValue(this.deps.serializer, record, `result of run ${this.run.id}`, this.deps.settings.maxPayloadBytes);
  }

  private write(row: StepRecord): StepWrite {
    const { runId: _runId, ...rest } = row;
    return rest;
  }

  private decode(text: string | null): unknown {
    return text === null ? undefined : this.deps.serializer.deserialize(text);
  }

  private identity(): { runId: string; workflow: string; trackingId: string } {
    return { runId: this.run.id, workflow: this.definition.name, trackingId: this.run.trackingId };
  }

  private emit(event: Omit<CairnEvent, 'runId' | 'workflow' | 'trackingId' | 'at'>): void {
    this.deps.emit({ ...event, ...this.identity(), at: this.deps.clock.now() });
  }
}
