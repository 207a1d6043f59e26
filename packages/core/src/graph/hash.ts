/**
 * hash — the structural hash of a graph: workflow name, version, and for each stage its group and
 * its nodes' names, kinds and subflow targets, in order. Retry options and code bodies do not count:
 * changing them is safe for runs in flight; renaming, reordering or regrouping nodes is not.
 */
import { createHash } from 'node:crypto';
import type { StageDefinition } from './types';

export function graphHash(name: string, version: number, stages: readonly StageDefinition[], targetName: (cls: object) => string): string {
  const shape = {
    name,
    version,
    stages: stages.map((s) => ({
      group: s.group ?? null,
      nodes: s.nodes.map((n) => [n.name, n.kind, n.subflow ? targetName(n.subflow.target) : null]),
    })),
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 32);
}
