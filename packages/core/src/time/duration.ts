/**
 * duration — durations are accepted as milliseconds or as strings ('200ms', '30s', '5m', '2d').
 * Parsing is the `ms` package's; this module only validates and names the bad option.
 */
import ms from 'ms';

export type Duration = number | string;

/** Parses a duration to milliseconds, or returns a problem description. */
export function parseDuration(value: Duration, label: string): { ms: number } | { problem: string } {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return { problem: `${label} must be a finite, non-negative number of milliseconds (got ${value})` };
    return { ms: value };
  }
  if (typeof value === 'string') {
    const parsed = value.trim() === '' ? undefined : (ms as (s: string) => number | undefined)(value);
    if (typeof parsed !== 'number' || !Number.isFinite(parsed) || parsed < 0) {
      return { problem: `${label} must be a duration like '200ms', '30s' or '5m' (got '${value}')` };
    }
    return { ms: parsed };
  }
  return { problem: `${label} must be a number of milliseconds or a string like '30s' (got ${typeof value})` };
}
