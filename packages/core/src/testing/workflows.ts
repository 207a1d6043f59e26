/**
 * testing workflows — small workflows the conformance suite runs on every storage. Each records
 * what it executes in a `Ledger` handed in through the runner's `resolve`, so a test can prove
 * what ran and how often.
 */
import { Parallel, Step, Subflow, Workflow } from '../decorators/decorators';
import type { StepContext } from '../graph/types';

export class Ledger {
  readonly calls: string[] = [];
  /** Per-step behaviour overrides: throw, hang, return a value. */
  readonly behaviour = new Map<string, (ctx: StepContext) => unknown>();

  /** Records the call; returns the behaviour's value if one is set, else `fallback`. */
  record<T = unknown>(step: string, ctx: StepContext, fallback?: T): T {
    this.calls.push(step);
    const behaviour = this.behaviour.get(step);
    return (behaviour ? behaviour(ctx) : fallback) as T;
  }

  count(step: string): number {
    return this.calls.filter((c) => c === step).length;
  }
}

abstract class Recorded {
  constructor(protected readonly ledger: Ledger) {}
}

@Workflow({ name: 'conformance-three' })
export class ThreeSteps extends Recorded {
  @Step({ retries: 0 }) async one(ctx: StepContext) {
    return this.ledger.record('one', ctx, { step: 1 });
  }
  @Step({ retries: 0 }) async two(ctx: StepContext) {
    return this.ledger.record('two', ctx, { step: 2 });
  }
  @Step({ retries: 0 }) async three(ctx: StepContext) {
    return this.ledger.record('three', ctx, { step: 3 });
  }
}

@Workflow({ name: 'conformance-retry' })
export class Retrying extends Recorded {
  @Step({ retries: 3, backoff: { type: 'fixed', min: 5 } }) async flaky(ctx: StepContext) {
    return this.ledger.record('flaky', ctx, `ok after ${ctx.attempt}`);
  }
}

@Workflow({ name: 'conformance-retry-if' })
export class RetryIf extends Recorded {
  @Step({ retries: 5, backoff: 1, retryIf: (error) => !(error instanceof RangeError) }) async picky(ctx: StepContext) {
    return this.ledger.record('picky', ctx);
  }
}

@Workflow({ name: 'conformance-timeout' })
export class TimesOut extends Recorded {
  @Step({ retries: 1, backoff: 1, timeout: 30 }) async slow(ctx: StepContext) {
    return this.ledger.record('slow', ctx);
  }
}

@Workflow({ name: 'conformance-park' })
export class ParksLong extends Recorded {
  @Step({ retries: 2, backoff: { type: 'fixed', min: '2d' } }) async later(ctx: StepContext) {
    return this.ledger.record('later', ctx, 'done');
  }
}

interface Flags {
  discount: boolean;
}

@Workflow({ name: 'conformance-conditions' })
export class Conditional extends Recorded {
  static evaluations = 0;
  @Step({ retries: 0 }) async first(ctx: StepContext<Flags>) {
    return this.ledger.record('first', ctx, 10);
  }
  @Step<Flags, Conditional>({
    when: (ctx) => {
      Conditional.evaluations += 1;
      return ctx.input.discount;
    },
  })
  async discount(ctx: StepContext<Flags>) {
    return this.ledger.record('discount', ctx, 5);
  }
  @Step<Flags, Conditional>({ retries: 0 }) async total(ctx: StepContext<Flags, Conditional>) {
    this.ledger.record('total', ctx);
    return ctx.results.first - (ctx.results.discount ?? 0);
  }
}

@Workflow({ name: 'conformance-parallel' })
export class Fanout extends Recorded {
  @Step({ retries: 0 }) async before(ctx: StepContext) {
    return this.ledger.record('before', ctx, 'b');
  }
  @Parallel('fan') @Step({ retries: 0 }) async left(ctx: StepContext) {
    return this.ledger.record('left', ctx, 'L');
  }
  @Parallel('fan') @Step({ retries: 0 }) async right(ctx: StepContext) {
    return this.ledger.record('right', ctx, 'R');
  }
  @Parallel('fan') @Step({ retries: 0 }) async slowSibling(ctx: StepContext) {
    return this.ledger.record('slowSibling', ctx, 'S');
  }
  @Step({ retries: 0 }) async after(ctx: StepContext<unknown, Fanout>) {
    this.ledger.record('after', ctx);
    return [ctx.results.left, ctx.results.right, ctx.results.slowSibling].join('');
  }
}

@Workflow({ name: 'conformance-child' })
export class Child extends Recorded {
  @Step({ retries: 0 }) async work(ctx: StepContext<{ n: number }>) {
    return this.ledger.record('child.work', ctx, { doubled: ctx.input.n * 2 });
  }
}

@Workflow({ name: 'conformance-parent' })
export class Parent extends Recorded {
  @Step({ retries: 0 }) async prepare(ctx: StepContext<{ n: number }>) {
    return this.ledger.record('prepare', ctx, ctx.input.n + 1);
  }
  @Subflow(() => Child, { retries: 1, backoff: 1 }) child(ctx: StepContext<{ n: number }, Parent>) {
    return { n: ctx.results.prepare };
  }
  @Step({ retries: 0 }) async finish(ctx: StepContext<{ n: number }, Parent>) {
    this.ledger.record('finish', ctx);
    return ctx.results.child;
  }
}

@Workflow({ name: 'conformance-values' })
export class Values extends Recorded {
  @Step({ retries: 0 }) async produce(ctx: StepContext) {
    return this.ledger.record('produce', ctx, { at: new Date(86_400_000), big: 2n ** 70n, map: new Map([['k', new Set([1, 2])]]), nothing: undefined, nan: NaN });
  }
  @Step({ retries: 0 }) async consume(ctx: StepContext<unknown, Values>) {
    this.ledger.record('consume', ctx);
    const { at, big, map, nothing, nan } = ctx.results.produce;
    return { isDate: at instanceof Date, year: at.getUTCFullYear(), big: big + 1n, hasTwo: map.get('k')?.has(2) === true, nothingIsUndefined: nothing === undefined && 'nothing' in ctx.results.produce, nanIsNaN: Number.isNaN(nan) };
  }
}

