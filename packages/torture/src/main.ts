/**
 * Cairn torture suite, long version (issue 4): chaos on PostgreSQL (10 000 runs, 4 worker
 * processes, SIGKILLs every few seconds, one server restart, forced lease expiries, zombies), then
 * the same on one SQLite file shared by 4 worker processes. Every invariant is checked against the
 * steps' own ledger and the audit triggers (see verify.ts).
 *
 *   pnpm torture                                 # both backends, default sizes
 *   pnpm torture -- --only sqlite --sqlite-runs 500
 *   pnpm torture -- --runs 2000 --seed 7 --keep  # keep ledgers and database
 *
 * Prints a summary per backend and writes packages/torture/results/latest.json. Exits 1 if any
 * invariant broke (the ledgers are then kept; the path is printed).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startThrowawayPostgres, type ThrowawayPostgres } from '@cairn/storage-postgres/testing';
import { runTorture, type TortureReport } from './driver';
import { longPostgres, longSqlite } from './presets';
import { formatReport } from './report';

interface Cli {
  only: 'all' | 'postgres' | 'sqlite';
  runs: number;
  sqliteRuns: number;
  workers: number;
  seed: number;
  keep: boolean;
}

function parseCli(argv: string[]): Cli {
  const { values } = parseArgs({
    args: argv[0] === '--' ? argv.slice(1) : argv,
    strict: true,
    options: {
      only: { type: 'string', default: 'all' },
      runs: { type: 'string', default: '10000' },
      'sqlite-runs': { type: 'string', default: '2000' },
      workers: { type: 'string', default: '4' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      keep: { type: 'boolean', default: false },
    },
  });
  const int = (name: string, value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`--${name} must be a positive integer (got '${value}')`);
    return Number(value);
  };
  const only = values.only;
  if (only !== 'all' && only !== 'postgres' && only !== 'sqlite') throw new Error(`--only must be all, postgres or sqlite (got '${only}')`);
  return { only, runs: int('runs', values.runs), sqliteRuns: int('sqlite-runs', values['sqlite-runs']), workers: int('workers', values.workers), seed: int('seed', values.seed), keep: values.keep };
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  const workerArgv = [join(__dirname, 'worker.js')];
  const log = (line: string): void => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);
  const reports: TortureReport[] = [];
  if (cli.only !== 'sqlite') {
    const server: ThrowawayPostgres = await startThrowawayPostgres();
    try {
      log(`PostgreSQL (${server.bin}) on port ${server.port}`);
      reports.push(await runTorture({ ...longPostgres(cli.seed, cli.runs, cli.workers), workerArgv, postgres: server, log, keep: cli.keep }));
      console.log(formatReport(reports[reports.length - 1]!));
    } finally {
      server.stop();
    }
  }
  if (cli.only !== 'postgres') {
    reports.push(await runTorture({ ...longSqlite(cli.seed, cli.sqliteRuns, cli.workers), workerArgv, log, keep: cli.keep }));
    console.log(formatReport(reports[reports.length - 1]!));
  }
  const results = join(__dirname, '..', 'results');
  mkdirSync(results, { recursive: true });
  const machine = { node: process.version, cpus: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release() };
  writeFileSync(join(results, 'latest.json'), `${JSON.stringify({ machine, reports }, null, 2)}\n`);
  console.log(`\nwrote ${join(results, 'latest.json')}`);
  if (!reports.every((r) => r.verdict.ok)) process.exit(1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
