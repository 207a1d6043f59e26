/**
 * attempt — runs one attempt of a step: calls the method with its context, enforces the step's
 * timeout through `ctx.signal` (abandoning a step that ignores it), and serializes the output.
 * Whatever the step throws comes out as an Error (non-Error throws keep their readable record).
 */
import { StepTimeoutError } from '../errors/errors';
import type { Clock } from '../time/clock';
import { asError } from '../serialization/thrown';

export interface AttemptRequest<T> {
  call: (signal: AbortSignal) => Promise<T> | T;
  /** Aborted when the run stops (lease lost, runner closed). */
  runSignal: AbortSignal;
  timeoutMs: number | undefined;
  clock: Clock;
  describe: string;
}

/** Rejects when `signal` aborts; `release()` detaches the listener once the attempt settled. */
function rejection(signal: AbortSignal): { promise: Promise<never>; release(): void } {
  let release = (): void => undefined;
  const promise = new Promise<never>((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    release = () => signal.removeEventListener('abort', onAbort);
  });
  return { promise, release };
}

/** Ends a timeout timer without the cost of a DOMException reason (the hot path). */
const TIMER_DONE = new Error('attempt settled');

export async function runAttempt<T>(request: AttemptRequest<T>): Promise<T> {
  // Without a timeout the attempt's signal is the run's own: nothing to allocate per attempt.
  let signal = request.runSignal;
  let timerStop: AbortController | undefined;
  if (request.timeoutMs !== undefined) {
    const ms = request.timeoutMs;
    const timeout = new AbortController();
    timerStop = new AbortController();
    signal = AbortSignal.any([request.runSignal, timeout.signal]);
    request.clock.sleep(ms, timerStop.signal).then(
      () => timeout.abort(new StepTimeoutError(`${request.describe} timed out after ${ms} ms.`)),
      () => undefined,
    );
  }
  const stopped = rejection(signal);
  try {
    const work = Promise.resolve().then(() => request.call(signal));
    // A step that ignores its signal is abandoned; its eventual rejection must not go unhandled.
    work.catch(() => undefined);
    return await Promise.race([work, stopped.promise]);
  } catch (error) {
    throw asError(error);
  } finally {
    stopped.release();
    timerStop?.abort(TIMER_DONE);
  }
}
