/**
 * runner — the public entry point. A Runner owns its registry of workflows, starts runs
 * idempotently, executes them in this process right away, resumes what crashed or parked, and
 * (with `work()`) claims runs any process left behind. It validates every argument before touching
 * the database, so bad input leaves the database unchanged.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import {
  InvalidArgumentError,
  RunNotFoundError,
  RunnerClosedError,
  TrackingIdConflictError,
  WorkflowDefinitionChangedError,
  errorFromRecord,
} from '../errors/errors';
import type { Logger, NodeDefinition, WorkflowClass, WorkflowDefinition } from '../graph/types';
import { DEFAULT_MAX_PAYLOAD_BYTES, devalueSerializer, encodeValue, type Serializer } from '../serialization/serializer';
import { decodeError, describeThrown } from '../serialization/thrown';
import type { Claim, ClaimOptions, EventRecord, EventWrite, RunRecord, RunStatus, StepStatus } from '../storage/records';
import type { Storage } from '../storage/storage';
import { systemClock, type Clock } from '../time/clock';
import { parseDuration, type Duration } from '../time/duration';
import { activate } from './activation';
import { createContext } from './context';
import { toCairnEvent, type CairnEvent, type EventListener } from './events';
import { RunExecution, type ExecutionDeps, type ExecutionOutcome } from './execution';
import { consoleLogger } from './logger';
import { validateRunnerParts } from './options';
import { Registry } from './registry';
import { WakeSchedule } from './wakes';

export interface RunnerOptions {
  storage: Storage;
  /**
   * 'worker' (default): runs what it starts right here, and claims runs from others after
   * `work()`. 'client': `start` only enqueues the run (status pending) for workers to pick up.
   */
  role?: 'worker' | 'client';
  /** Workflows this runner executes (classes passed to `start` are registered too). */
  workflows?: WorkflowClass[];
  /** Returns the instance whose methods run (your DI container). Default: `new cls()`. */
  resolve?: (cls: WorkflowClass) => object;
  clock?: Clock;
  serializer?: Serializer;
  logger?: Logger;
  /** Called for every event of every run this runner executes. */
  onEvent?: EventListener;
  /** Identifies this worker in leases. Default: `<hostname>:<pid>:<random>`. */
  workerId?: string;
  /** How long a claim lasts without renewal. Default '30s'. */
  leaseMs?: Duration;
  /** How often a running run's lease is renewed. Default leaseMs / 3. */
  heartbeatMs?: Duration;
  /** Backoffs longer than this park the run durably (`wake_at`) instead of waiting in memory. Default '5s'. */
  parkAfterMs?: Duration;
  /** How often `result()` and `work()` look at the database. Default '250ms'. */
  pollMs?: Duration;
  /** Largest serialized input or step output, in bytes. Default 1 MiB. */
  maxPayloadBytes?: number;
  /** Random source for backoff jitter. Default Math.random. */
  random?: () => number;
}

export interface WorkOptions {
  /** Runs executed at once by this runner (including ones it started). Default 10. */
  concurrency?: number;
  /** How often to look for claimable runs. Default: the runner's pollMs. */
  pollMs?: Duration;
}

export interface CloseOptions {
  /**
   * How long in-flight steps may take to finish. Runs are handed back (status pending, lease
   * released) as soon as their in-flight steps are done, so another worker continues them at once;
   * steps still running at the deadline are abandoned (their attempt counts). Default '10s'.
   */
  timeoutMs?: Duration;
}

export interface StepInfo {
  name: string;
  status: StepStatus;
  attempts: number;
  /** The last error (or the skip reason) as a message. */
  error: string | undefined;
  childRunId: string | undefined;
}

export interface RunInfo {
  runId: string;
  trackingId: string;
  workflow: string;
  version: number;
  status: RunStatus;
  /** The error the run failed (or is parked) with. */
  error: Error | undefined;
  steps: StepInfo[];
  wakeAt: number | undefined;
  parentRunId: string | undefined;
  createdAt: number;
  updatedAt: number;
}

export interface RunHandle<R = unknown> {
  readonly runId: string;
  readonly trackingId: string;
  readonly workflow: string;
  /** Resolves with the run's result once it completes; rejects with its error if it fails. */
  result(): Promise<R>;
  status(): Promise<RunInfo>;
  /** The run's append-only trace. */
  history(): Promise<EventRecord[]>;
}

const MAX_TRACKING_ID = 512;
/** How many times (25 ms apart) a due parked run is looked at again while the database says not yet. */
const WAKE_RETRIES = 40;

function duration(value: Duration | undefined, fallback: number, label: string, min = 1): number {
  if (value === undefined) return fallback;
  const parsed = parseDuration(value, label);
  if ('problem' in parsed) throw new InvalidArgumentError(parsed.problem);
  const ms = Math.round(parsed.ms);
  if (ms < min) throw new InvalidArgumentError(`${label} must be at least ${min} ms (got ${parsed.ms})`);
  return ms;
}

function validateTrackingId(trackingId: unknown): asserts trackingId is string {
  if (typeof trackingId !== 'string') throw new InvalidArgumentError(`trackingId must be a string (got ${trackingId === null ? 'null' : typeof trackingId}).`);
  if (trackingId.length === 0 || trackingId.length > MAX_TRACKING_ID) throw new InvalidArgumentError(`trackingId must be 1–${MAX_TRACKING_ID} characters (got ${trackingId.length}).`);
  if (/[\u0000-\u001f]/.test(trackingId)) throw new InvalidArgumentError('trackingId must not contain control characters (NUL, newlines…).');
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(trackingId)) throw new InvalidArgumentError('trackingId must be valid Unicode (it contains a lone surrogate).');
}

export class Runner {
  private readonly storage: Storage;
  private readonly registry = new Registry();
  private readonly resolveInstance: (cls: WorkflowClass) => object;
  private readonly clock: Clock;
  private readonly serializer: Serializer;
  private readonly logger: Logger;
  private readonly listener: EventListener | undefined;
  private readonly pollMs: number;
  private readonly deps: ExecutionDeps;
  private readonly active = new Map<string, { execution: RunExecution; done: Promise<void>; outcome: Promise<ExecutionOutcome | undefined> }>();
  /** Starts, claims and hand-backs under way: close() lets them land before closing the storage. */
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Parked runs this runner resumes itself when due, and the re-looks left for each (see wakeUp). */
  private readonly wakes: WakeSchedule;
  private readonly wakeRetries = new Map<string, number>();
  /** Runs asked to resume while still executing here (see tryResume). */
  private readonly resumeAfter = new Map<string, ClaimOptions>();
  private readonly closing = new AbortController();
  private working: Promise<void> | undefined;
  private wakeWork: (() => void) | undefined;
  private closed = false;
  private readonly role: 'worker' | 'client';

  /** This worker's id, as written into the leases it takes. */
  readonly workerId: string;

  constructor(options: RunnerOptions) {
    if (!options || typeof options !== 'object') throw new InvalidArgumentError('new Runner(options) needs an options object with a storage.');
    const storage = options.storage as Partial<Storage> | undefined;
    if (!storage || typeof storage.createRun !== 'function' || typeof storage.commit !== 'function') {
      throw new InvalidArgumentError('Runner options.storage must be a Cairn Storage (for example new SqliteStorage({ filename })).');
    }
    if (options.resolve !== undefined && typeof options.resolve !== 'function') throw new InvalidArgumentError('Runner options.resolve must be a function (cls) => instance.');
    if (options.onEvent !== undefined && typeof options.onEvent !== 'function') throw new InvalidArgumentError('Runner options.onEvent must be a function.');
    const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 1) throw new InvalidArgumentError(`Runner options.maxPayloadBytes must be a positive integer (got ${String(options.maxPayloadBytes)}).`);
    if (options.workerId !== undefined && (typeof options.workerId !== 'string' || options.workerId.length === 0 || options.workerId.length > 200)) {
      throw new InvalidArgumentError('Runner options.workerId must be a string of 1–200 characters.');
    }
    if (options.role !== undefined && options.role !== 'worker' && options.role !== 'client') throw new InvalidArgumentError(`Runner options.role must be 'worker' or 'client' (got '${String(options.role)}').`);
    validateRunnerParts(options);
    this.role = options.role ?? 'worker';
    this.storage = options.storage;
    this.resolveInstance = options.resolve ?? ((cls) => new (cls as new () => object)());
    const clock = options.clock ?? systemClock;
    // Times are whole milliseconds everywhere (PostgreSQL stores them as bigint).
    this.clock = { now: () => Math.floor(clock.now()), sleep: (ms, signal) => clock.sleep(ms, signal) };
    this.serializer = options.serializer ?? devalueSerializer;
    this.logger = options.logger ?? consoleLogger;
    this.listener = options.onEvent;
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const leaseMs = duration(options.leaseMs, 30_000, 'leaseMs', 100);
    const heartbeatMs = duration(options.heartbeatMs, Math.floor(leaseMs / 3), 'heartbeatMs');
    if (heartbeatMs >= leaseMs) throw new InvalidArgumentError(`heartbeatMs (${heartbeatMs}) must be shorter than leaseMs (${leaseMs}).`);
    this.pollMs = duration(options.pollMs, 250, 'pollMs');
    this.wakes = new WakeSchedule(this.clock, (runId) => void this.wakeUp(runId), this.closing.signal);
    this.deps = {
      storage: this.storage,
      serializer: this.serializer,
      clock: this.clock,
      logger: this.logger,
      settings: {
        owner: this.workerId,
        leaseMs,
        heartbeatMs,
        parkAfterMs: duration(options.parkAfterMs, 5_000, 'parkAfterMs', 0),
        maxPayloadBytes,
        random: options.random ?? Math.random,
      },
      emit: (event: CairnEvent) => {
        try {
          this.listener?.(event);
        } catch (error) {
          this.logger.warn('cairn: an onEvent listener threw; the run goes on', { error: describeThrown(error).message });
        }
      },
      startChild: (parent, node, input, trackingId) => this.startChild(parent, node, input, trackingId),
      resumeChild: async (childRunId) => {
        await this.claimAndLaunch(childRunId, { includeFailed: true }, false);
      },
    };
    for (const cls of options.workflows ?? []) this.registry.register(cls);
  }

  /** Registers workflow classes (compiling and validating them). */
  register(...workflows: WorkflowClass[]): WorkflowDefinition[] {
    return workflows.map((cls) => this.registry.register(cls));
  }

  /** Creates or upgrades Cairn's tables. */
  async migrate(): Promise<void> {
    this.assertOpen();
    await this.storage.migrate();
  }

  /**
   * Starts a run of `workflow`, or returns the existing run with this tracking id: completed runs
   * resolve to their stored result, live runs are awaited, failed or abandoned runs resume.
   */
  async start<R = unknown, W extends object = object>(workflow: WorkflowClass<W>, input: unknown, trackingId: string): Promise<RunHandle<R>> {
    this.assertOpen();
    const definition = this.registry.register(workflow);
    validateTrackingId(trackingId);
    const inputText = encodeValue(this.serializer, input, `input of workflow ${definition.name}`, this.deps.settings.maxPayloadBytes);
    const run = await this.track(this.startRun(definition, inputText, trackingId, null));
    return this.handle<R>(run);
  }

  /** `start` and await the result. */
  async run<R = unknown, W extends object = object>(workflow: WorkflowClass<W>, input: unknown, trackingId: string): Promise<R> {
    return (await this.start<R, W>(workflow, input, trackingId)).result();
  }

  /** The run with this tracking id, or undefined. */
  async get<R = unknown, W extends object = object>(workflow: WorkflowClass<W>, trackingId: string): Promise<RunHandle<R> | undefined> {
    this.assertOpen();
    const definition = this.registry.register(workflow);
    validateTrackingId(trackingId);
    const run = await this.storage.findRun(definition.name, trackingId);
    return run ? this.handle<R>(run) : undefined;
  }

  /**
   * Resumes a failed, parked or abandoned run now (failed steps get a fresh retry budget).
   * Throws `RunNotFoundError`, or `WorkflowDefinitionChangedError` when no registered class
   * matches the graph the run started with.
   */
  async resume<R = unknown, W extends object = object>(workflow: WorkflowClass<W>, trackingId: string): Promise<RunHandle<R>> {
    this.assertOpen();
    if (this.role === 'client') throw new InvalidArgumentError("resume() needs a runner with role 'worker'; a client runner does not execute runs.");
    const definition = this.registry.register(workflow);
    validateTrackingId(trackingId);
    const run = await this.storage.findRun(definition.name, trackingId);
    if (!run) throw new RunNotFoundError(`No run of workflow '${definition.name}' has tracking id '${trackingId}'.`);
    if (run.status !== 'completed' && !this.active.has(run.id)) await this.claimAndLaunch(run.id, { includeFailed: true, ignoreWakeAt: true }, true);
    return this.handle<R>(run);
  }

  /**
   * Makes this runner a worker: it keeps claiming runs that are pending, due after parking, or
   * abandoned by a dead worker (expired lease), until `close()`.
   */
  work(options: WorkOptions = {}): void {
    this.assertOpen();
    if (this.role === 'client') throw new InvalidArgumentError("work() needs a runner with role 'worker'; this one is a client.");
    if (this.working) throw new InvalidArgumentError('work() was already called on this runner.');
    const concurrency = options.concurrency ?? 10;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new InvalidArgumentError(`work({ concurrency }) must be a positive integer (got ${String(concurrency)}).`);
    const pollMs = duration(options.pollMs, this.pollMs, 'work({ pollMs })');
    this.working = this.workLoop(concurrency, pollMs);
  }

  /**
   * Stops claiming, lets in-flight steps finish (up to `timeoutMs`), abandons the rest (their
   * leases expire and another worker resumes them), and closes the storage.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    if (this.closed) return;
    const timeoutMs = duration(options.timeoutMs, 10_000, 'close({ timeoutMs })', 0);
    this.closed = true;
    this.closing.abort(new RunnerClosedError('The runner is closing.'));
    this.wakeWork?.();
    await this.working;
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    for (const { execution } of this.active.values()) execution.drain();
    const all = Promise.allSettled([...this.active.values()].map((a) => a.done));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    if ((await Promise.race([all, deadline])) === 'timeout') {
      for (const { execution } of this.active.values()) execution.stop(new RunnerClosedError('The runner closed before this step finished.'));
      await all;
    }
    clearTimeout(timer);
    for (const waiters of this.waiters.values()) for (const wake of waiters) wake();
    await this.storage.close();
  }

  // ---- starting and claiming --------------------------------------------------------------------

  private async startRun(definition: WorkflowDefinition, inputText: string, trackingId: string, parent: { runId: string; node: string } | null): Promise<RunRecord> {
    // Conditions are evaluated once, when a node becomes ready: a repeated start of an existing run
    // must not evaluate the first stage's conditions again, so look the run up first (one read, and
    // only for workflows whose first stage has a condition).
    if (definition.stages[0]!.nodes.some((n) => n.when)) {
      const existing = await this.storage.findRun(definition.name, trackingId);
      if (existing) return this.existing(definition, existing, this.serializer.deserialize(inputText), trackingId, parent);
    }
    const id = randomUUID();
    const now = this.clock.now();
    const input = this.serializer.deserialize(inputText);
    // Resolve before writing: a DI failure must not leave a claimed run behind. (A client never executes.)
    const instance = this.role === 'client' ? undefined : this.resolve(definition);
    let seq = 1;
    const events: EventWrite[] = [{ seq: seq++, type: 'run_started', node: null, attempt: null, detail: parent ? JSON.stringify({ parentRunId: parent.runId, parentNode: parent.node }) : null }];
    const source = { workflow: definition.name, runId: id, trackingId, input, results: {}, logger: this.logger };
    const activation = await activate({
      definition,
      fromStage: 0,
      rows: new Map(),
      context: (node) => createContext(source, node, 0, this.closing.signal),
      now,
      nextSeq: () => seq++,
    });
    // A client only enqueues: the first attempts are due, not begun (a worker begins them).
    const client = this.role === 'client';
    const steps = client ? activation.steps.map((s) => (s.status === 'running' ? { ...s, status: 'retrying' as const, attempts: 0, startedAt: null } : s)) : activation.steps;
    events.push(...activation.events.filter((e) => !client || e.type !== 'step_started'));
    const result = await this.storage.createRun(
      {
        run: { id, workflowName: definition.name, workflowVersion: definition.version, graphHash: definition.hash, trackingId, input: inputText, parentRunId: parent?.runId ?? null, parentNode: parent?.node ?? null },
        owner: client ? null : this.workerId,
        leaseMs: this.deps.settings.leaseMs,
        steps,
        events,
      },
      now,
    );
    if (result.created && client) return result.claim.run;
    if (result.created) {
      for (const e of events) {
        this.deps.emit(toCairnEvent(e, { runId: id, workflow: definition.name, trackingId }, now));
      }
      this.launch(definition, result.claim, false, instance!);
      return result.claim.run;
    }
    return this.existing(definition, result.run, input, trackingId, parent);
  }

  /** A start found an existing run: the same input gets a handle on it, another input a conflict. */
  private async existing(definition: WorkflowDefinition, existing: RunRecord, input: unknown, trackingId: string, parent: { runId: string } | null): Promise<RunRecord> {
    if (!isDeepStrictEqual(this.serializer.deserialize(existing.input), input)) {
      throw new TrackingIdConflictError(
        `Workflow '${definition.name}' already has a run with tracking id '${trackingId}' (run ${existing.id}) and a different input; nothing was changed. Use a new tracking id for a new run.`,
      );
    }
    await this.adopt(existing, parent === null);
    return existing;
  }

  /** Brings an existing run of a repeated `start` back to life when nobody is running it. */
  private async adopt(run: RunRecord, resumeFailed: boolean): Promise<void> {
    if (run.status === 'waiting' && run.error) throw errorFromRecord(decodeError(run.error));
    if (this.role === 'client' || this.active.has(run.id) || run.status === 'completed') return;
    const now = this.clock.now();
    const abandoned = run.status === 'pending' || (run.status === 'running' && run.leaseExpiresAt !== null && run.leaseExpiresAt <= now);
    const due = run.status === 'waiting' && run.wakeAt !== null && run.wakeAt <= now;
    if (run.status === 'failed' && resumeFailed) await this.claimAndLaunch(run.id, { includeFailed: true }, true);
    else if (abandoned || due) await this.claimAndLaunch(run.id, {}, true);
  }

  private async startChild(parent: RunRecord, node: NodeDefinition, input: unknown, trackingId: string): Promise<RunRecord> {
    const target = this.registry.register(node.subflow!.target);
    validateTrackingId(trackingId);
    const inputText = encodeValue(this.serializer, input, `input of subflow ${node.name} (${target.name})`, this.deps.settings.maxPayloadBytes);
    return this.startRun(target, inputText, trackingId, { runId: parent.id, node: node.name });
  }

  /** Claims a run and executes it here. Returns false when someone else holds a live lease. */
  private async claimAndLaunch(runId: string, options: ClaimOptions, explicit: boolean): Promise<boolean> {
    if (this.closed || this.active.has(runId)) return false;
    const claim = await this.track(this.storage.claimRun(runId, this.workerId, this.deps.settings.leaseMs, this.clock.now(), options));
    if (!claim) return false;
    return this.route(claim, explicit);
  }

  private async route(claim: Claim, explicit: boolean): Promise<boolean> {
    const definition = this.registry.forRun(claim.run);
    if (definition instanceof Error) {
      if (definition instanceof WorkflowDefinitionChangedError) await RunExecution.parkChanged(this.deps, claim, definition);
      else await this.handBack(claim);
      if (explicit) throw definition;
      this.logger.warn(`cairn: ${definition.message}`, { runId: claim.run.id });
      return false;
    }
    let instance: object;
    try {
      instance = this.resolve(definition);
    } catch (error) {
      await this.handBack(claim);
      throw error;
    }
    this.launch(definition, claim, true, instance);
    return true;
  }

  /** Gives a claimed run back untouched (pending, lease released) for any worker to take. */
  private async handBack(claim: Claim): Promise<void> {
    await this.storage.commit({ runId: claim.run.id, lease: claim.lease, run: { status: 'pending', release: true } }, this.clock.now());
  }

  private track<T>(operation: Promise<T>): Promise<T> {
    this.inflight.add(operation);
    const done = (): void => void this.inflight.delete(operation);
    operation.then(done, done);
    return operation;
  }

  private resolve(definition: WorkflowDefinition): object {
    const instance = this.resolveInstance(definition.workflowClass);
    if (instance === null || typeof instance !== 'object') {
      throw new InvalidArgumentError(`resolve(${definition.workflowClass.name}) returned ${instance === null ? 'null' : typeof instance}, not an instance.`);
    }
    return instance;
  }

  private launch(definition: WorkflowDefinition, claim: Claim, resumed: boolean, instance: object): void {
    if (this.closed) {
      // A claim that landed while the runner was closing: never execute it; hand it back.
      this.track(this.handBack(claim)).catch(() => undefined);
      return;
    }
    const execution = new RunExecution(this.deps, definition, claim, instance, resumed);
    const runId = claim.run.id;
    const outcome = execution.execute().then(
      (outcome) => outcome,
      (error: unknown) => {
        this.logger.error(`cairn: execution of run ${runId} crashed`, { error: describeThrown(error).message });
        return undefined;
      },
    );
    const done = outcome.then((outcome) => {
      this.active.delete(runId);
      const resume = this.resumeAfter.get(runId);
      this.resumeAfter.delete(runId);
      if (!outcome) return;
      this.wakeWork?.();
      this.afterExecution(claim.run, outcome);
      if (resume && outcome.kind === 'parked' && !this.active.has(runId)) this.tryResume(runId, resume);
    });
    this.active.set(runId, { execution, done, outcome });
  }

  private afterExecution(run: RunRecord, outcome: ExecutionOutcome): void {
    switch (outcome.kind) {
      case 'completed':
      case 'failed':
        this.notify(run.id);
        if (run.parentRunId) this.tryResume(run.parentRunId, { ignoreWakeAt: true });
        return;
      case 'parked':
        if (outcome.childFinished) this.tryResume(run.id, { ignoreWakeAt: true });
        else if (outcome.wakeAt !== null) this.scheduleWake(run.id, outcome.wakeAt);
        return;
      case 'lost':
      case 'released':
        return;
      case 'stopped':
        if (!this.closed) this.logger.error(`cairn: execution of run ${run.id} stopped`, { error: describeThrown(outcome.error).message });
        return;
    }
  }

  private tryResume(runId: string, options: ClaimOptions): void {
    if (this.active.has(runId)) {
      // Still executing here (a parent parking while its child finished): look again once it ends.
      this.resumeAfter.set(runId, options);
      return;
    }
    this.claimAndLaunch(runId, options, false).catch((error: unknown) => {
      if (!this.closed) this.logger.warn(`cairn: could not resume run ${runId}`, { error: describeThrown(error).message });
    });
  }

  /**
   * Resumes a parked run here when it falls due. On PostgreSQL the database's clock decides "due"
   * and may trail ours by a little: while the run is still parked, look again shortly (a worker's
   * `work()` loop would find it anyway).
   */
  private scheduleWake(runId: string, wakeAt: number): void {
    this.wakes.set(runId, wakeAt);
  }

  private async wakeUp(runId: string): Promise<void> {
    const retries = this.wakeRetries.get(runId) ?? WAKE_RETRIES;
    this.wakeRetries.delete(runId);
    if (await this.claimAndLaunch(runId, {}, false).catch(() => false)) return;
    const run = await this.storage.getRun(runId).catch(() => undefined);
    if (retries > 0 && !this.closed && run?.status === 'waiting' && run.wakeAt !== null && !this.active.has(runId)) {
      this.wakeRetries.set(runId, retries - 1);
      this.wakes.set(runId, this.clock.now() + 25);
    }
  }

  private async workLoop(concurrency: number, pollMs: number): Promise<void> {
    let wake = new AbortController();
    this.wakeWork = () => wake.abort();
    const subscription = await Promise.resolve(this.storage.listen?.(() => this.wakeWork?.())).catch((error: unknown) => {
      this.logger.warn('cairn: could not subscribe to wake-ups; polling only', { error: describeThrown(error).message });
      return undefined;
    });
    try {
      await this.poll(concurrency, pollMs, () => {
        wake = new AbortController();
        return AbortSignal.any([wake.signal, this.closing.signal]);
      });
    } finally {
      await subscription?.close();
    }
  }

  /** Claims what is due, then sleeps `pollMs` unless a wake-up (NOTIFY, a freed slot) comes first. */
  private async poll(concurrency: number, pollMs: number, nextWake: () => AbortSignal): Promise<void> {
    while (!this.closed) {
      const signal = nextWake();
      const free = concurrency - this.active.size;
      if (free > 0) {
        try {
          const claims = await this.storage.claimDue(this.registry.names(), this.workerId, this.deps.settings.leaseMs, free, this.clock.now(), [...this.active.keys()]);
          for (const claim of claims) await this.route(claim, false).catch((error: unknown) => this.logger.warn('cairn: could not start a claimed run', { error: describeThrown(error).message }));
        } catch (error) {
          if (!this.closed) this.logger.warn('cairn: claiming runs failed; retrying', { error: describeThrown(error).message });
        }
      }
      await delay(pollMs, undefined, { signal }).catch(() => undefined);
    }
  }

  // ---- handles ----------------------------------------------------------------------------------

  private handle<R>(run: RunRecord): RunHandle<R> {
    return Object.freeze({
      runId: run.id,
      trackingId: run.trackingId,
      workflow: run.workflowName,
      result: () => this.result<R>(run.id),
      status: () => this.info(run.id),
      history: async () => {
        this.assertOpen();
        return this.storage.listEvents(run.id);
      },
    });
  }

  private async result<R>(runId: string): Promise<R> {
    // Executing here: the commit that finishes the run hands its stored result over in memory.
    const local = await this.active.get(runId)?.outcome;
    if (local?.kind === 'completed') return this.serializer.deserialize(local.output) as R;
    if (local?.kind === 'failed') throw errorFromRecord(decodeError(local.error));
    for (;;) {
      if (this.closed) throw new RunnerClosedError(`The runner was closed while waiting for run ${runId}.`);
      const run = await this.storage.getRun(runId);
      if (!run) throw new RunNotFoundError(`Run ${runId} does not exist.`);
      if (run.status === 'completed') return (run.output === null ? undefined : this.serializer.deserialize(run.output)) as R;
      if (run.status === 'failed') throw errorFromRecord(decodeError(run.error ?? '{"name":"Error","message":"run failed"}'));
      await new Promise<void>((resolve) => {
        const waiters = this.waiters.get(runId) ?? new Set<() => void>();
        const wake = (): void => {
          clearTimeout(timer);
          waiters.delete(wake);
          if (waiters.size === 0) this.waiters.delete(runId);
          resolve();
        };
        const timer = setTimeout(wake, this.pollMs);
        waiters.add(wake);
        this.waiters.set(runId, waiters);
      });
    }
  }

  private async info(runId: string): Promise<RunInfo> {
    this.assertOpen();
    const run = await this.storage.getRun(runId);
    if (!run) throw new RunNotFoundError(`Run ${runId} does not exist.`);
    const steps = await this.storage.listSteps(runId);
    const definition = this.registry.forRun(run);
    const order = definition instanceof Error ? [] : definition.nodes.map((n) => n.name);
    steps.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
    return {
      runId: run.id,
      trackingId: run.trackingId,
      workflow: run.workflowName,
      version: run.workflowVersion,
      status: run.status,
      error: run.error ? errorFromRecord(decodeError(run.error)) : undefined,
      steps: steps.map((s) => ({
        name: s.name,
        status: s.status,
        attempts: s.attempts,
        error: s.error ? decodeError(s.error).message : undefined,
        childRunId: s.childRunId ?? undefined,
      })),
      wakeAt: run.wakeAt ?? undefined,
      parentRunId: run.parentRunId ?? undefined,
      createdAt: run.createdAt,
      updatedAt: run.updatedAt,
    };
  }

  private notify(runId: string): void {
    for (const wake of [...(this.waiters.get(runId) ?? [])]) wake();
  }

  private assertOpen(): void {
    if (this.closed) throw new RunnerClosedError('This runner is closed.');
  }
}
