/** context — builds the frozen `StepContext` a step, condition or subflow input builder receives. */
import type { Logger, NodeDefinition, StepContext } from '../graph/types';
import { withFields } from './logger';

export interface ContextSource {
  workflow: string;
  runId: string;
  trackingId: string;
  input: unknown;
  results: Readonly<Record<string, unknown>>;
  logger: Logger;
}

export function createContext(source: ContextSource, node: NodeDefinition, attempt: number, signal: AbortSignal): StepContext {
  const { workflow, runId, trackingId } = source;
  return Object.freeze({
    input: source.input,
    results: Object.freeze({ ...source.results }),
    attempt,
    signal,
    runId,
    trackingId,
    workflow,
    step: node.name,
    idempotencyKey: `${runId}:${node.name}`,
    log: withFields(source.logger, { workflow, runId, trackingId, step: node.name, attempt }),
  });
}
