/**
 * registry — the workflows one Runner can execute, by name and version. Registering a class
 * compiles it (and its subflow targets). A stored run is routed to the class whose version and
 * graph hash it started with; nothing is guessed.
 */
import { InvalidArgumentError, WorkflowDefinitionChangedError, WorkflowNotRegisteredError } from '../errors/errors';
import type { WorkflowClass, WorkflowDefinition } from '../graph/types';
import { compileWorkflow } from '../scanner/scanner';
import type { RunRecord } from '../storage/records';

export class Registry {
  private readonly byName = new Map<string, Map<number, WorkflowDefinition>>();

  register(cls: WorkflowClass): WorkflowDefinition {
    const definition = compileWorkflow(cls);
    const versions = this.byName.get(definition.name) ?? new Map<number, WorkflowDefinition>();
    const existing = versions.get(definition.version);
    // Already registered: done (this also ends the recursion of workflows that subflow to each other).
    if (existing?.workflowClass === cls) return existing;
    if (existing) {
      if (existing.hash === definition.hash) return existing;
      throw new InvalidArgumentError(
        `Two different classes are registered as workflow '${definition.name}' version ${definition.version} (${existing.workflowClass.name} and ${cls.name}); bump the version of one of them.`,
      );
    }
    versions.set(definition.version, definition);
    this.byName.set(definition.name, versions);
    for (const node of definition.nodes) if (node.subflow) this.register(node.subflow.target);
    return definition;
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The definition that can execute `run`, or a typed error saying why none can. */
  forRun(run: RunRecord): WorkflowDefinition | WorkflowNotRegisteredError | WorkflowDefinitionChangedError {
    const versions = this.byName.get(run.workflowName);
    if (!versions) return new WorkflowNotRegisteredError(`Run ${run.id} is of workflow '${run.workflowName}', which this runner has not registered.`);
    const definition = versions.get(run.workflowVersion);
    if (definition && definition.hash === run.graphHash) return definition;
    const registered = [...versions.values()].map((d) => `v${d.version} (${d.hash.slice(0, 8)})`).join(', ');
    return new WorkflowDefinitionChangedError(
      definition
        ? `Run ${run.id} of '${run.workflowName}' v${run.workflowVersion} started with graph ${run.graphHash.slice(0, 8)}, but the registered v${run.workflowVersion} class has graph ${definition.hash.slice(0, 8)}: its steps changed without a version bump. Register the old class as v${run.workflowVersion} (and the new one as a new version) to finish this run.`
        : `Run ${run.id} of '${run.workflowName}' needs version ${run.workflowVersion}, but only ${registered} ${versions.size === 1 ? 'is' : 'are'} registered. Keep the v${run.workflowVersion} class registered until its runs finish.`,
    );
  }
}
