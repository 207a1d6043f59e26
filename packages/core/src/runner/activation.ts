/**
 * activation — decides what happens when a stage becomes ready: each node's condition is
 * evaluated once, and the node is written as started (attempt 1) or skipped (with the reason).
 * A stage whose nodes are all skipped is passed at once, so the rows of every stage up to the next
 * one that must run go into the same commit as the step that finished before them.
 */
import type { NodeDefinition, StepContext, WorkflowDefinition } from '../graph/types';
import { describeThrown } from '../serialization/thrown';
import type { EventWrite, StepRecord, StepWrite } from '../storage/records';

export type Row = StepRecord | StepWrite;

export interface ActivationRequest {
  definition: WorkflowDefinition;
  fromStage: number;
  rows: Map<string, Row>;
  context: (node: NodeDefinition) => StepContext;
  now: number;
  nextSeq: () => number;
}

export interface Activation {
  steps: StepWrite[];
  events: EventWrite[];
  /** The stage that is now open (its nodes have running rows), or `stages.length` if none is left. */
  stage: number;
  /** 'open': a stage is ready to run. 'completed': no stage is left. 'failed': a condition threw. */
  outcome: 'open' | 'completed' | 'failed';
}

const FINAL = new Set(['completed', 'skipped', 'failed']);

export function isFinal(row: Row | undefined): boolean {
  return row !== undefined && FINAL.has(row.status);
}

function blank(name: string, now: number): StepWrite {
  return { name, status: 'running', attempts: 1, output: null, error: null, childRunId: null, wakeAt: null, startedAt: now, finishedAt: null };
}

/**
 * Activates one node: evaluates its condition (once) and returns its row (started, skipped, or
 * failed when the condition threw) and the event saying so.
 */
export async function activateNode(node: NodeDefinition, context: (node: NodeDefinition) => StepContext, now: number, nextSeq: () => number): Promise<{ write: StepWrite; event: EventWrite }> {
  const write = blank(node.name, now);
  if (node.when) {
    let run: boolean;
    try {
      run = (await node.when(context(node))) === true;
    } catch (error) {
      const message = `condition of ${node.name} threw: ${describeThrown(error).message}`;
      return {
        write: { ...write, status: 'failed', attempts: 0, finishedAt: now, error: JSON.stringify({ ...describeThrown(error), message }) },
        event: { seq: nextSeq(), type: 'step_failed', node: node.name, attempt: 0, detail: JSON.stringify({ error: message }) },
      };
    }
    if (!run) {
      const reason = 'condition (when) returned false';
      return {
        write: { ...write, status: 'skipped', attempts: 0, finishedAt: now, error: JSON.stringify({ name: 'Skipped', message: reason }) },
        event: { seq: nextSeq(), type: 'step_skipped', node: node.name, attempt: null, detail: JSON.stringify({ reason }) },
      };
    }
  }
  return { write, event: { seq: nextSeq(), type: 'step_started', node: node.name, attempt: 1, detail: null } };
}

/** Activates stages from `fromStage` on, mutating `rows` with the new rows it returns. */
export async function activate(request: ActivationRequest): Promise<Activation> {
  const { definition, rows, now } = request;
  const steps: StepWrite[] = [];
  const events: EventWrite[] = [];
  for (let index = request.fromStage; index < definition.stages.length; index++) {
    const stage = definition.stages[index]!;
    for (const node of stage.nodes) {
      const { write, event } = await activateNode(node, request.context, now, request.nextSeq);
      steps.push(write);
      events.push(event);
      rows.set(node.name, write);
    }
    const stageRows = stage.nodes.map((n) => rows.get(n.name));
    if (stageRows.some((r) => r?.status === 'failed') && stageRows.every(isFinal)) return { steps, events, stage: index, outcome: 'failed' };
    if (!stageRows.every(isFinal)) return { steps, events, stage: index, outcome: 'open' };
  }
  return { steps, events, stage: definition.stages.length, outcome: 'completed' };
}
