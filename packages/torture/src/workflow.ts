/**
 * workflow — what the torture suite runs: `torture` has a first step, a parallel stage of three
 * steps, a flaky step that fails by design on its first attempt(s) for some inputs and is retried
 * with a short backoff, a subflow (`torture-child`, two steps) and a last step. Every value is a
 * pure function of the input `n`, so `expected(n)` recomputes what each step and the run must
 * have stored. The retry budgets are generous on purpose: interrupted attempts count against
 * them (decision 1), and a run must survive several kills and takeovers without running out.
 */
import 'reflect-metadata';
import { Parallel, Step, Subflow, Workflow, type StepContext } from '@cairn/core';
import { probe, type Out } from './probe';

export interface Job {
  n: number;
}

export interface ChildInput {
  n: number;
  sum: number;
}

export const PARENT = 'torture';
export const CHILD = 'torture-child';
export const PARENT_STEPS = ['seed', 'left', 'middle', 'right', 'flaky', 'child', 'finish'] as const;
export const CHILD_STEPS = ['double', 'seal'] as const;
export const SUBFLOW_NODE = 'child';

const STEP = { retries: 20, backoff: { type: 'fixed' as const, min: 10 } };
const FLAKY = { retries: 20, backoff: { type: 'fixed' as const, min: 25 } };

/** How many first attempts of `flaky` fail by design for input n: 1 when n % 3 == 0, 2 when n % 9 == 0. */
export function designedFailures(n: number): number {
  if (n % 9 === 0) return 2;
  return n % 3 === 0 ? 1 : 0;
}

/** Every step's value for input n (the subflow node's value is the child's result, `seal`). */
export function expected(n: number): Record<(typeof PARENT_STEPS)[number] | (typeof CHILD_STEPS)[number], number> {
  const seed = n * 7 + 3;
  const left = seed * 2;
  const middle = seed + 11;
  const right = (seed * seed) % 9973;
  const flaky = left + middle + right;
  const double = flaky * 2 + n;
  const seal = (double % 1_000_003) + 1;
  return { seed, left, middle, right, flaky, double, seal, child: seal, finish: seal + n };
}

export const trackingIdOf = (n: number): string => `t-${n}`;

@Workflow({ name: CHILD, version: 1 })
export class TortureChild {
  @Step(STEP) async double(ctx: StepContext<ChildInput>): Promise<Out> {
    return probe.step(ctx, () => ctx.input.sum * 2 + ctx.input.n);
  }

  @Step(STEP) async seal(ctx: StepContext<ChildInput, TortureChild>): Promise<Out> {
    return probe.step(ctx, () => (ctx.results.double.v % 1_000_003) + 1);
  }
}

@Workflow({ name: PARENT, version: 1 })
export class Torture {
  @Step(STEP) async seed(ctx: StepContext<Job>): Promise<Out> {
    return probe.step(ctx, () => ctx.input.n * 7 + 3);
  }

  @Parallel('fan') @Step(STEP) async left(ctx: StepContext<Job, Torture>): Promise<Out> {
    return probe.step(ctx, () => ctx.results.seed.v * 2);
  }

  @Parallel('fan') @Step(STEP) async middle(ctx: StepContext<Job, Torture>): Promise<Out> {
    return probe.step(ctx, () => ctx.results.seed.v + 11);
  }

  @Parallel('fan') @Step(STEP) async right(ctx: StepContext<Job, Torture>): Promise<Out> {
    return probe.step(ctx, () => (ctx.results.seed.v * ctx.results.seed.v) % 9973);
  }

  @Step(FLAKY) async flaky(ctx: StepContext<Job, Torture>): Promise<Out> {
    const { left, middle, right } = ctx.results;
    return probe.step(ctx, () => left.v + middle.v + right.v, ctx.attempt <= designedFailures(ctx.input.n));
  }

  @Subflow<Job, Torture>(() => TortureChild, { retries: 5, backoff: 10 })
  child(ctx: StepContext<Job, Torture>): ChildInput {
    return { n: ctx.input.n, sum: ctx.results.flaky.v };
  }

  @Step(STEP) async finish(ctx: StepContext<Job, Torture>): Promise<Out> {
    // A subflow node's result is the child's result (typed as the child's input: decision 4).
    const child = ctx.results.child as unknown as Out;
    return probe.step(ctx, () => child.v + ctx.input.n);
  }
}
