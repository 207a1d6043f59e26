/**
 * The bench's workflows. Workload W: three sequential no-op steps, each returning a small object.
 * ParkingW (memory part): one step that fails once and retries after an hour, so its run parks.
 */
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

/** How long a ParkingW run stays parked: far beyond any measurement, and far beyond parkAfterMs. */
export const PARK_BACKOFF = '1h';

@Workflow({ name: 'bench-park', version: 1 })
export class ParkingW {
  @Step({ retries: 1, backoff: { type: 'fixed', min: PARK_BACKOFF } })
  async flaky() {
    throw new Error('transient failure: retry in an hour');
  }
}

export const silentLogger: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
