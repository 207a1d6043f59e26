/**
 * A worker's memory with N parked runs vs none (issue 4 target: 10 000 parked runs add < 20 MB
 * RSS). One worker process `work()`s on PostgreSQL. A client enqueues `baselineRuns` runs of W;
 * once the worker has completed them, its RSS and heap are read after a full GC ("none parked",
 * the worker warmed by as many runs as it will then park). Then the client enqueues N runs of
 * ParkingW, whose step fails and retries only after an hour, so each run parks durably (wake_at,
 * lease released); once the worker has parked them all, the same snapshot is taken again.
 */
import { Runner } from '@cairn/core';
import { PostgresStorage } from '@cairn/storage-postgres';
import { concurrent } from './measure';
import { fmt, markdown, progress } from './report';
import { forkWorker, waitFor, type MemorySnapshot } from './worker-pool';
import { PARK_BACKOFF, ParkingW, WorkloadW, silentLogger } from './workload';

const SCHEMA = 'cairn';
const MB = 2 ** 20;

export interface ParkedMemoryResult {
  parked: number;
  baselineRuns: number;
  workerConcurrency: number;
  parkBackoff: string;
  /** Right after the worker process started, before any run. */
  fresh: MemorySnapshot;
  /** After `baselineRuns` completed runs, nothing parked. */
  none: MemorySnapshot;
  /** After `parked` runs parked. */
  withParked: MemorySnapshot;
  rssDeltaMB: number;
  heapUsedDeltaMB: number;
  /** Heap bytes retained per parked run. */
  heapBytesPerParkedRun: number;
  /** Seconds the worker took to claim and park all N runs. */
  parkSeconds: number;
}

export async function parkedMemory(url: string, parked: number, baselineRuns: number, concurrency: number): Promise<ParkedMemoryResult> {
  const log = (line: string): void => progress(`  memory    ${line}`);
  const client = new Runner({ storage: new PostgresStorage({ connectionString: url, schema: SCHEMA }), role: 'client', workflows: [WorkloadW, ParkingW], logger: silentLogger });
  await client.migrate();
  const worker = await forkWorker(url, SCHEMA);
  try {
    const fresh = await worker.memory();
    worker.work(concurrency);
    log(`${baselineRuns} runs of W (baseline)`);
    await concurrent((trackingId, input) => client.start(WorkloadW, input, trackingId), baselineRuns, 32, 'memory-w');
    await waitFor('the baseline runs', () => worker.progress.completed >= baselineRuns, 600_000);
    const none = await worker.memory();
    log(`${parked} runs of ParkingW (each parks for ${PARK_BACKOFF})`);
    const t0 = Date.now();
    await concurrent((trackingId, input) => client.start(ParkingW, input, trackingId), parked, 32, 'memory-park');
    await waitFor('the parked runs', () => worker.progress.parked >= parked, 600_000);
    const parkSeconds = (Date.now() - t0) / 1000;
    const withParked = await worker.memory();
    return {
      parked,
      baselineRuns,
      workerConcurrency: concurrency,
      parkBackoff: PARK_BACKOFF,
      fresh,
      none,
      withParked,
      rssDeltaMB: (withParked.rssBytes - none.rssBytes) / MB,
      heapUsedDeltaMB: (withParked.heapUsedBytes - none.heapUsedBytes) / MB,
      heapBytesPerParkedRun: (withParked.heapUsedBytes - none.heapUsedBytes) / parked,
      parkSeconds,
    };
  } finally {
    await worker.stop().catch(() => undefined);
    await client.close();
  }
}

export function parkedMemoryReport(r: ParkedMemoryResult): string {
  const row = (label: string, s: MemorySnapshot): string[] => [
    label,
    fmt(s.rssBytes / MB, 1),
    fmt(s.heapUsedBytes / MB, 1),
    fmt(s.heapTotalBytes / MB, 1),
    fmt(s.externalBytes / MB, 1),
    String(s.activeResources.Timeout ?? 0),
  ];
  return [
    markdown(['worker state', 'RSS MB', 'heap used MB', 'heap total MB', 'external MB', 'active timers'], [row('fresh (no runs yet)', r.fresh), row(`after ${r.baselineRuns} completed runs, none parked`, r.none), row(`with ${r.parked} parked runs`, r.withParked)], 1),
    '',
    `${r.parked} parked runs: RSS +${fmt(r.rssDeltaMB, 1)} MB, heap used +${fmt(r.heapUsedDeltaMB, 1)} MB (${fmt(r.heapBytesPerParkedRun, 0)} bytes per parked run); parking them took ${fmt(r.parkSeconds, 1)} s`,
  ].join('\n');
}
