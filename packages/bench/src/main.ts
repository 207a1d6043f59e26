/**
 * Cairn benchmarks (issue 4): runs the selected parts, prints their tables, merges them into
 * packages/bench/results/latest.json and redraws docs/benchmarks.svg from that file.
 *
 *   pnpm bench                           # build everything, then every part with the defaults
 *   pnpm bench -- --runs 300             # a quicker pass
 *   pnpm bench -- --only dbos,claim      # some parts (see cli.ts); the others keep their last figures
 *
 * CAIRN_BENCH_PG_URL=postgres://… uses your server (it creates and drops databases cairn_bench*).
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { Runner } from '@cairn/core';
import { PostgresStorage } from '@cairn/storage-postgres';
import { SqliteStorage } from '@cairn/storage-sqlite';
import { claimLatencyPostgres, claimLatencySqlite, claimReport } from './claim-latency';
import { RESULTS_FILE, writeChart } from './chart';
import { parseCli, USAGE, type Cli, type Part } from './cli';
import { dbosSystem, migrateDbos } from './dbos';
import { postgresFloor, sqliteFloor } from './floor';
import { cairnSystem, floorSystem, measureBackend, overheadReport, type Contender } from './overhead';
import { parkedMemory, parkedMemoryReport } from './parked-memory';
import { openBenchPostgres, type BenchPostgres } from './postgres-server';
import { profilePostgres, profileReport, profileSqlite } from './profile';
import { markdown, progress } from './report';
import { mergeResults, readResults, type Machine, type Measured } from './results';
import { workerScaling, workerScalingReport } from './worker-scaling';
import { WorkloadW, silentLogger } from './workload';

/** The version in a dependency's package.json (found above its resolved entry point). */
function packageVersion(name: string): string {
  let dir = dirname(require.resolve(name));
  for (let i = 0; i < 5; i++, dir = dirname(dir)) {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (json.name === name && json.version) return json.version;
    } catch {
      // not here
    }
  }
  return '?';
}

function cairnVersion(): string | undefined {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', cwd: __dirname, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const sources = ['core', 'storage-sqlite', 'storage-postgres'].map((name) => join(__dirname, '..', '..', name, 'src'));
    const dirty = execFileSync('git', ['status', '--porcelain', '--', ...sources], { encoding: 'utf8', cwd: __dirname, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${head} + uncommitted engine changes` : head;
  } catch {
    return undefined; // not a git checkout
  }
}

async function migrated(storage: SqliteStorage | PostgresStorage): Promise<void> {
  const migrator = new Runner({ storage, workflows: [WorkloadW], logger: silentLogger });
  await migrator.migrate();
  await migrator.close();
}

/** Cairn vs the floor on SQLite, synchronous NORMAL and FULL. */
async function sqliteOverhead(cli: Cli, work: string, measured: Measured, versions: Record<string, string>): Promise<void> {
  const probe = new Database(':memory:');
  versions.sqlite = (probe.prepare('select sqlite_version() as v').get() as { v: string }).v;
  probe.close();
  versions.betterSqlite3 = packageVersion('better-sqlite3');
  for (const synchronous of ['NORMAL', 'FULL'] as const) {
    const dir = join(work, `sqlite-${synchronous.toLowerCase()}`);
    mkdirSync(dir);
    const cairnFile = join(dir, 'cairn.db');
    await migrated(new SqliteStorage({ filename: cairnFile, synchronous }));
    const contenders: Contender[] = [
      { name: 'floor', system: floorSystem(() => sqliteFloor(join(dir, 'floor.db'), synchronous)) },
      { name: 'cairn', system: cairnSystem(() => new SqliteStorage({ filename: cairnFile, synchronous })) },
    ];
    measured.results.push(...(await measureBackend(`sqlite ${synchronous}`, contenders, cli)));
  }
  if (cli.profile) measured.profiles.push(await profileSqlite(join(work, 'profile.db'), Math.min(cli.runs, 500)));
}

/** Cairn vs the floor on PostgreSQL, with DBOS next to them when the dbos part is selected. */
async function postgresOverhead(cli: Cli, server: BenchPostgres, measured: Measured): Promise<void> {
  const database = 'cairn_bench';
  const url = await server.createDatabase(database);
  await migrated(new PostgresStorage({ connectionString: url, schema: 'cairn' }));
  const contenders: Contender[] = [
    { name: 'floor', system: floorSystem(() => postgresFloor(url, 'floor')), database },
    { name: 'cairn', system: cairnSystem(() => new PostgresStorage({ connectionString: url, schema: 'cairn' })), database },
  ];
  const dbosDatabase = 'cairn_bench_dbos';
  if (cli.parts.has('dbos')) {
    const dbosUrl = await server.createDatabase(dbosDatabase);
    await migrateDbos(dbosUrl);
    contenders.push({ name: 'dbos', system: dbosSystem(dbosUrl), database: dbosDatabase });
  }
  measured.results.push(...(await measureBackend('postgres', contenders, cli, server.monitor)));
  if (cli.parts.has('postgres') && cli.profile) {
    measured.profiles.push(await profilePostgres(url, Math.min(cli.runs, 500), 1));
    measured.profiles.push(await profilePostgres(url, Math.min(cli.runs, 500), cli.concurrency));
  }
  await server.dropDatabase(database);
  if (cli.parts.has('dbos')) await server.dropDatabase(dbosDatabase);
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const cli = parseCli(process.argv.slice(2));
  const started = new Date();
  const work = mkdtempSync(join(tmpdir(), 'cairn-bench-'));
  const measured: Measured = { parts: cli.parts, results: [], profiles: [] };
  const versions: Record<string, string> = { node: process.version, pg: packageVersion('pg'), kysely: packageVersion('kysely') };
  const cairn = cairnVersion();
  if (cairn) versions.cairn = cairn;
  let fsType = 'unknown';
  try {
    fsType = execFileSync('df', ['-T', work], { encoding: 'utf8' }).trim().split('\n')[1]?.split(/\s+/)[1] ?? 'unknown';
  } catch {
    // no df
  }
  progress(`cairn bench: ${[...cli.parts].join(', ')}; ${cli.runs} runs (+${cli.warmup} warm-up) per phase, C=1 and C=${cli.concurrency}; files in ${work} (${fsType})`);
  let server: BenchPostgres | undefined;
  try {
    if (cli.parts.has('sqlite')) await sqliteOverhead(cli, work, measured, versions);
    if ((['postgres', 'dbos', 'workers', 'memory', 'claim'] as const satisfies readonly Part[]).some((p) => cli.parts.has(p))) {
      server = await openBenchPostgres();
      versions.postgres = server.version;
      versions.postgresSettings = server.settings;
    }
    if (server && (cli.parts.has('postgres') || cli.parts.has('dbos'))) {
      if (cli.parts.has('dbos')) versions.dbos = packageVersion('@dbos-inc/dbos-sdk');
      await postgresOverhead(cli, server, measured);
    }
    if (server && cli.parts.has('workers')) {
      const url = await server.createDatabase('cairn_bench_workers');
      measured.workerScaling = await workerScaling(url, cli.workers, cli.runs, cli.warmup, cli.workerConcurrency);
      await server.dropDatabase('cairn_bench_workers');
    }
    if (server && cli.parts.has('memory')) {
      const url = await server.createDatabase('cairn_bench_memory');
      measured.parkedMemory = await parkedMemory(url, cli.parked, cli.runs, cli.workerConcurrency);
      await server.dropDatabase('cairn_bench_memory');
    }
    if (server && cli.parts.has('claim')) {
      const [empty, full] = ['cairn_bench_claim_empty', 'cairn_bench_claim_full'];
      measured.claimLatency = [await claimLatencyPostgres(await server.createDatabase(empty), await server.createDatabase(full), cli.fill, cli.claimSamples)];
      await server.dropDatabase(empty);
      await server.dropDatabase(full);
      if (cli.claimSqlite) measured.claimLatency.push(await claimLatencySqlite(join(work, 'claim-empty.db'), join(work, 'claim-full.db'), cli.fill, cli.claimSamples));
    }
  } finally {
    await server?.close();
    rmSync(work, { recursive: true, force: true });
  }

  const machine: Machine = { nproc: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)), kernel: release(), filesystem: fsType };
  const settings = { ...cli, parts: [...cli.parts], postgresPoolSize: 10, dbosPoolSize: 10 };
  const results = mergeResults(readResults(RESULTS_FILE), measured, { startedAt: started.toISOString(), finishedAt: new Date().toISOString(), machine, versions, settings });

  const report = [
    '',
    `machine: ${machine.nproc} CPUs (${machine.cpu}), ${machine.memoryGiB} GiB, Linux ${machine.kernel}, files on ${machine.filesystem}`,
    `versions: ${Object.entries(versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  ];
  if (measured.results.length > 0) report.push('', `workload W: 3 sequential no-op steps; ${cli.runs} runs per phase after ${cli.warmup} warm-up runs; every run its own tracking id`, '', overheadReport(measured.results, cli.concurrency));
  if (measured.workerScaling) report.push('', `worker processes on one PostgreSQL (${cli.runs} measured runs after ${cli.warmup}, work({ concurrency: ${cli.workerConcurrency} }) each):`, workerScalingReport(measured.workerScaling));
  if (measured.parkedMemory) report.push('', 'worker memory with parked runs:', parkedMemoryReport(measured.parkedMemory));
  if (measured.claimLatency) report.push('', `start / claim latency, empty tables vs ${cli.fill} finished runs (${cli.claimSamples} samples each):`, claimReport(measured.claimLatency));
  report.push(
    '',
    'issue 4 targets (from results/latest.json, including parts not rerun now):',
    markdown(
      ['target', 'measured', 'met'],
      results.targets.map((t) => [t.target, t.measured, t.met ? 'yes' : 'NO']),
      1,
    ),
  );
  for (const p of measured.profiles) report.push('', profileReport(p));
  process.stdout.write(`${report.join('\n')}\n`);

  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  progress(`results: ${RESULTS_FILE}`);
  if (cli.chart) progress(`chart: ${await writeChart(results)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
