/**
 * clock — the one source of time for the runner and the storage. Nothing else in Cairn reads the
 * system time: the runner asks its `Clock`, and every storage call receives `now` from it, so tests
 * can move time by hand (a two-day wait tested in milliseconds) and both databases agree.
 */

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` of this clock's time; rejects with the signal's reason when it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function abortable(signal: AbortSignal | undefined, start: (done: () => void) => () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let cancel = (): void => undefined;
    const onAbort = (): void => {
      cancel();
      reject(signal?.reason);
    };
    // Listen before starting: a sleep that is due at once must still remove its listener.
    signal?.addEventListener('abort', onAbort, { once: true });
    cancel = start(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

/** setTimeout holds at most 2^31-1 ms (about 24.8 days); longer sleeps are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Wall-clock time. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  sleep: (ms: number, signal?: AbortSignal) =>
    abortable(signal, (done) => {
      let remaining = Math.max(0, ms);
      let timer: NodeJS.Timeout;
      const arm = (): void => {
        const chunk = Math.min(remaining, MAX_TIMER_MS);
        remaining -= chunk;
        timer = setTimeout(() => (remaining > 0 ? arm() : done()), chunk);
      };
      arm();
      return () => clearTimeout(timer);
    }),
});

/** A clock that moves only when told to: `advance(ms)` or `set(time)`. For tests. */
export class ManualClock implements Clock {
  private current: number;
  private sleepers: { until: number; done: () => void }[] = [];

  constructor(start = 0) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    const until = this.current + Math.max(0, ms);
    return abortable(signal, (done) => {
      const sleeper = { until, done };
      this.sleepers.push(sleeper);
      this.wake();
      return () => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper);
      };
    });
  }

  advance(ms: number): void {
    this.set(this.current + ms);
  }

  set(time: number): void {
    this.current = time;
    this.wake();
  }

  private wake(): void {
    const due = this.sleepers.filter((s) => s.until <= this.current).sort((a, b) => a.until - b.until);
    this.sleepers = this.sleepers.filter((s) => s.until > this.current);
    for (const sleeper of due) sleeper.done();
  }
}
