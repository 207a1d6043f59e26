/**
 * scanner — compiles a decorated class into a frozen `WorkflowDefinition`, once per class (cached).
 * It validates the whole class and throws one `WorkflowDefinitionError` listing every problem:
 * no @Workflow, no steps, duplicate names, decorators on non-methods, bad options, conditions that
 * are not functions, subflow targets that are not workflows.
 */
import { InvalidArgumentError, WorkflowDefinitionError } from '../errors/errors';
import { readMembers, readMisuses, readWorkflow, type MemberMetadata } from '../decorators/metadata';
import { graphHash } from '../graph/hash';
import type { NodeDefinition, StageDefinition, StepContext, WorkflowClass, WorkflowDefinition } from '../graph/types';
import { resolveRetryPolicy } from '../retry/policy';

const cache = new WeakMap<object, WorkflowDefinition>();
const NAME_PATTERN = /^[A-Za-z0-9_.:\-/]{1,200}$/;

function label(key: string | symbol): string {
  return typeof key === 'symbol' ? key.toString() : key;
}

/** The stored name of a workflow class (its @Workflow name, else the class name). */
export function workflowName(cls: object): string {
  const meta = readWorkflow(cls);
  const name = meta?.options.name;
  return typeof name === 'string' ? name : ((cls as { name?: string }).name ?? '<anonymous>');
}

/** Compiles (or returns the cached) definition of a workflow class. */
export function compileWorkflow(cls: WorkflowClass): WorkflowDefinition {
  if (typeof cls !== 'function') {
    const got = cls === null ? 'null' : typeof cls === 'string' ? `the string '${cls}'` : typeof cls;
    throw new InvalidArgumentError(`Expected a workflow class (a class decorated with @Workflow), got ${got}. Pass the class itself, not its name or an instance.`);
  }
  const cached = cache.get(cls);
  if (cached) return cached;
  const definition = compile(cls);
  cache.set(cls, definition);
  return definition;
}

function compile(cls: WorkflowClass): WorkflowDefinition {
  const problems: string[] = [...readMisuses(cls)];
  const meta = readWorkflow(cls);
  const className = cls.name || '<anonymous class>';
  if (!meta) problems.push(`class ${className} has no @Workflow decorator`);
  const name = workflowName(cls);
  const version = meta?.options.version ?? 1;
  if (meta) {
    if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
      problems.push(`workflow name '${String(name)}' must be 1–200 characters of letters, digits and _ . : - /`);
    }
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
      problems.push(`workflow version must be a positive integer (got ${String(version)})`);
    }
  }

  const nodes: Omit<NodeDefinition, 'stage'>[] = [];
  const members = readMembers(cls);
  for (const member of members) {
    const node = compileMember(member, problems);
    if (node) nodes.push(node);
  }
  if (nodes.length === 0 && members.every((m) => m.stepCount === 0 && m.subflowCount === 0)) {
    problems.push(`class ${className} has no @Step or @Subflow methods`);
  }
  const seen = new Map<string, string>();
  for (const node of nodes) {
    const previous = seen.get(node.name);
    if (previous !== undefined) problems.push(`duplicate step name '${node.name}' (methods ${previous} and ${label(node.method)})`);
    else seen.set(node.name, label(node.method));
  }
  if (problems.length > 0) throw new WorkflowDefinitionError(className, problems);

  const stages: { group: string | undefined; nodes: NodeDefinition[] }[] = [];
  const groupStage = new Map<string, number>();
  for (const node of nodes) {
    let index = node.group !== undefined ? groupStage.get(node.group) : undefined;
    if (index === undefined) {
      index = stages.length;
      stages.push({ group: node.group, nodes: [] });
      if (node.group !== undefined) groupStage.set(node.group, index);
    }
    stages[index]!.nodes.push(Object.freeze({ ...node, stage: index }));
  }
  const frozenStages: StageDefinition[] = stages.map((s, index) => Object.freeze({ index, group: s.group, nodes: Object.freeze(s.nodes) }));
  const allNodes = Object.freeze(frozenStages.flatMap((s) => s.nodes));
  return Object.freeze({
    name,
    version,
    workflowClass: cls,
    stages: Object.freeze(frozenStages),
    nodes: allNodes,
    hash: graphHash(name, version, frozenStages, workflowName),
  });
}

function compileMember(member: MemberMetadata, problems: string[]): Omit<NodeDefinition, 'stage'> | undefined {
  const where = `${member.subflow ? '@Subflow' : '@Step'} ${label(member.key)}`;
  const before = problems.length;
  if (!member.isMethod) problems.push(`${where}: decorators belong on methods, but '${label(member.key)}' is a property or accessor`);
  if (member.isStatic) problems.push(`${where}: '${label(member.key)}' is static; steps must be instance methods`);
  if (member.stepCount > 1 || member.subflowCount > 1) problems.push(`${where}: the same decorator is applied twice`);
  if (member.step && member.subflow) problems.push(`${where}: a method cannot be both @Step and @Subflow`);
  if (!member.step && !member.subflow) {
    problems.push(`@Parallel on '${label(member.key)}' needs @Step or @Subflow on the same method`);
    return undefined;
  }
  if (member.groups.length > 1) problems.push(`${where}: @Parallel is applied ${member.groups.length} times`);
  const group = member.groups[0];
  if (group !== undefined && (typeof group !== 'string' || group.trim() === '')) problems.push(`${where}: @Parallel group must be a non-empty string`);

  const options = member.subflow ? member.subflow.options : (member.step ?? {});
  if (options === null || typeof options !== 'object') {
    problems.push(`${where}: options must be an object`);
    return undefined;
  }
  const name = options.name ?? label(member.key);
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) problems.push(`${where}: step name '${String(name)}' must be 1–200 characters of letters, digits and _ . : - /`);
  if (options.when !== undefined && typeof options.when !== 'function') problems.push(`${where}: 'when' must be a function (got ${typeof options.when})`);
  const policy = resolveRetryPolicy(options, where, problems);

  let subflow: NodeDefinition['subflow'];
  if (member.subflow) {
    const thunk = member.subflow.target;
    let target: unknown;
    if (typeof thunk !== 'function') problems.push(`${where}: the target must be a function returning a workflow class, like () => SendReceipt`);
    else {
      let threw = false;
      try {
        target = (thunk as () => unknown)();
      } catch (error) {
        threw = true;
        problems.push(`${where}: the target thunk threw: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (!threw && (target === undefined || target === null)) {
        problems.push(`${where}: the target thunk returned ${String(target)} (a circular import? the target class must be defined when the workflow is first used)`);
      } else if (!threw && (typeof target !== 'function' || !readWorkflow(target))) {
        problems.push(`${where}: the target ${typeof target === 'function' ? (target.name || 'class') : String(target)} is not a @Workflow class`);
      }
    }
    const trackingId = member.subflow.options.trackingId;
    if (trackingId !== undefined && typeof trackingId !== 'function') problems.push(`${where}: 'trackingId' must be a function of the step context`);
    subflow = { target: target as WorkflowClass, trackingId: trackingId as ((ctx: StepContext) => string) | undefined };
  }
  if (problems.length > before) return undefined;
  return {
    name,
    kind: member.subflow ? 'subflow' : 'step',
    method: member.key,
    group,
    policy,
    when: options.when as NodeDefinition['when'],
    subflow: subflow ? Object.freeze(subflow) : undefined,
  };
}
