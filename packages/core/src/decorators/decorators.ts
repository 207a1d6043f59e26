/**
 * decorators — `@Workflow`, `@Step`, `@Parallel`, `@Subflow`. They only record metadata (see
 * metadata.ts); `compileWorkflow` in scanner/ validates and compiles it.
 */
import type { StepOptions, SubflowOptions, UntypedWorkflow, WorkflowClass, WorkflowOptions } from '../graph/types';
import { recordMember, recordMisuse, recordWorkflow } from './metadata';

/** A decorator usable on methods; on anything else it records a problem the scanner reports. */
export type MemberDecorator = (target: object, propertyKey: string | symbol, descriptor?: PropertyDescriptor) => void;

function memberDecorator(label: string, update: Parameters<typeof recordMember>[3]): MemberDecorator {
  return (target, propertyKey, descriptor) => {
    if (propertyKey === undefined) {
      recordMisuse(target, `${label} was applied to the class itself; it belongs on a method`);
      return;
    }
    recordMember(target, propertyKey, descriptor, update);
  };
}

/** Marks a class as a workflow. `name` defaults to the class name; `version` to 1. */
export function Workflow(options?: WorkflowOptions): ClassDecorator {
  return (target) => recordWorkflow(target, options);
}

/** Marks a method as a durable step. Its return value is stored and never recomputed. */
export function Step<I = unknown, W = UntypedWorkflow>(options?: StepOptions<I, W>): MemberDecorator {
  return memberDecorator('@Step', (member) => {
    member.stepCount += 1;
    member.step = (options ?? {}) as StepOptions;
  });
}

/** Puts a step (or subflow) into a parallel group: the group's members run concurrently as one stage. */
export function Parallel(group: string): MemberDecorator {
  return memberDecorator('@Parallel', (member) => {
    member.groups.push(group);
  });
}

/**
 * Marks a method as a subflow: the method returns the child workflow's input, the child runs as
 * its own durable run, and its result becomes this node's result.
 */
export function Subflow<I = unknown, W = UntypedWorkflow>(target: () => WorkflowClass, options?: SubflowOptions<I, W>): MemberDecorator {
  return memberDecorator('@Subflow', (member) => {
    member.subflowCount += 1;
    member.subflow = { target, options: (options ?? {}) as SubflowOptions };
  });
}
