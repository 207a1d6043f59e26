/// <reference types="jest" />
/**
 * conformance — the storage conformance suite: every case runs against each backend from one list.
 * Storage-level cases pin the interface (idempotent start, fencing, claiming, idempotent commits);
 * runner-level cases pin DESIGN.md's execution contract on that backend. A dialect package calls
 * `storageConformance('sqlite', { createStorage })` from a jest test file.
 */
import {
  InvalidArgumentError,
  LeaseLostError,
  NonRetryableError,
  PayloadTooLargeError,
  RunnerClosedError,
  SerializationError,
  StepFailedError,
  StepTimeoutError,
  TrackingIdConflictError,
  WorkflowDefinitionChangedError,
  WorkflowDefinitionError,
} from '../errors/errors';
import { Parallel, Step, Subflow, Workflow } from '../decorators/decorators';
import type { Logger, StepContext, WorkflowClass } from '../graph/types';
import { Runner, type RunnerOptions } from '../runner/runner';
import type { CommitRequest, NewRun, StepWrite } from '../storage/records';
import type { Storage } from '../storage/storage';
import { ManualClock } from '../time/clock';
import { Conditional, Fanout, Ledger, Parent, ParksLong, Retrying, RetryIf, ThreeSteps, TimesOut, Values } from './workflows';

export interface ConformanceOptions {
  /**
   * A fresh storage on an empty database (the suite migrates it). Called once per test.
   * `manualClock`: the case moves time by hand, so leases and due times must be judged by the
   * runner's clock, not the database's.
   */
  createStorage(context: { manualClock: boolean }): Storage | Promise<Storage>;
}

/** A logger that keeps what it is told, so tests stay quiet and can assert on warnings. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return { lines, debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
}

const never = (): Promise<never> => new Promise<never>(() => undefined);

export function storageConformance(name: string, options: ConformanceOptions): void {
  describe(`storage conformance: ${name}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    let counter = 0;
    const tid = (label: string): string => `${label}-${process.pid}-${++counter}`;

    afterEach(async () => {
      while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
    });

    async function storage(manualClock = false): Promise<Storage> {
      const created = await options.createStorage({ manualClock });
      await created.migrate();
      return created;
    }

    async function setup(extra: Partial<RunnerOptions> = {}, shared?: Storage) {
      const store = shared ?? (await storage(extra.clock !== undefined));
      const ledger = new Ledger();
      const logger = memoryLogger();
      const runner = new Runner({
        storage: store,
        resolve: (cls: WorkflowClass) => new (cls as unknown as new (l: Ledger) => object)(ledger),
        logger,
        ...extra,
      });
      cleanups.push(() => runner.close({ timeoutMs: 0 }));
      return { storage: store, ledger, runner, logger };
    }

    async function snapshot(store: Storage, workflow: string, trackingId: string) {
      const run = await store.findRun(workflow, trackingId);
      if (!run) return { run };
      return { run, steps: await store.listSteps(run.id), events: await store.listEvents(run.id) };
    }

    // ---- storage interface ------------------------------------------------------------------

    describe('storage interface', () => {
      const newRun = (trackingId: string): NewRun => ({
        id: `run-${trackingId}`,
        workflowName: 'raw',
        workflowVersion: 1,
        graphHash: 'h',
        trackingId,
        input: '[1]',
        parentRunId: null,
        parentNode: null,
      });
      const row = (name: string, status: StepWrite['status'], output: string | null = null): StepWrite => ({
        name,
        status,
        attempts: 1,
        output,
        error: null,
        childRunId: null,
        wakeAt: null,
        startedAt: 1,
        finishedAt: status === 'completed' ? 2 : null,
      });

      it('migrate is idempotent', async () => {
        const store = await storage(true);
        cleanups.push(() => store.close());
        await store.migrate();
        await store.migrate();
        expect(await store.findRun('raw', 'nothing')).toBeUndefined();
      });

      it('createRun inserts once per (workflow, trackingId) and claims the new run', async () => {
        const store = await storage(true);
        cleanups.push(() => store.close());
        const first = await store.createRun({ run: newRun('a'), owner: 'w1', leaseMs: 1000, steps: [row('s', 'running')], events: [{ seq: 1, type: 'run_started', node: null, attempt: null, detail: null }] }, 100);
        expect(first.created).toBe(true);
        if (!first.created) return;
        expect(first.claim.lease).toEqual({ owner: 'w1', epoch: 1 });
        expect(first.claim.run.leaseExpiresAt).toBe(1100);
        const again = await store.createRun({ run: { ...newRun('a'), id: 'other-id', input: '[2]' }, owner: 'w2', leaseMs: 1000, steps: [], events: [] }, 200);
        expect(again.created).toBe(false);
        if (again.created) return;
        expect(again.run.id).toBe('run-a');
        expect(again.run.input).toBe('[1]');
        const otherWorkflow = await store.createRun({ run: { ...newRun('a'), id: 'run-a2', workflowName: 'raw2' }, owner: 'w1', leaseMs: 1000, steps: [], events: [] }, 200);
        expect(otherWorkflow.created).toBe(true);
        expect(await store.listSteps('run-a')).toHaveLength(1);
      });

      it('a retried createRun whose first commit landed finds its own run', async () => {
        const store = await storage(true);
        cleanups.push(() => store.close());
        const request = { run: newRun('retry'), owner: 'w1', leaseMs: 1000, steps: [row('s', 'running')], events: [] };
        await store.createRun(request, 100);
        const retried = await store.createRun(request, 100);
        expect(retried.created).toBe(true);
        expect(await store.listSteps('run-retry')).toHaveLength(1);
      });

      it('commits are fenced on the lease: a stale lease writes nothing', async () => {
        const store = await storage(true);
        cleanups.push(() => store.close());
        await store.createRun({ run: newRun('fence'), owner: 'w1', leaseMs: 1000, steps: [row('s', 'running')], events: [] }, 100);
        const stale: CommitRequest = { runId: 'run-fence', lease: { owner: 'w1', epoch: 2 }, steps: [row('s', 'completed', '"x"')], events: [{ seq: 1, type: 'step_completed', node: 's', attempt: 1, detail: null }] };
        await expect(store.commit(stale, 150)).rejects.toBeInstanceOf(LeaseLostError);
        await expect(store.commit({ ...stale, lease: { owner: 'w2', epoch: 1 } }, 150)).rejects.toBeInstanceOf(LeaseLostError);
        expect((await store.listSteps('run-fence'))[0]!.status).toBe('running');
        expect(await store.listEvents('run-fence')).toHaveLength(0);

        // Another worker takes the expired lease; the first worker's commit is now refused.
        expect(await store.claimRun('run-fence', 'w2', 1000, 500)).toBeUndefined();
        const claim = await store.claimRun('run-fence', 'w2', 1000, 1100);
        expect(claim?.lease).toEqual({ owner: 'w2', epoch: 2 });
        await expect(store.commit({ ...stale, lease: { owner: 'w1', epoch: 1 } }, 1200)).rejects.toBeInstanceOf(LeaseLostError);
        expect(await store.renewLease('run-fence', { owner: 'w1', epoch: 1 }, 1000, 1200)).toBe(false);
        expect(await store.renewLease('run-fence', { owner: 'w2', epoch: 2 }, 1000, 1200)).toBe(true);
      });

      it('a repeated commit (answer lost) never writes a completion twice', async () => {
        const store = await storage(true);
        cleanups.push(() => store.close());
        await store.createRun({ run: newRun('twice'), owner: 'w1', leaseMs: 1000, steps: [row('s', 'running')], events: [] }, 100);
        const lease = { owner: 'w1', epoch: 1 };
        const complete: CommitRequest = { runId: 'run-twice', lease, steps: [row('s', 'completed', '"first"')], events: [{ seq: 1, type: 'step_completed', node: 's', attempt: 1, detail: null }] };
        await store.commit(complete, 150);
        await store.commit({ ...complete, steps: [row('s', 'completed', '"second"')] }, 160);
        await store.commit({ ...complete, steps: [row('s', 'running')] }, 170);
        const steps = await store.listSteps('run-twice');
        expect(steps).toHaveLength(1);
        expect(steps[0]).toMatchObject({ status: 'completed', output: '"first"', finishedAt: 2 });
        expect(await store.listEvents('run-twice')).toHaveLength(1);
        // A release that landed is recognised when retried.
        const finish: CommitRequest = { runId: 'run-twice', lease, run: { status: 'completed', output: '"done"', release: true } };
        await store.commit(finish, 180);
        await expect(store.commit(finish, 190)).rejects.toBeInstanceOf(LeaseLostError);
        expect(await store.getRun('run-twice')).toMatchObject({ status: 'completed', output: '"done"', leaseOwner: null });
      });

      it('claimRun respects status, due time and live leases', async () => {
        const store = await storage(true);
        cleanups.push(() => store.close());
        await store.createRun({ run: newRun('claim'), owner: 'w1', leaseMs: 1000, steps: [], events: [] }, 100);
        const lease = { owner: 'w1', epoch: 1 };
        await store.commit({ runId: 'run-claim', lease, run: { status: 'waiting', wakeAt: 5000, release: true } }, 200);
        expect(await store.claimRun('run-claim', 'w2', 1000, 4999)).toBeUndefined();
        const early = await store.claimRun('run-claim', 'w2', 1000, 300, { ignoreWakeAt: true });
        expect(early?.run).toMatchObject({ status: 'running', leaseOwner: 'w2', leaseEpoch: 2, wakeAt: null });
        // Not even its own holder can claim a live lease again: two claim paths in one process never both win.
        expect(await store.claimRun('run-claim', 'w2', 1000, 400, { ignoreWakeAt: true, includeFailed: true })).toBeUndefined();
        await store.commit({ runId: 'run-claim', lease: early!.lease, run: { status: 'failed', error: '{}', release: true } }, 400);
        expect(await store.claimRun('run-claim', 'w3', 1000, 500)).toBeUndefined();
        expect((await store.claimRun('run-claim', 'w3', 1000, 500, { includeFailed: true }))?.lease).toEqual({ owner: 'w3', epoch: 3 });
        await store.commit({ runId: 'run-claim', lease: { owner: 'w3', epoch: 3 }, run: { status: 'completed', release: true } }, 600);
        expect(await store.claimRun('run-claim', 'w4', 1000, 10_000, { includeFailed: true, ignoreWakeAt: true })).toBeUndefined();
      });

      it('parking to wait for a child that already finished makes the run due at once (the wake-up is never lost)', async () => {
        const store = await storage(true);
        cleanups.push(() => store.close());
        await store.createRun({ run: newRun('parent'), owner: 'w1', leaseMs: 1000, steps: [], events: [] }, 100);
        await store.createRun({ run: { ...newRun('child'), parentRunId: 'run-parent', parentNode: 'sub' }, owner: 'w1', leaseMs: 1000, steps: [], events: [] }, 100);
        // The child finishes while the parent is still running: its wake finds no waiting parent.
        await store.commit({ runId: 'run-child', lease: { owner: 'w1', epoch: 1 }, run: { status: 'completed', output: '[1]', release: true }, wakeParent: 'run-parent' }, 150);
        expect((await store.getRun('run-parent'))!.wakeAt).toBeNull();
        await store.commit({ runId: 'run-parent', lease: { owner: 'w1', epoch: 1 }, run: { status: 'waiting', wakeAt: null, release: true }, wakeIfFinished: ['run-child'] }, 200);
        expect(await store.getRun('run-parent')).toMatchObject({ status: 'waiting', wakeAt: 200 });
        expect((await store.claimDue(['raw'], 'w2', 1000, 10, 200)).map((c) => c.run.id)).toEqual(['run-parent']);
      });

      it('claimDue takes pending, due and abandoned runs of known workflows, up to the limit', async () => {
        const store = await storage(true);
        cleanups.push(() => store.close());
        for (const t of ['pending', 'due', 'future', 'abandoned', 'live', 'excluded']) {
          await store.createRun({ run: newRun(t), owner: 'w1', leaseMs: 1000, steps: [], events: [] }, 100);
        }
        const lease = { owner: 'w1', epoch: 1 };
        await store.commit({ runId: 'run-pending', lease, run: { status: 'pending', release: true } }, 100);
        await store.commit({ runId: 'run-due', lease, run: { status: 'waiting', wakeAt: 1000, release: true } }, 100);
        await store.commit({ runId: 'run-future', lease, run: { status: 'waiting', wakeAt: 9000, release: true } }, 100);
        await store.commit({ runId: 'run-excluded', lease, run: { status: 'pending', release: true } }, 100);
        await store.renewLease('run-live', lease, 5000, 100);
        expect(await store.claimDue(['unknown'], 'w2', 1000, 10, 2000)).toEqual([]);
        const one = await store.claimDue(['raw'], 'w2', 1000, 1, 2000, ['run-excluded']);
        expect(one).toHaveLength(1);
        const rest = await store.claimDue(['raw'], 'w2', 1000, 10, 2000, ['run-excluded']);
        const claimed = [...one, ...rest].map((c) => c.run.id).sort();
        expect(claimed).toEqual(['run-abandoned', 'run-due', 'run-pending']);
        for (const c of [...one, ...rest]) expect(c.run).toMatchObject({ status: 'running', leaseOwner: 'w2' });
      });
    });

    // ---- execution contract -------------------------------------------------------------------

    describe('execution contract', () => {
      it('runs a workflow and a 3-step no-op run costs 4 commits (start + one per step)', async () => {
        const store = await storage();
        const calls: string[] = [];
        const counting = new Proxy(store, {
          get(target, key, receiver) {
            const value = Reflect.get(target, key, receiver) as unknown;
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              if (['createRun', 'commit', 'claimRun', 'claimDue', 'renewLease'].includes(String(key))) calls.push(String(key));
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        });
        const { runner } = await setup({}, counting);
        const result = await runner.run(ThreeSteps, { n: 1 }, tid('three'));
        expect(result).toEqual({ step: 3 });
        expect(calls).toEqual(['createRun', 'commit', 'commit', 'commit']);
      });

      it('idempotent start: 50 concurrent starts from two runners create one run; each step runs once', async () => {
        const { runner, storage: store, ledger } = await setup();
        const { runner: other } = await setup({}, store);
        const trackingId = tid('concurrent');
        const handles = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? runner : other).start(ThreeSteps, { n: 1 }, trackingId)));
        expect(new Set(handles.map((h) => h.runId)).size).toBe(1);
        const results = await Promise.all(handles.map((h) => h.result()));
        expect(results.every((r) => JSON.stringify(r) === JSON.stringify({ step: 3 }))).toBe(true);
        expect(ledger.calls.filter((c) => c === 'one')).toHaveLength(1);
        expect(ledger.calls).toEqual(['one', 'two', 'three']);
      });

      it('a different input under the same tracking id raises TrackingIdConflictError and changes nothing', async () => {
        const { runner, storage: store } = await setup();
        const trackingId = tid('conflict');
        await runner.run(ThreeSteps, { a: 1, b: [1, 2] }, trackingId);
        const before = await snapshot(store, 'conformance-three', trackingId);
        await expect(runner.start(ThreeSteps, { a: 2, b: [1, 2] }, trackingId)).rejects.toBeInstanceOf(TrackingIdConflictError);
        expect(await snapshot(store, 'conformance-three', trackingId)).toEqual(before);
        // Same input built in another key order is the same input.
        await expect(runner.start(ThreeSteps, { b: [1, 2], a: 1 }, trackingId)).resolves.toMatchObject({ runId: before.run!.id });
      });

      it('starting a completed run returns the stored result without executing any step', async () => {
        const { runner, storage: store, ledger } = await setup();
        const trackingId = tid('done');
        await runner.run(ThreeSteps, { n: 1 }, trackingId);
        const { runner: later, ledger: laterLedger } = await setup({}, store);
        const again = await later.start(ThreeSteps, { n: 1 }, trackingId);
        expect(await again.result()).toEqual({ step: 3 });
        expect(laterLedger.calls).toEqual([]);
        expect(ledger.calls).toEqual(['one', 'two', 'three']);
      });

      it('retries a failing step with backoff and persists every attempt', async () => {
        const { runner, ledger } = await setup();
        ledger.behaviour.set('flaky', (ctx) => {
          if (ctx.attempt < 3) throw new Error(`flake ${ctx.attempt}`);
          return `ok after ${ctx.attempt}`;
        });
        const handle = await runner.start(Retrying, {}, tid('retry'));
        expect(await handle.result()).toBe('ok after 3');
        expect((await handle.status()).steps).toEqual([expect.objectContaining({ name: 'flaky', status: 'completed', attempts: 3 })]);
        const history = await handle.history();
        expect(history.filter((e) => e.type === 'step_retrying').map((e) => e.attempt)).toEqual([1, 2]);
        expect(history.filter((e) => e.type === 'step_started').map((e) => e.attempt)).toEqual([1, 2, 3]);
      });

      it('fails with StepFailedError once retries are spent', async () => {
        const { runner, ledger } = await setup();
        ledger.behaviour.set('flaky', () => {
          throw new Error('always');
        });
        const handle = await runner.start(Retrying, {}, tid('spent'));
        const error = await handle.result().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StepFailedError);
        expect(error).toMatchObject({ step: 'flaky', attempts: 4, code: 'STEP_FAILED' });
        expect((error as Error).cause).toMatchObject({ message: 'always' });
        expect(ledger.count('flaky')).toBe(4);
      });

      it('NonRetryableError and a rejecting retryIf fail at once', async () => {
        const { runner, ledger } = await setup();
        ledger.behaviour.set('flaky', () => {
          throw new NonRetryableError('card declined');
        });
        const error = await runner.run(Retrying, {}, tid('nonretry')).catch((e: unknown) => e);
        expect(error).toMatchObject({ attempts: 1 });
        expect((error as Error).cause).toBeInstanceOf(NonRetryableError);
        expect(ledger.count('flaky')).toBe(1);

        ledger.behaviour.set('picky', (ctx) => {
          throw ctx.attempt === 1 ? new Error('transient') : new RangeError('fatal');
        });
        const picky = await runner.run(RetryIf, {}, tid('retryif')).catch((e: unknown) => e);
        expect(picky).toMatchObject({ step: 'picky', attempts: 2 });
        expect(ledger.count('picky')).toBe(2);
      });

      it('a timeout aborts ctx.signal, abandons a step that ignores it, and counts as a failed attempt', async () => {
        const { runner, ledger } = await setup();
        const signals: AbortSignal[] = [];
        ledger.behaviour.set('slow', (ctx) => {
          signals.push(ctx.signal);
          return never();
        });
        const error = await runner.run(TimesOut, {}, tid('timeout')).catch((e: unknown) => e);
        expect(error).toMatchObject({ step: 'slow', attempts: 2 });
        expect((error as Error).cause).toBeInstanceOf(StepTimeoutError);
        expect(signals).toHaveLength(2);
        for (const signal of signals) {
          expect(signal.aborted).toBe(true);
          expect(signal.reason).toBeInstanceOf(StepTimeoutError);
        }
      });

      it('a long backoff parks the run durably and frees the worker; a 2-day wait is tested with a manual clock', async () => {
        const clock = new ManualClock(1_000_000);
        const { runner, ledger, storage: store } = await setup({ clock });
        ledger.behaviour.set('later', (ctx) => {
          if (ctx.attempt === 1) throw new Error('not yet');
          return 'done';
        });
        const handle = await runner.start(ParksLong, {}, tid('park'));
        let run = await store.getRun(handle.runId);
        for (let i = 0; i < 200 && run?.status !== 'waiting'; i++) {
          await new Promise((r) => setTimeout(r, 5));
          run = await store.getRun(handle.runId);
        }
        expect(run).toMatchObject({ status: 'waiting', wakeAt: 1_000_000 + 2 * 86_400_000, leaseOwner: null });
        expect((await handle.status()).steps[0]).toMatchObject({ status: 'retrying', attempts: 1 });
        runner.work({ pollMs: 5 });
        clock.advance(2 * 86_400_000 - 1);
        await new Promise((r) => setTimeout(r, 50));
        expect(ledger.count('later')).toBe(1);
        clock.advance(1);
        expect(await handle.result()).toBe('done');
        expect(ledger.count('later')).toBe(2);
      });

      it('conditions are evaluated once; a false one is stored as skipped with its reason and never re-evaluated', async () => {
        const { runner, ledger } = await setup();
        Conditional.evaluations = 0;
        ledger.behaviour.set('total', () => {
          throw new NonRetryableError('first try fails');
        });
        const trackingId = tid('cond');
        await expect(runner.run(Conditional, { discount: false }, trackingId)).rejects.toBeInstanceOf(StepFailedError);
        expect(Conditional.evaluations).toBe(1);
        ledger.behaviour.delete('total');
        const handle = await runner.resume(Conditional, trackingId);
        expect(await handle.result()).toBe(10);
        expect(Conditional.evaluations).toBe(1);
        expect(ledger.count('discount')).toBe(0);
        expect(ledger.count('first')).toBe(1);
        const steps = (await handle.status()).steps;
        expect(steps.find((s) => s.name === 'discount')).toMatchObject({ status: 'skipped', error: 'condition (when) returned false' });
        expect(await runner.run(Conditional, { discount: true }, tid('cond-on'))).toBe(5);
      });

      it('a condition that throws fails the run; on resume the condition is evaluated again', async () => {
        const { runner, ledger } = await setup();
        const state = { mode: 'throw' as 'throw' | 'false' };
        @Workflow({ name: 'conformance-condition-throws' })
        class Guarded {
          constructor(private readonly l: Ledger) {}
          @Step({ retries: 0 }) async a(ctx: StepContext) {
            return this.l.record('a', ctx, 1);
          }
          @Step({
            retries: 0,
            when: () => {
              if (state.mode === 'throw') throw new Error('flag service down');
              return false;
            },
          })
          async b(ctx: StepContext) {
            return this.l.record('b', ctx, 2);
          }
        }
        const trackingId = tid('cond-throws');
        const error = await runner.run(Guarded, {}, trackingId).catch((e: unknown) => e);
        expect(error).toMatchObject({ step: 'b', attempts: 0 });
        expect(((error as Error).cause as Error).message).toContain('flag service down');
        state.mode = 'false';
        const handle = await runner.resume(Guarded, trackingId);
        expect(await handle.result()).toBeUndefined();
        expect((await handle.status()).steps.map((s) => [s.name, s.status])).toEqual([
          ['a', 'completed'],
          ['b', 'skipped'],
        ]);
        expect(ledger.calls).toEqual(['a']);
      });

      it('a throwing onEvent listener does not disturb runs', async () => {
        let seen = 0;
        const { runner, logger } = await setup({
          onEvent: () => {
            seen += 1;
            throw new Error('listener bug');
          },
        });
        expect(await runner.run(ThreeSteps, {}, tid('listener'))).toEqual({ step: 3 });
        expect(seen).toBeGreaterThanOrEqual(5);
        expect(logger.lines.some((l) => l.includes('onEvent listener threw'))).toBe(true);
      });

      it('a parked run waking up does not re-run a sibling that failed for good', async () => {
        const { runner, ledger } = await setup({ parkAfterMs: 10 });
        @Workflow({ name: 'conformance-park-sibling' })
        class Siblings {
          constructor(private readonly l: Ledger) {}
          @Parallel('p') @Step({ retries: 0 }) async doomed(ctx: StepContext) {
            this.l.record('doomed', ctx);
            throw new NonRetryableError('no');
          }
          @Parallel('p') @Step({ retries: 2, backoff: 40 }) async patient(ctx: StepContext) {
            this.l.record('patient', ctx);
            if (ctx.attempt < 3) throw new Error(`not yet ${ctx.attempt}`);
            return 'ok';
          }
        }
        const error = await runner.run(Siblings, {}, tid('siblings')).catch((e: unknown) => e);
        expect(error).toMatchObject({ step: 'doomed' });
        expect(ledger.count('doomed')).toBe(1);
        expect(ledger.count('patient')).toBe(3);
      });

      it('a repeated start evaluates no condition again', async () => {
        const { runner } = await setup();
        let evaluations = 0;
        @Workflow({ name: 'conformance-first-condition' })
        class FirstCondition {
          @Step({
            when: () => {
              evaluations += 1;
              return true;
            },
          })
          async only() {
            return 'done';
          }
        }
        const trackingId = tid('first-cond');
        await runner.run(FirstCondition, {}, trackingId);
        await runner.run(FirstCondition, {}, trackingId);
        await runner.start(FirstCondition, {}, trackingId);
        expect(evaluations).toBe(1);
      });

      it('a parallel final stage returns a record of its results, held to the payload limit', async () => {
        const { runner } = await setup({ maxPayloadBytes: 200 });
        @Workflow({ name: 'conformance-parallel-result' })
        class Pair {
          @Parallel('end') @Step() async left(ctx: StepContext<{ size: number }>) {
            return 'l'.repeat(ctx.input.size);
          }
          @Parallel('end') @Step() async right(ctx: StepContext<{ size: number }>) {
            return 'r'.repeat(ctx.input.size);
          }
        }
        expect(await runner.run(Pair, { size: 2 }, tid('pair-small'))).toEqual({ left: 'll', right: 'rr' });
        const error = await runner.run(Pair, { size: 150 }, tid('pair-large')).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(PayloadTooLargeError);
      });

      it('subflows may form cycles (a workflow that starts itself) without breaking registration', async () => {
        const { runner } = await setup();
        @Workflow({ name: 'conformance-countdown' })
        class Countdown {
          @Step() async tick(ctx: StepContext<{ n: number }>) {
            return ctx.input.n;
          }
          @Subflow(() => Countdown, { when: (ctx) => (ctx.input as { n: number }).n > 0 }) next(ctx: StepContext<{ n: number }>) {
            return { n: ctx.input.n - 1 };
          }
        }
        await expect(runner.run(Countdown, { n: 2 }, tid('countdown'))).resolves.toBeUndefined();
      });

      it('a claim that lands while the runner closes is handed back, never executed', async () => {
        const store = await storage();
        let release: () => void = () => undefined;
        cleanups.push(() => store.close());
        const slowStart = new Proxy(store, {
          get(target, key, receiver) {
            const value = Reflect.get(target, key, receiver) as unknown;
            if (key === 'close') return async () => undefined; // the test reads the tables afterwards
            if (key === 'createRun') {
              return async (...args: unknown[]) => {
                const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
                await new Promise<void>((r) => (release = r));
                return result;
              };
            }
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
        const ledger = new Ledger();
        const runner = new Runner({ storage: slowStart, resolve: (cls) => new (cls as unknown as new (l: Ledger) => object)(ledger), logger: memoryLogger() });
        const trackingId = tid('late-claim');
        const started = runner.start(ThreeSteps, {}, trackingId).catch((e: unknown) => e);
        await new Promise((r) => setTimeout(r, 50));
        const closing = runner.close({ timeoutMs: 0 });
        release();
        await started;
        await closing;
        expect(ledger.calls).toEqual([]);
        const run = await store.findRun('conformance-three', trackingId);
        expect(run).toMatchObject({ status: 'pending', leaseOwner: null });
      });

      it('after close(), handles reject with RunnerClosedError; whole-millisecond times accept fractional inputs', async () => {
        const clock = new ManualClock(1_000_000.75);
        const { runner } = await setup({ clock, leaseMs: 1000.4 });
        const handle = await runner.start(ThreeSteps, {}, tid('closed'));
        expect(await handle.result()).toEqual({ step: 3 });
        await runner.close();
        await expect(handle.status()).rejects.toBeInstanceOf(RunnerClosedError);
        await expect(handle.history()).rejects.toBeInstanceOf(RunnerClosedError);
        await expect(handle.result()).rejects.toBeInstanceOf(RunnerClosedError);
      });

      it('parallel stage: a failed sibling fails the run, the others finish and are kept; resume re-runs only what failed', async () => {
        const { runner, ledger } = await setup();
        ledger.behaviour.set('right', () => {
          throw new NonRetryableError('right broke');
        });
        ledger.behaviour.set('slowSibling', () => new Promise((r) => setTimeout(() => r('S'), 50)));
        const trackingId = tid('fan');
        const error = await runner.run(Fanout, {}, trackingId).catch((e: unknown) => e);
        expect(error).toMatchObject({ step: 'right' });
        const failed = await (await runner.get(Fanout, trackingId))!.status();
        expect(failed.status).toBe('failed');
        expect(failed.steps.map((s) => [s.name, s.status])).toEqual([
          ['before', 'completed'],
          ['left', 'completed'],
          ['right', 'failed'],
          ['slowSibling', 'completed'],
        ]);
        ledger.behaviour.delete('right');
        const resumed = await runner.resume(Fanout, trackingId);
        expect(await resumed.result()).toBe('LRS');
        expect(['before', 'left', 'right', 'slowSibling', 'after'].map((s) => ledger.count(s))).toEqual([1, 1, 2, 1, 1]);
      });

      it('subflow: the child runs as its own run under <parent>/<node>, and its result becomes the node result', async () => {
        const { runner, storage: store } = await setup();
        const trackingId = tid('parent');
        const handle = await runner.start(Parent, { n: 1 }, trackingId);
        expect(await handle.result()).toEqual({ doubled: 4 });
        const child = await store.findRun('conformance-child', `${trackingId}/child`);
        expect(child).toMatchObject({ status: 'completed', parentRunId: handle.runId, parentNode: 'child' });
        expect((await handle.status()).steps.find((s) => s.name === 'child')).toMatchObject({ status: 'completed', childRunId: child!.id });
      });

      it('subflow: a failed child fails the parent node after the node retries it by resuming the child', async () => {
        const { runner, ledger } = await setup();
        ledger.behaviour.set('child.work', () => {
          throw new Error('child broke');
        });
        const error = await runner.run(Parent, { n: 1 }, tid('parent-fail')).catch((e: unknown) => e);
        expect(error).toMatchObject({ step: 'child', attempts: 2 });
        expect(ledger.count('child.work')).toBe(2);
        expect(ledger.count('finish')).toBe(0);
      });

      it('outputs round-trip Date, BigInt, Map, Set, undefined and NaN', async () => {
        const { runner } = await setup();
        expect(await runner.run(Values, {}, tid('values'))).toEqual({ isDate: true, year: 1970, big: 2n ** 70n + 1n, hasTwo: true, nothingIsUndefined: true, nanIsNaN: true });
      });

      it('a non-serializable output fails the step with SerializationError naming the step and the path; nothing half-written', async () => {
        const { runner, ledger } = await setup();
        ledger.behaviour.set('produce', () => ({ ok: 1, nested: { fn: () => 1 } }));
        const handle = await runner.start(Values, {}, tid('unserializable'));
        const error = await handle.result().catch((e: unknown) => e);
        expect(error).toMatchObject({ step: 'produce', attempts: 1 });
        const cause = (error as Error).cause as SerializationError;
        expect(cause).toBeInstanceOf(SerializationError);
        expect(cause.path).toBe('.nested.fn');
        expect(cause.message).toContain('output of step produce');
        const steps = (await handle.status()).steps;
        expect(steps).toEqual([expect.objectContaining({ name: 'produce', status: 'failed' })]);
        expect(ledger.count('consume')).toBe(0);
      });

      it('an output over the payload limit is rejected before anything is written', async () => {
        const { runner, ledger, storage: store } = await setup({ maxPayloadBytes: 1000 });
        ledger.behaviour.set('one', () => 'x'.repeat(5000));
        const handle = await runner.start(ThreeSteps, {}, tid('large'));
        const error = await handle.result().catch((e: unknown) => e);
        expect((error as Error).cause).toBeInstanceOf(PayloadTooLargeError);
        const [row] = await store.listSteps(handle.runId);
        expect(row).toMatchObject({ name: 'one', status: 'failed', output: null });
        await expect(runner.start(ThreeSteps, 'y'.repeat(2000), tid('large-input'))).rejects.toBeInstanceOf(PayloadTooLargeError);
      });

      it('non-Error throws are recorded with a readable message and fail the same way on every replay', async () => {
        const { runner, ledger, storage: store } = await setup();
        const cases: [unknown, string][] = [
          ['plain string', 'plain string'],
          [null, 'null was thrown'],
          [undefined, 'undefined was thrown'],
          [{ get message(): string { throw new Error('getter'); } }, 'object was thrown (no readable message)'],
        ];
        for (const [thrown, message] of cases) {
          ledger.behaviour.set('one', () => {
            throw thrown;
          });
          const trackingId = tid('throw');
          const first = await runner.run(ThreeSteps, {}, trackingId).catch((e: unknown) => e);
          expect(first).toBeInstanceOf(StepFailedError);
          expect(((first as Error).cause as Error).message).toBe(message);
          const { runner: reader } = await setup({}, store);
          const replay = await (await reader.get(ThreeSteps, trackingId))!.result().catch((e: unknown) => e);
          expect(replay).toBeInstanceOf(StepFailedError);
          expect((replay as Error).message).toBe((first as Error).message);
        }
      });

      it('bad input raises typed errors and leaves the database unchanged', async () => {
        const { runner, storage: store } = await setup();
        class NotAWorkflow {}
        const id = tid('bad');
        await expect(runner.start(ThreeSteps, { f: () => 1 }, id)).rejects.toBeInstanceOf(SerializationError);
        await expect(runner.start(ThreeSteps, {}, '')).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(runner.start(ThreeSteps, {}, 42 as unknown as string)).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(runner.start(ThreeSteps, {}, 'a\u0000b')).rejects.toBeInstanceOf(InvalidArgumentError);
        await expect(runner.start(NotAWorkflow, {}, id)).rejects.toBeInstanceOf(WorkflowDefinitionError);
        expect(await store.findRun('conformance-three', id)).toBeUndefined();
        expect(await store.findRun('conformance-three', '')).toBeUndefined();
        expect(() => new Runner({ storage: store, leaseMs: 'soon' })).toThrow(InvalidArgumentError);
      });

      it('definition drift: a changed graph is refused with WorkflowDefinitionChangedError; the run stays parked until its version is registered', async () => {
        const behaviour = { fail: true };
        @Workflow({ name: 'conformance-drift', version: 1 })
        class DriftV1 {
          @Step({ retries: 0 }) async a() {
            if (behaviour.fail) throw new Error('fail first');
            return 'a1';
          }
          @Step({ retries: 0 }) async b(ctx: StepContext<unknown, DriftV1>) {
            return `${ctx.results.a}-b1`;
          }
        }
        @Workflow({ name: 'conformance-drift', version: 1 })
        class DriftEdited {
          @Step({ retries: 0 }) async a() {
            return 'a?';
          }
          @Step({ retries: 0 }) async renamed() {
            return 'no';
          }
        }
        @Workflow({ name: 'conformance-drift', version: 2 })
        class DriftV2 {
          @Step({ retries: 0 }) async only() {
            return 'v2';
          }
        }
        const { runner, storage: store } = await setup({ resolve: (cls) => new (cls as new () => object)() });
        const trackingId = tid('drift');
        await expect(runner.run(DriftV1, {}, trackingId)).rejects.toBeInstanceOf(StepFailedError);
        behaviour.fail = false;

        const { runner: edited } = await setup({ resolve: (cls) => new (cls as new () => object)() }, store);
        await expect(edited.resume(DriftEdited, trackingId)).rejects.toBeInstanceOf(WorkflowDefinitionChangedError);
        const parked = await (await edited.get(DriftEdited, trackingId))!.status();
        expect(parked.status).toBe('waiting');
        expect(parked.error).toBeInstanceOf(WorkflowDefinitionChangedError);
        await expect(edited.start(DriftEdited, {}, trackingId)).rejects.toBeInstanceOf(WorkflowDefinitionChangedError);

        const { runner: deployed } = await setup({ resolve: (cls) => new (cls as new () => object)(), workflows: [DriftV1, DriftV2] }, store);
        const resumed = await deployed.resume(DriftV2, trackingId);
        expect(await resumed.result()).toBe('a1-b1');
        expect(await deployed.run(DriftV2, {}, tid('drift-new'))).toBe('v2');
      });
    });
  });
}
