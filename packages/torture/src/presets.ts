/**
 * presets — the parameters of the long run (`pnpm torture`) and of the short one the jest suite
 * runs in CI. Same driver, same workflow, same checks; only sizes and chaos intervals differ.
 *
 * Leases are short so that kills are recovered quickly, but not shorter than the stalls the
 * machine produces without any fault: on SQLite a worker waiting for the file's write lock is
 * frozen (better-sqlite3 is synchronous; busy_timeout is 5 s), heartbeats included, so a 1.5 s
 * lease was lost there under plain load (docs/reliability.md). SQLite gets 5 s.
 *
 * The window of unfinished runs is only a little larger than the workers' capacity: a worker then
 * often has a free slot, so a lease the chaos expires is claimed at once, before its holder's next
 * heartbeat renews it (with a deep backlog the claim loop would pick older pending runs first).
 */
import type { TortureOptions } from './driver';

export type Preset = Omit<TortureOptions, 'workerArgv' | 'postgres' | 'log' | 'dir' | 'keep'>;

const common = {
  pollMs: 50,
  poolSize: 4,
  stepMs: [1, 8] as [number, number],
  slowChance: 0.03,
  slowMs: [150, 500] as [number, number],
  stallMs: 120_000,
};

/** The run: PostgreSQL, 4 workers, 10 000 runs; kills every few seconds, one restart, zombies. */
export function longPostgres(seed: number, runs = 10_000, workers = 4): Preset {
  return {
    ...common,
    backend: 'postgres',
    runs,
    workers,
    concurrency: 8,
    leaseMs: 3000,
    window: 40,
    kills: { everyMs: [3000, 7000], atLeast: 5, respawnAfterMs: 500 },
    expiries: { everyMs: 400, perRound: 2, idleMs: 60 },
    restarts: 1,
    zombies: 2,
    seed,
  };
}

/** The same on one SQLite file shared by several worker processes. */
export function longSqlite(seed: number, runs = 2000, workers = 4): Preset {
  return {
    ...common,
    backend: 'sqlite',
    runs,
    workers,
    concurrency: 4,
    leaseMs: 5000,
    window: 20,
    kills: { everyMs: [3000, 7000], atLeast: 5, respawnAfterMs: 500 },
    expiries: { everyMs: 500, perRound: 2, idleMs: 60 },
    restarts: 0,
    zombies: 2,
    seed,
  };
}

/** CI: a few hundred runs, a couple of kills, one restart (PostgreSQL), one zombie, expiries throughout. */
export function shortPreset(backend: 'postgres' | 'sqlite', seed: number): Preset {
  return {
    ...common,
    backend,
    runs: backend === 'postgres' ? 300 : 200,
    workers: 3,
    concurrency: backend === 'postgres' ? 6 : 4,
    leaseMs: backend === 'postgres' ? 2000 : 5000,
    window: backend === 'postgres' ? 24 : 16,
    kills: { everyMs: [1500, 3000], atLeast: 2, respawnAfterMs: 300 },
    expiries: { everyMs: 250, perRound: 1, idleMs: 60 },
    restarts: backend === 'postgres' ? 1 : 0,
    zombies: 1,
    seed,
    stallMs: 20_000,
  };
}
