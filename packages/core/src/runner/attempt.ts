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

function rejection(signal: AbortSignal): Promise<never> {
  return new Promise<never>((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

export async function runAttempt<T>(request: AttemptRequest<T>): Promise<T> {
  const timeout = new AbortController();
  const signal = AbortSignal.any([request.runSignal, timeout.signal]);
  const timerStop = new AbortController();
  if (request.timeoutMs !== undefined) {
    const ms = request.timeoutMs;
    request.clock.sleep(ms, timerStop.signal).then(
      () => timeout.abort(new StepTimeoutError(`${request.describe} timed out after ${ms} ms.`)),
      () => undefined,
    );
  }
  try {
    const work = Promise.resolve().then(() => request.call(signal));
    // A step that ignores its signal is abandoned; its eventual rejection must not go unhandled.
    work.catch(() => undefined);
    return await Promise.race([work, rejection(signal)]);
  } catch (error) {
    throw asError(error);
  } finally {
    timerStop.abort();
  }
}
