/**
 * Measurement primitives shared by every part of the bench: fresh tracking ids, latency
 * percentiles, the sequential (C=1) loop, the C=N promise pool, and the machine's busy CPU time.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { STEPS } from './workload';

/** One run of workload W by some system: start it with this tracking id and await its result. */
export type RunFn = (trackingId: string, input: unknown) => Promise<unknown>;

/** One measured system on one backend: opened fresh for each phase, closed after it. */
export interface System {
  open(): Promise<{ run: RunFn; close(): Promise<void> }>;
}

let sequence = 0;
/** A fresh tracking id for every run, across phases and systems. */
export const nextTrackingId = (tag: string): string => `${tag}-${++sequence}`;

export const percentile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;

export interface Latency {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

/** p50, p99 and mean of a set of durations in ms. */
export function latency(durations: readonly number[]): Latency {
  const sorted = [...durations].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return { samples: sorted.length, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99), meanMs: sum / Math.max(1, sorted.length) };
}

/** Times `count` sequential calls of `fn(i)`; `prepare(i)` runs before each call, outside the timing. */
export async function timeEach(count: number, fn: (i: number) => Promise<unknown>, prepare?: (i: number) => Promise<unknown>): Promise<number[]> {
  const durations: number[] = [];
  for (let i = 0; i < count; i++) {
    await prepare?.(i);
    const t0 = performance.now();
    await fn(i);
    durations.push(performance.now() - t0);
  }
  return durations;
}

export interface SequentialResult {
  runs: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  runsPerSec: number;
}

export interface ConcurrentResult {
  runs: number;
  concurrency: number;
  elapsedMs: number;
  runsPerSec: number;
  stepsPerSec: number;
}

export async function sequential(fn: RunFn, runs: number, tag: string): Promise<SequentialResult> {
  const begin = performance.now();
  const durations = await timeEach(runs, (i) => fn(nextTrackingId(tag), { n: i }));
  const elapsed = performance.now() - begin;
  const { p50Ms, p99Ms } = latency(durations);
  return { runs, p50Ms, p99Ms, meanMs: elapsed / runs, runsPerSec: (runs * 1000) / elapsed };
}

/** `concurrency` runs in flight until `runs` have finished (a simple promise pool). */
export async function concurrent(fn: RunFn, runs: number, concurrency: number, tag: string): Promise<ConcurrentResult> {
  let next = 0;
  const begin = performance.now();
  const lane = async (): Promise<void> => {
    while (next < runs) {
      const i = next++;
      await fn(nextTrackingId(tag), { n: i });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, runs) }, lane));
  const elapsedMs = performance.now() - begin;
  const runsPerSec = (runs * 1000) / elapsedMs;
  return { runs, concurrency, elapsedMs, runsPerSec, stepsPerSec: runsPerSec * STEPS.length };
}

/** Busy CPU time of the whole machine so far, in ms (Linux /proc/stat), or null elsewhere. */
export function machineBusyMs(): number | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return ((user + nice + system + irq + softirq + steal) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}
