/**
 * printer — turns the Runner's `onEvent` stream into one readable line per event. Lines of a
 * child run (the subflow) are indented under their parent.
 */
import type { CairnEvent } from '@cairn/core';
import type { Say } from './console';

const COLUMN = 16;

export class EventPrinter {
  /** Runs this process executed or replayed (it saw at least one event of them). */
  private readonly seenRuns = new Set<string>();
  /** `runId:step` of the completed steps this process already reported (ran or replayed). */
  private readonly known = new Set<string>();
  private readonly children = new Set<string>();
  /** Runs whose current resume was announced (reset when the run parks). */
  private readonly announced = new Set<string>();
  /** Runs that parked in this process (so a later resume is "after its subflow"). */
  private readonly parked = new Set<string>();
  /** Step attempts this process started. */
  executed = 0;
  /** Completed steps an earlier process stored, which this process loaded instead of running. */
  replayed = 0;

  constructor(private readonly say: Say) {}

  /** Tells the printer that `runId` was parked on its subflow by an earlier process. */
  parkedEarlier(runId: string): void {
    this.parked.add(runId);
  }

  saw(runId: string): boolean {
    return this.seenRuns.has(runId);
  }

  print(event: CairnEvent): void {
    const firstSight = !this.seenRuns.has(event.runId);
    this.seenRuns.add(event.runId);
    if (event.type === 'run_started' && typeof event.detail?.parentRunId === 'string') this.children.add(event.runId);
    if (firstSight && event.workflow === 'send-receipt') this.children.add(event.runId);
    const indent = this.children.has(event.runId) ? '    │ ' : '';
    const run = `${event.workflow}#${event.trackingId}`;
    const step = (text: string): void => this.say(`${indent}  ${(event.node ?? '').padEnd(COLUMN)} ${text}`);
    const detail = event.detail ?? {};
    const attempt = event.attempt ?? 1;
    const key = `${event.runId}:${event.node ?? ''}`;
    // The engine emits a resumed run's `step_replayed` events before its `run_resumed`: announce
    // the resume on whichever comes first.
    const announceResume = (): void => {
      if (this.announced.has(event.runId)) return;
      this.announced.add(event.runId);
      const why = this.parked.has(event.runId) ? ' (its subflow finished)' : ' (left unfinished by an earlier process)';
      this.say(`${indent}↻ ${run} resumed from the database${why}`);
    };

    switch (event.type) {
      case 'run_started':
        this.announced.add(event.runId);
        this.say(`${indent}▶ ${run} started${indent ? ' (child run of the subflow)' : ''}`);
        return;
      case 'run_resumed':
        announceResume();
        return;
      case 'step_replayed':
        announceResume();
        // A parent that picks up again after its subflow reloads every completed step; only
        // report each one once.
        if (this.known.has(key)) return;
        this.known.add(key);
        this.replayed += 1;
        step(`✔ already done (attempt ${attempt}, stored by an earlier process) — not re-executed`);
        return;
      case 'step_started': {
        this.executed += 1;
        const why = detail.previousAttempt ? ' — the previous attempt was interrupted by a crash' : detail.resumedAfterFailure ? ' — resuming after a failure' : '';
        step(`… started (attempt ${attempt})${why}`);
        return;
      }
      case 'step_completed':
        this.known.add(key);
        step(`✔ completed (attempt ${attempt})`);
        return;
      case 'step_retrying':
        step(`⟳ attempt ${attempt} failed: ${String(detail.error)} — retrying in ${String(detail.delayMs)} ms`);
        return;
      case 'step_skipped':
        step(`⤼ skipped: ${String(detail.reason)}`);
        return;
      case 'step_failed':
        step(`✘ failed for good after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${String(detail.error)}`);
        return;
      case 'subflow_started':
        step(`⇣ subflow started: child run ${String(detail.trackingId)}`);
        return;
      case 'run_parked': {
        this.announced.delete(event.runId);
        this.parked.add(event.runId);
        const children = Array.isArray(detail.children) ? detail.children.length : 0;
        if (children > 0) this.say(`${indent}⏸ ${run} parked: waits for its subflow without holding a worker`);
        else if (typeof detail.wakeAt === 'number') this.say(`${indent}⏸ ${run} parked until ${new Date(detail.wakeAt).toISOString()}`);
        else this.say(`${indent}⏸ ${run} parked${detail.error ? `: ${String(detail.error)}` : ''}`);
        return;
      }
      case 'run_completed':
        this.say(`${indent}■ ${run} completed`);
        return;
      case 'run_failed':
        this.say(`${indent}■ ${run} FAILED at ${event.node ?? '?'}: ${String(detail.error)}`);
        return;
    }
  }
}
