/**
 * results/latest.json: its shape, the merge that lets one part be rerun alone (the sections of the
 * parts not rerun are kept from the previous file, each with the time it was measured), and the
 * issue 4 targets computed from whatever the file holds.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Part } from './cli';
import { claimRatios, type ClaimLatencyResult } from './claim-latency';
import { ratios, type Ratio, type SystemResult } from './overhead';
import type { ParkedMemoryResult } from './parked-memory';
import type { StatementProfile } from './profile';
import { fmt } from './report';
import type { WorkerScalingResult } from './worker-scaling';

export interface Machine {
  nproc: number;
  cpu: string;
  memoryGiB: number;
  kernel: string;
  filesystem: string;
}

export interface Target {
  target: string;
  measured: string;
  met: boolean;
}

export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  machine: Machine;
  versions: Record<string, string>;
  /** The settings of the last invocation (each section also records its own sizes). */
  settings: Record<string, unknown>;
  /** When each part was last measured (ISO time); parts not rerun keep their earlier figures. */
  measuredAt: Partial<Record<Part, string>>;
  results: SystemResult[];
  ratios: Ratio[];
  profiles: StatementProfile[];
  parkedMemory?: ParkedMemoryResult;
  claimLatency?: ClaimLatencyResult[];
  workerScaling?: WorkerScalingResult;
  targets: Target[];
}

/** The sections this invocation measured. */
export interface Measured {
  parts: ReadonlySet<Part>;
  results: SystemResult[];
  profiles: StatementProfile[];
  parkedMemory?: ParkedMemoryResult;
  claimLatency?: ClaimLatencyResult[];
  workerScaling?: WorkerScalingResult;
}

export function readResults(file: string): BenchResults | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<BenchResults>;
    return Array.isArray(parsed.results) ? (parsed as BenchResults) : undefined;
  } catch {
    return undefined;
  }
}

const family = (backend: string): string => (backend.startsWith('sqlite') ? 'sqlite' : backend);

/**
 * This invocation's sections over the previous file's: a backend's rows in `results` are replaced
 * together (ratios only ever compare one invocation's figures), profiles per backend family.
 */
export function mergeResults(previous: BenchResults | undefined, now: Measured, header: Omit<BenchResults, 'measuredAt' | 'results' | 'ratios' | 'profiles' | 'targets' | 'parkedMemory' | 'claimLatency' | 'workerScaling'>): BenchResults {
  const measuredAt: Partial<Record<Part, string>> = { ...(previous?.measuredAt ?? {}) };
  for (const part of now.parts) measuredAt[part] = header.startedAt;
  const newBackends = new Set(now.results.map((r) => r.backend));
  const results = [...(previous?.results ?? []).filter((r) => !newBackends.has(r.backend)), ...now.results];
  const newProfiles = new Set(now.profiles.map((p) => family(p.backend)));
  const profiles = [...(previous?.profiles ?? []).filter((p) => !newProfiles.has(family(p.backend))), ...now.profiles];
  const merged: BenchResults = {
    ...header,
    versions: { ...(previous?.versions ?? {}), ...header.versions },
    measuredAt,
    results,
    ratios: ratios(results),
    profiles,
    ...((now.parkedMemory ?? previous?.parkedMemory) ? { parkedMemory: now.parkedMemory ?? previous?.parkedMemory } : {}),
    ...((now.claimLatency ?? previous?.claimLatency) ? { claimLatency: now.claimLatency ?? previous?.claimLatency } : {}),
    ...((now.workerScaling ?? previous?.workerScaling) ? { workerScaling: now.workerScaling ?? previous?.workerScaling } : {}),
    targets: [],
  };
  merged.targets = targets(merged);
  return merged;
}

/** Issue 4's targets, for each section present. */
export function targets(r: BenchResults): Target[] {
  const out: Target[] = [];
  const find = (backend: string, system: string): SystemResult | undefined => r.results.find((x) => x.backend === backend && x.system === system);
  const ratio = (backend: string, system: string): Ratio | undefined => r.ratios.find((x) => x.backend === backend && x.system === system);
  const pg = ratio('postgres', 'cairn');
  const pgCairn = find('postgres', 'cairn');
  if (pg && pgCairn) {
    const c = pgCairn.cN.concurrency;
    out.push({ target: `PostgreSQL C=${c}: Cairn runs/s ≥ 1.0× floor`, measured: `${fmt(pg.cNRunsPerSec)}×`, met: pg.cNRunsPerSec >= 1.0 });
    out.push({ target: 'PostgreSQL C=1: Cairn p50 ≤ 1.25× floor', measured: `${fmt(pg.c1P50)}×`, met: pg.c1P50 <= 1.25 });
    const commits = Math.max(pgCairn.c1.counts?.commitsPerRun ?? Infinity, pgCairn.cN.counts?.commitsPerRun ?? Infinity);
    // A phase of 2200 runs may show one stray transaction of its own (opening or closing the runner): 4.0005.
    out.push({ target: 'PostgreSQL: ≤ 4 commits per 3-step run', measured: `${fmt(pgCairn.c1.counts?.commitsPerRun, 3)} (C=1), ${fmt(pgCairn.cN.counts?.commitsPerRun, 3)} (C=${c})`, met: commits <= 4.005 });
  }
  const dbos = find('postgres', 'dbos');
  if (dbos && pgCairn) {
    const x = pgCairn.cN.runsPerSec / dbos.cN.runsPerSec;
    out.push({ target: `PostgreSQL C=${pgCairn.cN.concurrency}: Cairn runs/s ≥ 4× DBOS`, measured: `${fmt(x)}× (${fmt(pgCairn.cN.runsPerSec, 0)} vs ${fmt(dbos.cN.runsPerSec, 0)} runs/s)`, met: x >= 4 });
  }
  for (const s of r.ratios.filter((x) => x.backend.startsWith('sqlite') && x.system === 'cairn')) {
    const c = find(s.backend, 'cairn')!.cN.concurrency;
    out.push({ target: `${s.backend} C=1: Cairn ≥ 0.8× floor (runs/s)`, measured: `${fmt(s.c1RunsPerSec)}× (p50 ratio ${fmt(s.c1P50)}×)`, met: s.c1RunsPerSec >= 0.8 });
    out.push({ target: `${s.backend} C=${c}: Cairn ≥ 0.8× floor (runs/s)`, measured: `${fmt(s.cNRunsPerSec)}×`, met: s.cNRunsPerSec >= 0.8 });
  }
  if (r.parkedMemory) {
    const m = r.parkedMemory;
    out.push({ target: `${m.parked} parked runs add < 20 MB to a worker's RSS`, measured: `+${fmt(m.rssDeltaMB, 1)} MB RSS (heap +${fmt(m.heapUsedDeltaMB, 1)} MB)`, met: m.rssDeltaMB < 20 });
  }
  for (const c of r.claimLatency ?? []) {
    const sets = c.fullAnalyzed ? ([['no statistics', c.full], ['after ANALYZE', c.fullAnalyzed]] as const) : ([['', c.full]] as const);
    for (const [label, full] of sets) {
      const x = claimRatios(c, full).claim;
      out.push({
        target: `${c.backend}${label ? ` (${label})` : ''}: claim latency with ${c.fill.runs} finished runs ≤ 1.2× empty (p50)`,
        measured: `${fmt(x)}× (${fmt(full.claim.p50Ms, 3)} vs ${fmt(c.empty.claim.p50Ms, 3)} ms)`,
        met: x !== null && x <= 1.2,
      });
    }
  }
  return out;
}
