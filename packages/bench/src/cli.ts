/**
 * The bench's command line: which parts to run (`--only a,b`) and each part's sizes. Every part
 * can be rerun alone; the default runs them all.
 */
import { parseArgs } from 'node:util';

/**
 * sqlite / postgres: Cairn vs the raw floor (workload W, C=1 and C=N). dbos: DBOS Transact next to
 * the floor and Cairn on PostgreSQL (it runs the PostgreSQL floor and Cairn again, so the ratios
 * come from one invocation). memory: a worker's RSS with N parked runs vs none. claim: start and
 * claim latency on empty tables vs 1M finished runs. workers: drain throughput of 1, 2, 4 worker
 * processes on one PostgreSQL.
 */
export const PARTS = ['sqlite', 'postgres', 'dbos', 'memory', 'claim', 'workers'] as const;
export type Part = (typeof PARTS)[number];

export interface Cli {
  parts: ReadonlySet<Part>;
  runs: number;
  warmup: number;
  concurrency: number;
  /** Statement profiles of Cairn (with the sqlite/postgres parts). */
  profile: boolean;
  /** Parked runs for the memory part. */
  parked: number;
  /** Finished runs written into the tables for the claim part. */
  fill: number;
  /** Samples per latency measurement in the claim part. */
  claimSamples: number;
  /** Also fill and measure SQLite in the claim part. */
  claimSqlite: boolean;
  /** Worker process counts for the workers part. */
  workers: number[];
  /** work({ concurrency }) of each worker process. */
  workerConcurrency: number;
  /** Render docs/benchmarks.svg from results/latest.json at the end. */
  chart: boolean;
}

export const USAGE = `pnpm bench [-- options]

  --only <parts>            comma-separated: ${PARTS.join(', ')} (default: all)
  --runs <n>                measured runs per phase (default 2000; also the workers part's runs)
  --warmup <n>              warm-up runs per phase (default 200)
  --concurrency <n>         C for the concurrent phases (default 32)
  --no-profile              skip the statement profiles
  --parked <n>              parked runs for the memory part (default 10000)
  --fill <n>                finished runs for the claim part (default 1000000)
  --claim-samples <n>       samples per start/claim latency (default 500)
  --no-claim-sqlite         claim part on PostgreSQL only
  --workers <a,b,…>         worker process counts (default 1,2,4)
  --worker-concurrency <n>  work({ concurrency }) per worker process (default 32)
  --no-chart                do not render docs/benchmarks.svg`;

function int(name: string, value: string, min = 1): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min) throw new Error(`--${name} must be an integer ≥ ${min} (got '${value}')`);
  return n;
}

export function parseCli(argv: string[]): Cli {
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      only: { type: 'string', default: 'all' },
      runs: { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '32' },
      'no-profile': { type: 'boolean', default: false },
      parked: { type: 'string', default: '10000' },
      fill: { type: 'string', default: '1000000' },
      'claim-samples': { type: 'string', default: '500' },
      'no-claim-sqlite': { type: 'boolean', default: false },
      workers: { type: 'string', default: '1,2,4' },
      'worker-concurrency': { type: 'string', default: '32' },
      'no-chart': { type: 'boolean', default: false },
    },
  });
  const requested = values.only.split(',').map((s) => s.trim()).filter(Boolean);
  const parts = new Set<Part>();
  for (const name of requested) {
    if (name === 'all') PARTS.forEach((p) => parts.add(p));
    else if ((PARTS as readonly string[]).includes(name)) parts.add(name as Part);
    else throw new Error(`--only: unknown part '${name}' (parts: all, ${PARTS.join(', ')})`);
  }
  if (parts.size === 0) throw new Error('--only needs at least one part');
  const workers = values.workers.split(',').map((s) => int('workers', s.trim()));
  return {
    parts,
    runs: int('runs', values.runs),
    warmup: int('warmup', values.warmup),
    concurrency: int('concurrency', values.concurrency),
    profile: !values['no-profile'],
    parked: int('parked', values.parked),
    fill: int('fill', values.fill),
    claimSamples: int('claim-samples', values['claim-samples']),
    claimSqlite: !values['no-claim-sqlite'],
    workers,
    workerConcurrency: int('worker-concurrency', values['worker-concurrency']),
    chart: !values['no-chart'],
  };
}
