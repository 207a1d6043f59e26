/**
 * Drain throughput of K worker processes on one PostgreSQL (K = 1, 2, 4 by default). For each K:
 * empty tables, a client enqueues a backlog of W runs (warm-up + measured + a tail, so the
 * measured window never runs dry), then K forked workers `work()` it off. Runs/s is measured
 * between the warm-up-th and the (warm-up + runs)-th completion, over all workers' completion
 * times merged.
 */
import pg from 'pg';
import { Runner } from '@cairn/core';
import { PostgresStorage } from '@cairn/storage-postgres';
import { concurrent, machineBusyMs } from './measure';
import { fmt, markdown, progress } from './report';
import { forkWorker, waitFor, type WorkerProcess } from './worker-pool';
import { STEPS, WorkloadW, silentLogger } from './workload';

const SCHEMA = 'cairn';

export interface WorkerScalingPoint {
  workers: number;
  /** Runs/s over the measured window. */
  runsPerSec: number;
  stepsPerSec: number;
  /** Completed runs per worker over the whole drain (how evenly the work spread). */
  perWorker: number[];
  /** Busy CPU of the whole machine per run over the whole drain (/proc/stat). */
  machineCpuMsPerRun: number | null;
  /** CPU of the worker processes per run over the whole drain. */
  workerCpuMsPerRun: number;
  /** Seconds the client took to enqueue the backlog (C=32). */
  enqueueSeconds: number;
}

export interface WorkerScalingResult {
  runs: number;
  warmup: number;
  workerConcurrency: number;
  points: WorkerScalingPoint[];
}

export async function workerScaling(url: string, counts: readonly number[], runs: number, warmup: number, concurrency: number): Promise<WorkerScalingResult> {
  const log = (line: string): void => progress(`  workers   ${line}`);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const client = new Runner({ storage: new PostgresStorage({ connectionString: url, schema: SCHEMA }), role: 'client', workflows: [WorkloadW], logger: silentLogger });
  await client.migrate();
  const points: WorkerScalingPoint[] = [];
  try {
    for (const k of counts) {
      await admin.query(`truncate ${SCHEMA}.cairn_events, ${SCHEMA}.cairn_steps, ${SCHEMA}.cairn_runs`);
      const total = warmup + runs + k * concurrency;
      log(`K=${k}: enqueue ${total} runs`);
      const enqueue = await concurrent((trackingId, input) => client.start(WorkloadW, input, trackingId), total, 32, `workers-${k}`);
      await admin.query(`vacuum analyze ${SCHEMA}.cairn_runs, ${SCHEMA}.cairn_steps, ${SCHEMA}.cairn_events`);
      const workers: WorkerProcess[] = [];
      try {
        for (let i = 0; i < k; i++) workers.push(await forkWorker(url, SCHEMA));
        log(`K=${k}: drain`);
        const busy0 = machineBusyMs();
        for (const w of workers) w.work(concurrency);
        const completed = (): number => workers.reduce((sum, w) => sum + w.progress.completed, 0);
        await waitFor(`K=${k} to drain ${total} runs`, () => completed() >= total, 600_000);
        const busy1 = machineBusyMs();
        const stopped = await Promise.all(workers.splice(0).map((w) => w.stop()));
        const times = stopped.flatMap((s) => s.completedAt).sort((a, b) => a - b);
        const windowMs = times[warmup + runs - 1]! - times[warmup - 1]!;
        const runsPerSec = (runs * 1000) / windowMs;
        points.push({
          workers: k,
          runsPerSec,
          stepsPerSec: runsPerSec * STEPS.length,
          perWorker: stopped.map((s) => s.completedAt.length),
          machineCpuMsPerRun: busy0 === null || busy1 === null ? null : (busy1 - busy0) / total,
          workerCpuMsPerRun: stopped.reduce((sum, s) => sum + s.cpuMs, 0) / total,
          enqueueSeconds: enqueue.elapsedMs / 1000,
        });
        log(`K=${k}: ${runsPerSec.toFixed(0)} runs/s`);
      } finally {
        await Promise.all(workers.map((w) => w.stop().catch(() => undefined)));
      }
    }
  } finally {
    await client.close();
    await admin.end();
  }
  return { runs, warmup, workerConcurrency: concurrency, points };
}

export function workerScalingReport(r: WorkerScalingResult): string {
  const base = r.points[0]?.runsPerSec ?? NaN;
  return markdown(
    ['worker processes', 'runs/s', 'steps/s', `× ${r.points[0]?.workers ?? 1} worker`, 'runs per worker', 'worker CPU ms/run', 'machine CPU ms/run'],
    r.points.map((p) => [String(p.workers), fmt(p.runsPerSec, 0), fmt(p.stepsPerSec, 0), `${fmt(p.runsPerSec / base)}×`, p.perWorker.join(' / '), fmt(p.workerCpuMsPerRun, 3), fmt(p.machineCpuMsPerRun, 3)]),
    1,
  );
}
