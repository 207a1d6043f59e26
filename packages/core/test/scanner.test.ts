/**
 * Scanner: decorators record metadata; `compileWorkflow` turns it into a frozen, validated graph
 * with a structural hash, or throws ONE WorkflowDefinitionError listing every problem.
 */
import 'reflect-metadata';
import { Parallel, Step, Subflow, Workflow } from '../src/decorators/decorators';
import { compileWorkflow, workflowName } from '../src/scanner/scanner';
import { CairnError, InvalidArgumentError, WorkflowDefinitionError } from '../src/errors/errors';
import type { StepContext, WorkflowClass, WorkflowDefinition } from '../src/graph/types';

/** Compiles `cls`, expecting a WorkflowDefinitionError, and returns it. */
function definitionError(cls: unknown): WorkflowDefinitionError {
  let caught: unknown;
  try {
    compileWorkflow(cls as WorkflowClass);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(WorkflowDefinitionError);
  const error = caught as WorkflowDefinitionError;
  expect(error).toBeInstanceOf(CairnError);
  expect(error.code).toBe('WORKFLOW_DEFINITION_INVALID');
  expect(error.name).toBe('WorkflowDefinitionError');
  // The message lists every problem too, so a log line shows them all.
  for (const problem of error.problems) expect(error.message).toContain(problem);
  return error;
}

/** Asserts exactly one problem matching `pattern`, and returns the error. */
function expectOneProblem(cls: unknown, pattern: RegExp): WorkflowDefinitionError {
  const error = definitionError(cls);
  expect(error.problems).toHaveLength(1);
  expect(error.problems[0]).toMatch(pattern);
  return error;
}

const stageNames = (def: WorkflowDefinition): string[][] => def.stages.map((s) => s.nodes.map((n) => n.name));

@Workflow({ name: 'child-flow' })
class ChildFlow {
  @Step()
  async only(): Promise<number> {
    return 1;
  }
}

describe('compileWorkflow: a valid class', () => {
  @Workflow({ name: 'order', version: 3 })
  class Order {
    @Step()
    async first(): Promise<string> {
      return 'a';
    }

    @Parallel('lookups')
    @Step()
    async left(): Promise<number> {
      return 1;
    }

    @Parallel('lookups')
    @Step({ name: 'right-side' })
    async right(): Promise<number> {
      return 2;
    }

    @Step({ when: () => true })
    async charge(): Promise<void> {}

    @Subflow(() => ChildFlow, { trackingId: (ctx) => `child-${ctx.trackingId}` })
    receipt(ctx: StepContext): unknown {
      return { from: ctx.runId };
    }
  }

  it('compiles stages in declaration order, a @Parallel group being one stage', () => {
    const def = compileWorkflow(Order);
    expect(def.name).toBe('order');
    expect(def.version).toBe(3);
    expect(def.workflowClass).toBe(Order);
    expect(stageNames(def)).toEqual([['first'], ['left', 'right-side'], ['charge'], ['receipt']]);
    expect(def.stages.map((s) => s.index)).toEqual([0, 1, 2, 3]);
    expect(def.stages.map((s) => s.group)).toEqual([undefined, 'lookups', undefined, undefined]);
    expect(def.nodes.map((n) => n.name)).toEqual(['first', 'left', 'right-side', 'charge', 'receipt']);
    expect(def.nodes.map((n) => n.stage)).toEqual([0, 1, 1, 2, 3]);
    expect(def.hash).toMatch(/^[0-9a-f]{32}$/);
  });

  it('gives each node its kind, its method, and the method name unless a name is given', () => {
    const def = compileWorkflow(Order);
    const byName = new Map(def.nodes.map((n) => [n.name, n]));
    expect(def.nodes.map((n) => n.kind)).toEqual(['step', 'step', 'step', 'step', 'subflow']);
    expect(byName.get('right-side')!.method).toBe('right');
    expect(byName.get('first')!.method).toBe('first');
    expect(byName.get('left')!.group).toBe('lookups');
    expect(byName.get('first')!.group).toBeUndefined();
    expect(typeof byName.get('charge')!.when).toBe('function');
    expect(byName.get('first')!.when).toBeUndefined();
    const receipt = byName.get('receipt')!;
    expect(receipt.subflow!.target).toBe(ChildFlow);
    expect(typeof receipt.subflow!.trackingId).toBe('function');
    expect(byName.get('first')!.subflow).toBeUndefined();
  });

  it('gives each node the default retry policy when no options are given', () => {
    const def = compileWorkflow(Order);
    expect(def.nodes[0]!.policy).toEqual({
      retries: 3,
      backoff: { type: 'exponential', minMs: 200, maxMs: 10_000, factor: 2, jitter: false },
      timeoutMs: undefined,
      retryIf: undefined,
    });
  });

  it('returns a deeply frozen definition', () => {
    const def = compileWorkflow(Order);
    expect(Object.isFrozen(def)).toBe(true);
    expect(Object.isFrozen(def.stages)).toBe(true);
    expect(Object.isFrozen(def.nodes)).toBe(true);
    for (const stage of def.stages) {
      expect(Object.isFrozen(stage)).toBe(true);
      expect(Object.isFrozen(stage.nodes)).toBe(true);
    }
    for (const node of def.nodes) {
      expect(Object.isFrozen(node)).toBe(true);
      expect(Object.isFrozen(node.policy)).toBe(true);
      expect(Object.isFrozen(node.policy.backoff)).toBe(true);
    }
    expect(Object.isFrozen(def.nodes[4]!.subflow)).toBe(true);
    expect(() => {
      (def as { name: string }).name = 'changed';
    }).toThrow(TypeError);
    expect(() => {
      (def.nodes as unknown[]).push({});
    }).toThrow(TypeError);
    expect(def.name).toBe('order');
  });

  it('caches the compiled definition per class', () => {
    expect(compileWorkflow(Order)).toBe(compileWorkflow(Order));
  });

  it('places a @Parallel group at its first member even when members are not adjacent', () => {
    @Workflow()
    class Scattered {
      @Step() async a(): Promise<void> {}
      @Parallel('g') @Step() async b(): Promise<void> {}
      @Step() async c(): Promise<void> {}
      @Parallel('g') @Step() async d(): Promise<void> {}
      @Step() async e(): Promise<void> {}
    }
    const def = compileWorkflow(Scattered);
    expect(stageNames(def)).toEqual([['a'], ['b', 'd'], ['c'], ['e']]);
    expect(def.nodes.map((n) => n.name)).toEqual(['a', 'b', 'd', 'c', 'e']);
    expect(def.nodes.map((n) => n.stage)).toEqual([0, 1, 1, 2, 3]);
  });

  it('puts subflows into parallel groups too, and keeps two groups apart', () => {
    @Workflow()
    class TwoGroups {
      @Parallel('x') @Step() async a(): Promise<void> {}
      @Parallel('y') @Step() async b(): Promise<void> {}
      @Parallel('x') @Subflow(() => ChildFlow) c(): unknown {
        return {};
      }
      @Parallel('y') @Step() async d(): Promise<void> {}
    }
    const def = compileWorkflow(TwoGroups);
    expect(stageNames(def)).toEqual([['a', 'c'], ['b', 'd']]);
    expect(def.stages.map((s) => s.group)).toEqual(['x', 'y']);
    expect(def.nodes.find((n) => n.name === 'c')!.kind).toBe('subflow');
  });

  it('defaults the name to the class name and the version to 1', () => {
    @Workflow()
    class PlainName {
      @Step() async s(): Promise<void> {}
    }
    const def = compileWorkflow(PlainName);
    expect(def.name).toBe('PlainName');
    expect(def.version).toBe(1);
    expect(workflowName(PlainName)).toBe('PlainName');
    expect(workflowName(Order)).toBe('order');
  });

  it('accepts the decorator order @Step @Parallel as well as @Parallel @Step', () => {
    @Workflow()
    class Reversed {
      @Step() @Parallel('g') async a(): Promise<void> {}
      @Step() @Parallel('g') async b(): Promise<void> {}
    }
    expect(stageNames(compileWorkflow(Reversed))).toEqual([['a', 'b']]);
  });

  it('rejects something that is not a class with InvalidArgumentError', () => {
    expect(() => compileWorkflow(null as unknown as WorkflowClass)).toThrow(InvalidArgumentError);
    expect(() => compileWorkflow({} as unknown as WorkflowClass)).toThrow(InvalidArgumentError);
  });
});

describe('structural hash', () => {
  // Each factory builds a fresh class, so the cache never hands back the same object.
  const base = () => {
    @Workflow({ name: 'hashed', version: 1 })
    class W {
      @Step() async a(): Promise<void> {}
      @Parallel('g') @Step() async b(): Promise<void> {}
      @Parallel('g') @Step() async c(): Promise<void> {}
      @Step() async d(): Promise<void> {}
    }
    return W;
  };

  it('is stable across two compiles of identical classes', () => {
    const one = base();
    const two = base();
    expect(one).not.toBe(two);
    const h1 = compileWorkflow(one).hash;
    const h2 = compileWorkflow(two).hash;
    expect(compileWorkflow(one)).not.toBe(compileWorkflow(two));
    expect(h1).toBe(h2);
  });

  it('does not change when only retry options, conditions or timeouts change', () => {
    @Workflow({ name: 'hashed', version: 1 })
    class Tuned {
      @Step({ retries: 9, backoff: { type: 'fixed', min: '1s' }, timeout: '5s' }) async a(): Promise<void> {}
      @Parallel('g') @Step({ retries: 0, when: () => false }) async b(): Promise<void> {}
      @Parallel('g') @Step({ backoff: '250ms' }) async c(): Promise<void> {}
      @Step({ retryIf: () => true }) async d(): Promise<void> {}
    }
    expect(compileWorkflow(Tuned).hash).toBe(compileWorkflow(base()).hash);
  });

  it('changes when a step is renamed', () => {
    @Workflow({ name: 'hashed', version: 1 })
    class Renamed {
      @Step({ name: 'A' }) async a(): Promise<void> {}
      @Parallel('g') @Step() async b(): Promise<void> {}
      @Parallel('g') @Step() async c(): Promise<void> {}
      @Step() async d(): Promise<void> {}
    }
    expect(compileWorkflow(Renamed).hash).not.toBe(compileWorkflow(base()).hash);
  });

  it('changes when steps are reordered', () => {
    @Workflow({ name: 'hashed', version: 1 })
    class Reordered {
      @Step() async d(): Promise<void> {}
      @Parallel('g') @Step() async b(): Promise<void> {}
      @Parallel('g') @Step() async c(): Promise<void> {}
      @Step() async a(): Promise<void> {}
    }
    expect(compileWorkflow(Reordered).hash).not.toBe(compileWorkflow(base()).hash);
  });

  it('changes when steps are regrouped', () => {
    @Workflow({ name: 'hashed', version: 1 })
    class Ungrouped {
      @Step() async a(): Promise<void> {}
      @Step() async b(): Promise<void> {}
      @Step() async c(): Promise<void> {}
      @Step() async d(): Promise<void> {}
    }
    @Workflow({ name: 'hashed', version: 1 })
    class OtherGroup {
      @Step() async a(): Promise<void> {}
      @Parallel('other') @Step() async b(): Promise<void> {}
      @Parallel('other') @Step() async c(): Promise<void> {}
      @Step() async d(): Promise<void> {}
    }
    @Workflow({ name: 'hashed', version: 1 })
    class BiggerGroup {
      @Step() async a(): Promise<void> {}
      @Parallel('g') @Step() async b(): Promise<void> {}
      @Parallel('g') @Step() async c(): Promise<void> {}
      @Parallel('g') @Step() async d(): Promise<void> {}
    }
    const original = compileWorkflow(base()).hash;
    const hashes = [compileWorkflow(Ungrouped).hash, compileWorkflow(OtherGroup).hash, compileWorkflow(BiggerGroup).hash];
    for (const h of hashes) expect(h).not.toBe(original);
    expect(new Set(hashes).size).toBe(3);
  });

  it('changes when the version or the workflow name changes', () => {
    @Workflow({ name: 'hashed', version: 2 })
    class V2 {
      @Step() async a(): Promise<void> {}
      @Parallel('g') @Step() async b(): Promise<void> {}
      @Parallel('g') @Step() async c(): Promise<void> {}
      @Step() async d(): Promise<void> {}
    }
    @Workflow({ name: 'hashed-other', version: 1 })
    class OtherName {
      @Step() async a(): Promise<void> {}
      @Parallel('g') @Step() async b(): Promise<void> {}
      @Parallel('g') @Step() async c(): Promise<void> {}
      @Step() async d(): Promise<void> {}
    }
    const original = compileWorkflow(base()).hash;
    expect(compileWorkflow(V2).hash).not.toBe(original);
    expect(compileWorkflow(OtherName).hash).not.toBe(original);
  });

  it('changes when a step becomes a subflow', () => {
    @Workflow({ name: 'hashed', version: 1 })
    class WithSubflow {
      @Step() async a(): Promise<void> {}
      @Parallel('g') @Step() async b(): Promise<void> {}
      @Parallel('g') @Step() async c(): Promise<void> {}
      @Subflow(() => ChildFlow) d(): unknown {
        return {};
      }
    }
    expect(compileWorkflow(WithSubflow).hash).not.toBe(compileWorkflow(base()).hash);
  });
});

describe('compileWorkflow: each bad definition is reported', () => {
  it('a class without @Workflow', () => {
    class NoWorkflow {
      @Step() async a(): Promise<void> {}
    }
    expectOneProblem(NoWorkflow, /NoWorkflow has no @Workflow decorator/);
  });

  it('a class without steps', () => {
    @Workflow()
    class Empty {
      async notAStep(): Promise<void> {}
    }
    expectOneProblem(Empty, /Empty has no @Step or @Subflow methods/);
  });

  it('two methods with the same (custom) step name', () => {
    @Workflow()
    class Duplicates {
      @Step({ name: 'charge' }) async first(): Promise<void> {}
      @Step({ name: 'charge' }) async second(): Promise<void> {}
    }
    const error = expectOneProblem(Duplicates, /duplicate step name 'charge'/);
    expect(error.problems[0]).toContain('first');
    expect(error.problems[0]).toContain('second');
  });

  it('a custom name equal to another method name', () => {
    @Workflow()
    class Clash {
      @Step() async pay(): Promise<void> {}
      @Step({ name: 'pay' }) async other(): Promise<void> {}
    }
    expectOneProblem(Clash, /duplicate step name 'pay'/);
  });

  it('@Step on a property (applied programmatically)', () => {
    @Workflow()
    class OnProperty {
      prop = 1;
      @Step() async ok(): Promise<void> {}
    }
    Step()(OnProperty.prototype, 'prop', undefined);
    expectOneProblem(OnProperty, /'prop' is a property or accessor/);
  });

  it('@Step on a class field (decorator syntax)', () => {
    @Workflow()
    class OnField {
      // A field: the decorator receives no descriptor, as on any property.
      @Step() field = (): number => 1;
      @Step() async ok(): Promise<void> {}
    }
    expectOneProblem(OnField, /@Step field: .*'field' is a property or accessor/);
  });

  it('@Subflow and @Parallel on a property or accessor', () => {
    @Workflow()
    class OnAccessor {
      get value(): number {
        return 1;
      }
      @Step() async ok(): Promise<void> {}
    }
    const descriptor = Object.getOwnPropertyDescriptor(OnAccessor.prototype, 'value');
    Subflow(() => ChildFlow)(OnAccessor.prototype, 'value', descriptor);
    Parallel('g')(OnAccessor.prototype, 'other', undefined);
    const error = definitionError(OnAccessor);
    expect(error.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/@Subflow value: .*'value' is a property or accessor/),
        expect.stringMatching(/'other' is a property or accessor/),
        expect.stringMatching(/@Parallel on 'other' needs @Step/),
      ]),
    );
    expect(error.problems).toHaveLength(3);
  });

  it('a decorator applied to the class itself', () => {
    @Workflow()
    class OnClass {
      @Step() async ok(): Promise<void> {}
    }
    (Step() as unknown as (target: object) => void)(OnClass);
    expectOneProblem(OnClass, /@Step was applied to the class itself/);
  });

  it('@Step on a static method', () => {
    @Workflow()
    class Static {
      @Step() static async util(): Promise<void> {}
      @Step() async ok(): Promise<void> {}
    }
    expectOneProblem(Static, /'util' is static/);
  });

  it('@Parallel without @Step', () => {
    @Workflow()
    class ParallelOnly {
      @Parallel('g') async lonely(): Promise<void> {}
      @Step() async ok(): Promise<void> {}
    }
    expectOneProblem(ParallelOnly, /@Parallel on 'lonely' needs @Step or @Subflow/);
  });

  it('@Parallel with an empty group name, or applied twice', () => {
    @Workflow()
    class BadGroups {
      @Parallel('  ') @Step() async blank(): Promise<void> {}
      @Parallel('a') @Parallel('b') @Step() async twice(): Promise<void> {}
    }
    const error = definitionError(BadGroups);
    expect(error.problems).toHaveLength(2);
    expect(error.problems.join('\n')).toMatch(/blank: @Parallel group must be a non-empty string/);
    expect(error.problems.join('\n')).toMatch(/twice: @Parallel is applied 2 times/);
  });

  it('@Step applied twice to one method', () => {
    @Workflow()
    class Twice {
      @Step() @Step() async a(): Promise<void> {}
    }
    expectOneProblem(Twice, /the same decorator is applied twice/);
  });

  it('@Step and @Subflow on the same method', () => {
    @Workflow()
    class Both {
      @Step() @Subflow(() => ChildFlow) both(): unknown {
        return {};
      }
    }
    expectOneProblem(Both, /cannot be both @Step and @Subflow/);
  });

  it('a subflow target that is not a workflow class', () => {
    class NotAWorkflow {}
    @Workflow()
    class BadTarget {
      @Subflow(() => NotAWorkflow) child(): unknown {
        return {};
      }
    }
    expectOneProblem(BadTarget, /the target NotAWorkflow is not a @Workflow class/);
  });

  it('a subflow target that is not a function, or whose thunk throws', () => {
    @Workflow()
    class BadThunks {
      @Subflow(ChildFlow as unknown as () => WorkflowClass) notThunk(): unknown {
        return {};
      }
      @Subflow(() => {
        throw new Error('not yet defined');
      })
      throwing(): unknown {
        return {};
      }
      @Subflow(() => 'child-flow' as unknown as WorkflowClass) aString(): unknown {
        return {};
      }
    }
    const error = definitionError(BadThunks);
    const text = error.problems.join('\n');
    expect(error.problems).toHaveLength(3);
    // A class is a function, so passing the class itself calls it without `new`, which throws.
    expect(text).toMatch(/notThunk: the target thunk threw/);
    expect(text).toMatch(/throwing: the target thunk threw: not yet defined/);
    expect(text).toMatch(/aString: the target child-flow is not a @Workflow class/);
  });

  it('a subflow thunk that returns undefined (a circular import not yet resolved)', () => {
    @Workflow()
    class UndefinedTarget {
      @Subflow(() => undefined as unknown as WorkflowClass) child(): unknown {
        return {};
      }
    }
    // Must be reported like any other bad target, not crash the scanner with a TypeError.
    expectOneProblem(UndefinedTarget, /not a @Workflow class|target/);
  });

  it('a subflow trackingId that is not a function', () => {
    @Workflow()
    class BadTracking {
      @Subflow(() => ChildFlow, { trackingId: 'fixed' as unknown as () => string }) child(): unknown {
        return {};
      }
    }
    expectOneProblem(BadTracking, /'trackingId' must be a function/);
  });

  it('a `when` that is not a function', () => {
    @Workflow()
    class BadWhen {
      @Step({ when: true as unknown as () => boolean }) async a(): Promise<void> {}
    }
    expectOneProblem(BadWhen, /@Step a: 'when' must be a function \(got boolean\)/);
  });

  it('negative retries', () => {
    @Workflow()
    class NegativeRetries {
      @Step({ retries: -1 }) async a(): Promise<void> {}
    }
    expectOneProblem(NegativeRetries, /@Step a: retries must be an integer from 0 to 1000 \(got -1\)/);
  });

  it('a bad duration string', () => {
    @Workflow()
    class BadDuration {
      @Step({ backoff: { min: 'soon' } }) async a(): Promise<void> {}
    }
    expectOneProblem(BadDuration, /@Step a: backoff\.min must be a duration like .*'soon'/);
  });

  it('backoff max smaller than min', () => {
    @Workflow()
    class MaxBelowMin {
      @Step({ backoff: { min: '5s', max: '1s' } }) async a(): Promise<void> {}
    }
    expectOneProblem(MaxBelowMin, /backoff\.max \(1000 ms\) is smaller than backoff\.min \(5000 ms\)/);
  });

  it('a bad timeout', () => {
    @Workflow()
    class BadTimeout {
      @Step({ timeout: 0 }) async a(): Promise<void> {}
    }
    expectOneProblem(BadTimeout, /@Step a: timeout must be greater than zero/);
  });

  it.each([[0], [1.5], [-2], ['2' as unknown as number]])('an invalid workflow version (%p)', (version) => {
    @Workflow({ version })
    class BadVersion {
      @Step() async a(): Promise<void> {}
    }
    expectOneProblem(BadVersion, /workflow version must be a positive integer/);
  });

  it.each([[''], ['has space'], ['x'.repeat(201)]])('an invalid workflow name (%p)', (name) => {
    @Workflow({ name })
    class BadName {
      @Step() async a(): Promise<void> {}
    }
    expectOneProblem(BadName, /workflow name .* must be 1–200 characters/);
  });

  it('an invalid step name', () => {
    @Workflow()
    class BadStepName {
      @Step({ name: 'no spaces allowed' }) async a(): Promise<void> {}
    }
    expectOneProblem(BadStepName, /step name 'no spaces allowed' must be 1–200 characters/);
  });

  it('options that are not an object', () => {
    @Workflow()
    class BadOptions {
      @Step('fast' as unknown as object) async a(): Promise<void> {}
    }
    expectOneProblem(BadOptions, /@Step a: options must be an object/);
  });

  it('does not cache a failed compile: the same error comes back every time', () => {
    class Never {
      @Step() async a(): Promise<void> {}
    }
    const first = definitionError(Never);
    const second = definitionError(Never);
    expect(second.problems).toEqual(first.problems);
  });
});

describe('compileWorkflow: every problem of a class in one error', () => {
  it('reports all problems at once, not only the first', () => {
    class NotAWorkflow {}
    // No @Workflow on purpose.
    class Everything {
      prop = 1;
      @Step({ name: 'dup' }) async one(): Promise<void> {}
      @Step({ name: 'dup' }) async two(): Promise<void> {}
      @Step() static async shared(): Promise<void> {}
      @Parallel('g') async parallelOnly(): Promise<void> {}
      @Step() @Subflow(() => ChildFlow) both(): unknown {
        return {};
      }
      @Subflow(() => NotAWorkflow) child(): unknown {
        return {};
      }
      @Step({ when: 'yes' as unknown as () => boolean }) async conditional(): Promise<void> {}
      @Step({ retries: -3, backoff: { min: '2s', max: 'soon' } }) async retrying(): Promise<void> {}
      @Step({ backoff: { min: '10s', max: '1s' } }) async inverted(): Promise<void> {}
    }
    Step()(Everything.prototype, 'prop', undefined);

    let thrown = 0;
    let error: WorkflowDefinitionError | undefined;
    try {
      compileWorkflow(Everything);
    } catch (e) {
      thrown += 1;
      error = e as WorkflowDefinitionError;
    }
    expect(thrown).toBe(1);
    expect(error).toBeInstanceOf(WorkflowDefinitionError);
    expect(error!.code).toBe('WORKFLOW_DEFINITION_INVALID');
    const expected = [
      /Everything has no @Workflow decorator/,
      /duplicate step name 'dup' \(methods one and two\)/,
      /'shared' is static/,
      /@Parallel on 'parallelOnly' needs @Step or @Subflow/,
      /both: a method cannot be both @Step and @Subflow/,
      /child: the target NotAWorkflow is not a @Workflow class/,
      /conditional: 'when' must be a function/,
      /retrying: retries must be an integer/,
      /retrying: backoff\.max must be a duration like .*'soon'/,
      /inverted: backoff\.max \(1000 ms\) is smaller than backoff\.min \(10000 ms\)/,
      /'prop' is a property or accessor/,
    ];
    for (const pattern of expected) {
      expect(error!.problems.some((p) => pattern.test(p))).toBe(true);
      expect(error!.message).toMatch(pattern);
    }
    expect(error!.problems.length).toBeGreaterThanOrEqual(expected.length);
    expect(error!.message).toMatch(new RegExp(`\\(${error!.problems.length} problems\\)`));
  });

  it('reports an invalid version together with step problems', () => {
    @Workflow({ version: 0 })
    class Mixed {
      @Step({ retries: 1.5 }) async a(): Promise<void> {}
      @Step({ when: 42 as unknown as () => boolean }) async b(): Promise<void> {}
    }
    const error = definitionError(Mixed);
    expect(error.problems).toHaveLength(3);
    expect(error.problems.join('\n')).toMatch(/workflow version must be a positive integer \(got 0\)/);
    expect(error.problems.join('\n')).toMatch(/@Step a: retries must be an integer/);
    expect(error.problems.join('\n')).toMatch(/@Step b: 'when' must be a function \(got number\)/);
  });

  it('keeps the problems list frozen', () => {
    class Bare {}
    const error = definitionError(Bare);
    expect(Object.isFrozen(error.problems)).toBe(true);
    expect(error.problems).toHaveLength(2);
  });
});
