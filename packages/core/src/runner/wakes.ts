/**
 * wakes — when to resume the parked runs this runner resumes itself (a backoff it parked). One
 * clock timer for the earliest due time, not one per run: ten thousand parked runs cost a map
 * entry each, not a timer, a closure and an abort listener each.
 */
import type { Clock } from '../time/clock';

/** Replaces a timer without the cost of a DOMException reason. */
const REARMED = new Error('wake timer re-armed');

export class WakeSchedule {
  private readonly due = new Map<string, number>();
  private timer: { at: number; stop: AbortController } | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: (id: string) => void,
    /** Aborted when the runner closes: no more wake-ups. */
    private readonly closed: AbortSignal,
  ) {}

  /** Calls `onDue(id)` at `at` (once; a later `set` for the same id replaces the time). */
  set(id: string, at: number): void {
    this.due.set(id, at);
    if (!this.timer || at < this.timer.at) this.arm(at);
  }

  private arm(at: number): void {
    this.timer?.stop.abort(REARMED);
    this.timer = undefined;
    if (this.closed.aborted) return;
    const stop = new AbortController();
    this.timer = { at, stop };
    this.clock.sleep(Math.max(0, at - this.clock.now()), AbortSignal.any([stop.signal, this.closed])).then(
      () => this.fire(),
      () => undefined,
    );
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.clock.now();
    const ready: string[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const [id, at] of this.due) {
      if (at <= now) ready.push(id);
      else next = Math.min(next, at);
    }
    for (const id of ready) this.due.delete(id);
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
    for (const id of ready) this.onDue(id);
  }
}
