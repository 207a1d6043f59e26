/**
 * retry policy — validates a step's retry options into a frozen `RetryPolicy`, and computes
 * backoff delays with one pure function. The attempt loop itself runs through p-retry (see
 * runner/attempts.ts); the delays come from here so the same number decides both an in-memory
 * wait and a durable park (`wake_at`).
 */
import { parseDuration, type Duration } from '../time/duration';

export interface BackoffOptions {
  /** 'exponential' (default): min · factor^(attempt-1), capped at max. 'fixed': always min. */
  type?: 'fixed' | 'exponential';
  /** First delay. Default '200ms'. */
  min?: Duration;
  /** Largest delay. Default '10s' (exponential) or `min` (fixed). */
  max?: Duration;
  /** Growth per attempt for exponential backoff. Default 2. */
  factor?: number;
  /** Spread each delay randomly over [delay/2, delay] so retries of many runs do not align. Default false. */
  jitter?: boolean;
}

export interface RetryOptions {
  /** Retries after the first attempt. Default 3 (4 attempts in all). 0 means "never run twice". */
  retries?: number;
  /** Backoff between attempts: an object, or a duration for a fixed delay. */
  backoff?: BackoffOptions | Duration;
  /** Each attempt is abandoned, `ctx.signal` aborted, and the attempt counted as failed after this long. */
  timeout?: Duration;
  /** Return false to fail at once for this error instead of retrying. */
  retryIf?: (error: unknown) => boolean;
}

export interface RetryPolicy {
  readonly retries: number;
  readonly backoff: {
    readonly type: 'fixed' | 'exponential';
    readonly minMs: number;
    readonly maxMs: number;
    readonly factor: number;
    readonly jitter: boolean;
  };
  readonly timeoutMs: number | undefined;
  readonly retryIf: ((error: unknown) => boolean) | undefined;
}

export const DEFAULT_RETRIES = 3;
const DEFAULT_MIN_MS = 200;
const DEFAULT_MAX_MS = 10_000;

/** Resolves options to a policy, pushing a readable line to `problems` for each bad option. */
export function resolveRetryPolicy(options: RetryOptions, where: string, problems: string[]): RetryPolicy {
  let retries = DEFAULT_RETRIES;
  if (options.retries !== undefined) {
    if (typeof options.retries !== 'number' || !Number.isInteger(options.retries) || options.retries < 0 || options.retries > 1000) {
      problems.push(`${where}: retries must be an integer from 0 to 1000 (got ${String(options.retries)})`);
    } else {
      retries = options.retries;
    }
  }
  const raw: BackoffOptions =
    typeof options.backoff === 'number' || typeof options.backoff === 'string'
      ? { type: 'fixed', min: options.backoff }
      : (options.backoff ?? {});
  if (raw === null || typeof raw !== 'object') problems.push(`${where}: backoff must be an object or a duration`);
  const type = raw.type ?? 'exponential';
  if (type !== 'fixed' && type !== 'exponential') problems.push(`${where}: backoff.type must be 'fixed' or 'exponential' (got '${String(type)}')`);
  let invalid = false;
  const duration = (value: Duration | undefined, fallback: number, label: string): number => {
    if (value === undefined) return fallback;
    const parsed = parseDuration(value, `${where}: ${label}`);
    if ('problem' in parsed) {
      problems.push(parsed.problem);
      invalid = true;
      return fallback;
    }
    return parsed.ms;
  };
  const minMs = duration(raw.min, DEFAULT_MIN_MS, 'backoff.min');
  const maxMs = duration(raw.max, type === 'fixed' ? minMs : Math.max(DEFAULT_MAX_MS, minMs), 'backoff.max');
  if (!invalid && maxMs < minMs) problems.push(`${where}: backoff.max (${maxMs} ms) is smaller than backoff.min (${minMs} ms)`);
  const factor = raw.factor ?? 2;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1) problems.push(`${where}: backoff.factor must be a number ≥ 1 (got ${String(factor)})`);
  const jitter = raw.jitter ?? false;
  if (typeof jitter !== 'boolean') problems.push(`${where}: backoff.jitter must be true or false`);
  let timeoutMs: number | undefined;
  if (options.timeout !== undefined) {
    invalid = false;
    timeoutMs = duration(options.timeout, 0, 'timeout');
    if (!invalid && timeoutMs === 0) problems.push(`${where}: timeout must be greater than zero`);
  }
  if (options.retryIf !== undefined && typeof options.retryIf !== 'function') problems.push(`${where}: retryIf must be a function`);
  return Object.freeze({
    retries,
    backoff: Object.freeze({ type, minMs, maxMs, factor, jitter }),
    timeoutMs,
    retryIf: options.retryIf,
  });
}

/**
 * The delay before the attempt after `failedAttempt` (1-based). Pure: `random` is injected.
 * exponential: min · factor^(failedAttempt-1) capped at max; fixed: min. Jitter spreads the
 * delay uniformly over [delay/2, delay].
 */
export function backoffDelay(policy: RetryPolicy, failedAttempt: number, random: () => number = Math.random): number {
  const { type, minMs, maxMs, factor, jitter } = policy.backoff;
  const base = type === 'fixed' ? minMs : Math.min(maxMs, minMs * factor ** Math.max(0, failedAttempt - 1));
  const delay = jitter ? base / 2 + random() * (base / 2) : base;
  return Math.round(delay);
}
