/** Reads the step ledger the fixtures write: every execution of every step, with its interval. */
import { existsSync, readFileSync } from 'node:fs';

export interface Execution {
  runId: string;
  step: string;
  pid: number;
  start: number;
  end: number | undefined;
}

export function readExecutions(file: string): Execution[] {
  if (!existsSync(file)) return [];
  const open = new Map<string, Execution>();
  const all: Execution[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [kind, runId, step, pid, at] = line.split(' ');
    if (!kind || !runId || !step) continue;
    const key = `${runId} ${step} ${pid}`;
    if (kind === 'S') {
      const execution = { runId, step, pid: Number(pid), start: Number(at), end: undefined };
      open.set(key, execution);
      all.push(execution);
    } else {
      const execution = open.get(key);
      if (execution) execution.end = Number(at);
      open.delete(key);
    }
  }
  return all;
}

/**
 * Pairs of executions of one run by two different processes whose intervals overlap. An
 * execution that never ended (its process was killed) lasts until `killedAt` for that pid.
 */
export function overlaps(executions: Execution[], killedAt: Map<number, number>): [Execution, Execution][] {
  const byRun = new Map<string, Execution[]>();
  for (const e of executions) byRun.set(e.runId, [...(byRun.get(e.runId) ?? []), e]);
  const found: [Execution, Execution][] = [];
  for (const list of byRun.values()) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i]!;
        const b = list[j]!;
        if (a.pid === b.pid) continue;
        const endA = a.end ?? killedAt.get(a.pid) ?? Number.POSITIVE_INFINITY;
        const endB = b.end ?? killedAt.get(b.pid) ?? Number.POSITIVE_INFINITY;
        if (a.start < endB && b.start < endA) found.push([a, b]);
      }
    }
  }
  return found;
}
