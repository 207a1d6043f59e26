/** Workload W: three sequential no-op steps, each returning a small object. */
import { Step, Workflow, type Logger } from '@cairn/core';

export const STEPS = ['first', 'second', 'third'] as const;

/** What every no-op step returns (the floor stores the same object). */
export const stepOutput = (step: number): { step: number; ok: boolean } => ({ step, ok: true });

@Workflow({ name: 'bench-w', version: 1 })
export class WorkloadW {
  @Step()
  async first() {
    return stepOutput(1);
  }

  @Step()
  async second() {
    return stepOutput(2);
  }

  @Step()
  async third() {
    return stepOutput(3);
  }
}

export const silentLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
