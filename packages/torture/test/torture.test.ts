/**
 * The short torture run (issue 4), for CI: the driver of `pnpm torture` with small parameters, on
 * PostgreSQL (3 worker processes, 300 runs, at least 2 SIGKILLs, one server restart, forced lease
 * expiries, one zombie) and on one SQLite file shared by 3 worker processes (200 runs, the same
 * chaos without the restart). Every invariant of verify.ts must hold. The workers run the TypeScript
 * sources against the built packages (`pnpm test` builds first). The PostgreSQL server is this
 * test's own throwaway one, so it may restart it. CAIRN_TORTURE_SEED overrides the chaos seed;
 * CAIRN_TORTURE_LOG=<file> appends the driver's log (kills, restarts, zombies, progress) to a file.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { startThrowawayPostgres } from '@cairn/storage-postgres/testing';
import { assertBuilt } from '../../core/test/support/processes';
import { runTorture, type TortureReport } from '../src/driver';
import { shortPreset } from '../src/presets';
import { formatReport } from '../src/report';

const REGISTER = join(__dirname, '..', '..', 'core', 'test', 'support', 'register-ts.js');
const WORKER_ARGV = ['-r', REGISTER, join(__dirname, '..', 'src', 'worker.ts')];
const SEED = Number(process.env.CAIRN_TORTURE_SEED ?? '20251123');
const LOG_FILE = process.env.CAIRN_TORTURE_LOG;
const log = LOG_FILE ? (line: string): void => appendFileSync(LOG_FILE, `${new Date().toISOString()} ${line}\n`) : undefined;

beforeAll(() => assertBuilt());

function expectEveryInvariant(report: TortureReport): void {
  console.log(formatReport(report));
  expect(report.stalled).toBe(false);
  for (const check of report.verdict.checks) expect({ check: check.name, ok: check.ok, examples: check.examples }).toEqual({ check: check.name, ok: true, examples: [] });
  const figures = report.verdict.figures;
  expect({ completed: figures.completed, lost: figures.lost, failed: figures.failed }).toEqual({ completed: report.runs, lost: 0, failed: 0 });
  // The chaos really happened: the checks above are not vacuous.
  expect(report.injected.kills).toBeGreaterThanOrEqual(2);
  expect(report.injected.zombies).toBe(1);
  expect(report.injected.forcedLeaseExpiries).toBeGreaterThan(0);
  expect(figures.takeoversByCause.kill).toBeGreaterThan(0); // a killed worker's runs were taken over
  expect(figures.designedFailures).toBeGreaterThan(0);
  const [zombie] = figures.zombies;
  expect(zombie!.heldRuns).toBeGreaterThan(0);
  expect(zombie!.fencedCommits + zombie!.refusedHeartbeats).toBeGreaterThan(0);
}

test('PostgreSQL, 3 worker processes, 300 runs under kills, a restart, lease expiries and a zombie: every invariant holds', async () => {
  const server = await startThrowawayPostgres();
  try {
    const report = await runTorture({ ...shortPreset('postgres', SEED), workerArgv: WORKER_ARGV, postgres: server, log });
    expectEveryInvariant(report);
    expect(report.injected.restarts).toBe(1);
  } finally {
    server.stop();
  }
}, 240_000);

test('SQLite, 3 worker processes sharing one file, 200 runs under kills, lease expiries and a zombie: every invariant holds', async () => {
  const report = await runTorture({ ...shortPreset('sqlite', SEED), workerArgv: WORKER_ARGV, log });
  expectEveryInvariant(report);
}, 240_000);
