/**
 * The cost of durability: workload W run by Cairn, by the raw floor and (on PostgreSQL) by DBOS
 * Transact, interleaved in one invocation on one backend, at C=1 (latency) and C=N (throughput),
 * with CPU time and PostgreSQL commit / WAL-sync counters per run. Also the ratios to the floor.
 */
import type pg from 'pg';
import { Runner } from '@cairn/core';
import type { PostgresStorage } from '@cairn/storage-postgres';
import type { SqliteStorage } from '@cairn/storage-sqlite';
import type { Floor } from './floor';
import { concurrent, machineBusyMs, sequential, type ConcurrentResult, type RunFn, type SequentialResult, type System } from './measure';
import { pgCounters } from './postgres-server';
import { fmt, markdown, progress } from './report';
import { WorkloadW, silentLogger } from './workload';

export type SystemName = 'floor' | 'cairn' | 'dbos';

/** A system measured on a backend; `database` (PostgreSQL) is where its commits are counted. */
export interface Contender {
  name: SystemName;
  system: System;
  database?: string;
}

export interface PhaseShape {
  runs: number;
  warmup: number;
  concurrency: number;
}

export function cairnSystem(storage: () => SqliteStorage | PostgresStorage): System {
  return {
    async open() {
      const runner = new Runner({ storage: storage(), workflows: [WorkloadW], logger: silentLogger });
      return { run: (trackingId, input) => runner.run(WorkloadW, input, trackingId), close: () => runner.close() };
    },
  };
}

export function floorSystem(open: () => Floor | Promise<Floor>): System {
  return {
    async open() {
      const floor = await open();
      return { run: (trackingId, input) => floor.run(trackingId, input), close: () => floor.close() };
    },
  };
}

export interface PhaseCounts {
  commitsPerRun: number;
  rollbacksPerRun: number;
  walSyncsPerRun: number | null;
}

interface PhaseExtras {
  /** This process's CPU time (user + system) per measured run, all threads. */
  nodeCpuMsPerRun: number;
  /** The whole machine's busy CPU time per run (/proc/stat; includes PostgreSQL and any noise). */
  machineCpuMsPerRun: number | null;
  counts?: PhaseCounts;
}

export interface SystemResult {
  backend: string;
  system: SystemName;
  c1: SequentialResult & PhaseExtras;
  cN: ConcurrentResult & PhaseExtras;
}

async function withCounts<T extends object>(monitor: pg.Client | undefined, database: string | undefined, runs: number, body: () => Promise<T>): Promise<T & { counts?: PhaseCounts }> {
  if (!monitor || !database) return body();
  const before = await pgCounters(monitor, database);
  const result = await body();
  const after = await pgCounters(monitor, database);
  const counts: PhaseCounts = {
    commitsPerRun: (after.xactCommit - before.xactCommit) / runs,
    rollbacksPerRun: (after.xactRollback - before.xactRollback) / runs,
    walSyncsPerRun: after.walSync !== null && before.walSync !== null ? (after.walSync - before.walSync) / runs : null,
  };
  return { ...result, counts };
}

/** Warm-up then measurement, in a freshly opened system that is closed afterwards (so counters flush). */
async function phase<T extends object>(
  contender: Contender,
  shape: PhaseShape,
  monitor: pg.Client | undefined,
  measure: (run: RunFn) => Promise<T>,
  warm: (run: RunFn) => Promise<unknown>,
): Promise<T & PhaseExtras> {
  return withCounts(monitor, contender.database, shape.warmup + shape.runs, async () => {
    const opened = await contender.system.open();
    try {
      await warm(opened.run);
      const cpu = process.cpuUsage();
      const machine = machineBusyMs();
      const result = await measure(opened.run);
      const used = process.cpuUsage(cpu);
      const busy = machine === null ? null : (machineBusyMs() ?? machine) - machine;
      return { ...result, nodeCpuMsPerRun: (used.user + used.system) / 1000 / shape.runs, machineCpuMsPerRun: busy === null ? null : busy / shape.runs };
    } finally {
      await opened.close();
    }
  });
}

/**
 * Every contender at C=1, then every contender at C=N, in the given order each time, so slow
 * drift on a noisy machine hits all of them alike.
 */
export async function measureBackend(backend: string, contenders: Contender[], shape: PhaseShape, monitor?: pg.Client): Promise<SystemResult[]> {
  const log = (what: string): void => progress(`  ${backend.padEnd(16)} ${what}`);
  const c1 = new Map<SystemName, SystemResult['c1']>();
  const cN = new Map<SystemName, SystemResult['cN']>();
  for (const c of contenders) {
    log(`${c.name} C=1`);
    c1.set(c.name, await phase(c, shape, monitor, (run) => sequential(run, shape.runs, `${backend}-${c.name}-c1`), (run) => sequential(run, shape.warmup, `${backend}-${c.name}-warm1`)));
  }
  for (const c of contenders) {
    log(`${c.name} C=${shape.concurrency}`);
    cN.set(
      c.name,
      await phase(
        c,
        shape,
        monitor,
        (run) => concurrent(run, shape.runs, shape.concurrency, `${backend}-${c.name}-cN`),
        (run) => concurrent(run, shape.warmup, shape.concurrency, `${backend}-${c.name}-warmN`),
      ),
    );
  }
  return contenders.map((c) => ({ backend, system: c.name, c1: c1.get(c.name)!, cN: cN.get(c.name)! }));
}

// ---- ratios and report ------------------------------------------------------------------------------

export interface Ratio {
  backend: string;
  /** The system compared with the floor measured in the same invocation. */
  system: SystemName;
  /** C=1 p50 ÷ floor C=1 p50 (lower is better). */
  c1P50: number;
  /** C=1 runs/s ÷ floor C=1 runs/s (sequential throughput, higher is better). */
  c1RunsPerSec: number;
  /** C=N runs/s ÷ floor C=N runs/s (higher is better). */
  cNRunsPerSec: number;
}

export function ratios(results: readonly SystemResult[]): Ratio[] {
  const out: Ratio[] = [];
  for (const backend of new Set(results.map((r) => r.backend))) {
    const floor = results.find((r) => r.backend === backend && r.system === 'floor');
    if (!floor) continue;
    for (const r of results.filter((x) => x.backend === backend && x.system !== 'floor')) {
      out.push({ backend, system: r.system, c1P50: r.c1.p50Ms / floor.c1.p50Ms, c1RunsPerSec: r.c1.runsPerSec / floor.c1.runsPerSec, cNRunsPerSec: r.cN.runsPerSec / floor.cN.runsPerSec });
    }
  }
  return out;
}

export function overheadReport(results: readonly SystemResult[], concurrency: number): string {
  const head = ['backend', 'system', 'C=1 p50 ms', 'C=1 p99 ms', 'C=1 runs/s', `C=${concurrency} runs/s`, `C=${concurrency} steps/s`, 'node CPU ms/run C=1', `node CPU ms/run C=${concurrency}`, `machine CPU ms/run C=${concurrency}`, 'commits/run C=1', `commits/run C=${concurrency}`, 'WAL syncs/run C=1', `WAL syncs/run C=${concurrency}`];
  const rows = results.map((r) => [
    r.backend,
    r.system,
    fmt(r.c1.p50Ms, 3),
    fmt(r.c1.p99Ms, 3),
    fmt(r.c1.runsPerSec, 0),
    fmt(r.cN.runsPerSec, 0),
    fmt(r.cN.stepsPerSec, 0),
    fmt(r.c1.nodeCpuMsPerRun, 3),
    fmt(r.cN.nodeCpuMsPerRun, 3),
    fmt(r.cN.machineCpuMsPerRun, 3),
    fmt(r.c1.counts?.commitsPerRun),
    fmt(r.cN.counts?.commitsPerRun),
    fmt(r.c1.counts?.walSyncsPerRun),
    fmt(r.cN.counts?.walSyncsPerRun),
  ]);
  const rs = ratios(results);
  return [
    markdown(head, rows),
    '',
    markdown(
      ['backend', 'system', 'C=1 p50 ÷ floor', 'C=1 runs/s ÷ floor', `C=${concurrency} runs/s ÷ floor`],
      rs.map((r) => [r.backend, r.system, `${fmt(r.c1P50)}×`, `${fmt(r.c1RunsPerSec)}×`, `${fmt(r.cNRunsPerSec)}×`]),
    ),
  ].join('\n');
}
