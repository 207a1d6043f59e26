/**
 * metadata — what the decorators record, and nothing more. Each decorator writes raw, unvalidated
 * options onto the class with reflect-metadata; the scanner reads them back and does all the
 * checking, so a misuse is reported together with every other problem of the class.
 */
import 'reflect-metadata';
import type { StepOptions, SubflowOptions, WorkflowOptions } from '../graph/types';

const WORKFLOW = Symbol.for('cairn:workflow');
const MEMBERS = Symbol.for('cairn:members');
const MISUSES = Symbol.for('cairn:misuses');

export interface MemberMetadata {
  readonly key: string | symbol;
  /** False when a decorator was put on a property or accessor instead of a method. */
  isMethod: boolean;
  isStatic: boolean;
  step?: StepOptions;
  stepCount: number;
  subflow?: { target: unknown; options: SubflowOptions };
  subflowCount: number;
  groups: string[];
}

function ownList<T>(key: symbol, target: object): T[] {
  let list = Reflect.getOwnMetadata(key, target) as T[] | undefined;
  if (!list) {
    list = [];
    Reflect.defineMetadata(key, list, target);
  }
  return list;
}

/** The class that owns a decorated member, for both instance (prototype) and static members. */
function ownerOf(target: object): object {
  return typeof target === 'function' ? target : (target as { constructor: object }).constructor;
}

export function recordWorkflow(cls: object, options: WorkflowOptions | undefined): void {
  Reflect.defineMetadata(WORKFLOW, { options: options ?? {} }, cls);
}

export function recordMisuse(target: object, problem: string): void {
  ownList<string>(MISUSES, ownerOf(target)).push(problem);
}

export function recordMember(
  target: object,
  key: string | symbol,
  descriptor: PropertyDescriptor | undefined,
  update: (member: MemberMetadata) => void,
): void {
  const members = ownList<MemberMetadata>(MEMBERS, ownerOf(target));
  let member = members.find((m) => m.key === key);
  if (!member) {
    member = {
      key,
      isMethod: typeof descriptor?.value === 'function',
      isStatic: typeof target === 'function',
      stepCount: 0,
      subflowCount: 0,
      groups: [],
    };
    members.push(member);
  }
  update(member);
}

export function readWorkflow(cls: object): { options: WorkflowOptions } | undefined {
  return Reflect.getOwnMetadata(WORKFLOW, cls) as { options: WorkflowOptions } | undefined;
}

/** Members in declaration order, base classes first. */
export function readMembers(cls: object): readonly MemberMetadata[] {
  const chain: object[] = [];
  for (let c: unknown = cls; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) chain.unshift(c);
  const byKey = new Map<string | symbol, MemberMetadata>();
  for (const c of chain) for (const m of (Reflect.getOwnMetadata(MEMBERS, c) as MemberMetadata[] | undefined) ?? []) byKey.set(m.key, m);
  return [...byKey.values()];
}

export function readMisuses(cls: object): readonly string[] {
  return (Reflect.getOwnMetadata(MISUSES, cls) as string[] | undefined) ?? [];
}
