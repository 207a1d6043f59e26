/**
 * Cairn on PostgreSQL: one producer and N worker processes sharing one database.
 *
 *   pnpm --filter @cairn/example-postgres-workers start
 *   pnpm --filter @cairn/example-postgres-workers start -- --workers 4 --runs 500 --kill-one
 *
 * The producer is a `role: 'client'` Runner: `start()` only enqueues (one commit + NOTIFY). The
 * workers are forked copies of this file (`node dist/main.js worker`), each a Runner calling
 * `work({ concurrency: 8 })` with a 5 s lease. With --kill-one the producer SIGKILLs a busy worker
 * halfway through; its leases expire and the other workers finish its runs, without re-running
 * the steps it had completed.
 *
 * DATABASE_URL: use that server (in a fresh schema, dropped at exit) instead of starting a
 * throwaway PostgreSQL from the Debian server binaries.
 */
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Runner, type RunHandle } from '@cairn/core';
import { PostgresStorage } from '@cairn/storage-postgres';
import { startThrowawayPostgres, type ThrowawayPostgres } from '@cairn/storage-postgres/testing';
import { ImagePipeline, type ImageJob, type Published, type StepStarted } from './workflow';

const LEASE = '5s';
const CONCURRENCY = 8;
const STEPS = ['fetch', 'resize', 'watermark', 'publish'];
const ENV_URL = 'CAIRN_EXAMPLE_DATABASE_URL';
const ENV_SCHEMA = 'CAIRN_EXAMPLE_SCHEMA';

const USAGE = `Usage: pnpm --filter @cairn/example-postgres-workers start [-- options]

  --workers <n>   worker processes (default 3)
  --runs <n>      runs of the image pipeline to enqueue (default 200)
  --kill-one      SIGKILL one busy worker halfway; the others take over its runs
  -h, --help      show this help

Set DATABASE_URL to use your own PostgreSQL; otherwise a throwaway server is started.`;

interface Cli {
  workers: number;
  runs: number;
  killOne: boolean;
}

class UsageError extends Error {}

function positiveInt(value: string | undefined, fallback: number, name: string, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > max) throw new UsageError(`--${name} must be an integer from 1 to ${max} (got '${value}')`);
  return n;
}

function parseCli(argv: string[]): Cli | 'help' {
  // `pnpm start -- --runs 5` may hand us the `--` separator itself.
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        workers: { type: 'string' },
        runs: { type: 'string' },
        'kill-one': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const cli = { workers: positiveInt(values.workers, 3, 'workers', 64), runs: positiveInt(values.runs, 200, 'runs', 100_000), killOne: values['kill-one'] ?? false };
  if (cli.killOne && cli.workers < 2) throw new UsageError('--kill-one needs at least 2 workers (someone has to take over)');
  return cli;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

// ---- worker process -------------------------------------------------------------------------------

async function worker(): Promise<void> {
  const connectionString = process.env[ENV_URL];
  if (!connectionString) throw new Error(`worker: ${ENV_URL} is not set`);
  const schema = process.env[ENV_SCHEMA] || undefined;
  const runner = new Runner({
    storage: new PostgresStorage({ connectionString, ...(schema ? { schema } : {}) }),
    workflows: [ImagePipeline],
    leaseMs: LEASE,
  });
  runner.work({ concurrency: CONCURRENCY });
  let closing: Promise<void> | undefined;
  const shutdown = (): Promise<void> =>
    (closing ??= runner
      // Drains: stops claiming, lets in-flight steps finish, hands unfinished runs back at once.
      .close({ timeoutMs: '5s' })
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(`worker ${process.pid}: close failed`, error);
          process.exit(1);
        },
      ));
  process.on('message', (message) => {
    if (message === 'stop') void shutdown();
  });
  process.on('disconnect', () => void shutdown()); // the producer is gone
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  process.send?.({ type: 'ready', pid: process.pid });
}

// ---- producer ---------------------------------------------------------------------------------------

interface WorkerProcess {
  index: number;
  pid: number;
  child: ChildProcess;
  exited: Promise<void>;
  killed: boolean;
}

function forkWorker(index: number, url: string, schema: string | undefined, onStep: (m: StepStarted) => void): Promise<WorkerProcess> {
  const child = fork(__filename, ['worker'], { env: { ...process.env, [ENV_URL]: url, [ENV_SCHEMA]: schema ?? '' } });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`worker ${index} exited before it was ready (${signal ?? code})`)));
    child.on('message', (message: { type?: string }) => {
      if (message.type === 'ready') resolve({ index, pid: child.pid!, child, exited, killed: false });
      else if (message.type === 'step-started') onStep(message as StepStarted);
    });
  });
}

async function stopWorkers(workers: WorkerProcess[]): Promise<void> {
  await Promise.all(
    workers.map(async (w) => {
      if (w.child.exitCode !== null || w.child.signalCode !== null) return;
      w.child.send('stop', () => undefined);
      const timer = setTimeout(() => w.child.kill('SIGKILL'), 15_000);
      await w.exited;
      clearTimeout(timer);
    }),
  );
}

async function produce(cli: Cli, url: string, schema: string | undefined): Promise<boolean> {
  const storage = new PostgresStorage({ connectionString: url, ...(schema ? { schema } : {}) });
  const producer = new Runner({ role: 'client', storage, workflows: [ImagePipeline] });
  const workers: WorkerProcess[] = [];
  try {
    await producer.migrate();

    // Who runs what, as the steps report it: the last step each run started, and every start.
    const lastStart = new Map<string, StepStarted>();
    const starts: StepStarted[] = [];
    const finished = new Set<string>();
    let kill: { worker: WorkerProcess; at: number; orphans: Map<string, string> } | undefined;
    const recovered = new Map<string, number>();
    const onStep = (m: StepStarted): void => {
      starts.push(m);
      const previous = lastStart.get(m.trackingId);
      lastStart.set(m.trackingId, m);
      if (!kill || previous?.pid !== kill.worker.pid || recovered.has(m.trackingId)) return;
      const after = Date.now() - kill.at;
      recovered.set(m.trackingId, after);
      const taker = workers.find((w) => w.pid === m.pid);
      const order = STEPS.indexOf(m.step) - STEPS.indexOf(previous.step);
      const note =
        order === 0 ? `re-running the interrupted step ${m.step}` : order > 0 ? `at ${m.step} (${previous.step} had been committed)` : `AT ${m.step}: A COMPLETED STEP RAN AGAIN`;
      const earlier = STEPS.slice(0, STEPS.indexOf(m.step));
      console.log(
        `  ↳ ${m.trackingId}: worker ${taker?.index ?? '?'} (pid ${m.pid}) took it over ${seconds(after)} after the kill, ${note}, attempt ${m.attempt}` +
          (earlier.length > 0 && order >= 0 ? `; ${earlier.join(', ')} not re-run` : ''),
      );
    };

    console.log(`Forking ${cli.workers} workers (concurrency ${CONCURRENCY} each, lease ${LEASE})…`);
    workers.push(...(await Promise.all(Array.from({ length: cli.workers }, (_, i) => forkWorker(i + 1, url, schema, onStep)))));
    for (const w of workers) {
      void w.exited.then(() => {
        if (!w.killed && finished.size < cli.runs) console.log(`  ! worker ${w.index} (pid ${w.pid}) exited unexpectedly; the others will take over its runs`);
      });
    }
    console.log(`  workers: ${workers.map((w) => `${w.index} = pid ${w.pid}`).join(', ')}`);

    console.log(`Enqueueing ${cli.runs} runs of image-pipeline (job-1 … job-${cli.runs}) from a client runner…`);
    const began = Date.now();
    const handles: RunHandle<Published>[] = await Promise.all(
      Array.from({ length: cli.runs }, (_, i) => producer.start<Published>(ImagePipeline, { imageId: i + 1, url: `https://images.example.com/raw/${i + 1}.png` } satisfies ImageJob, `job-${i + 1}`)),
    );
    console.log(`  enqueued in ${seconds(Date.now() - began)}; waiting for the workers…`);

    const byId = new Map(handles.map((h) => [h.trackingId, h]));
    const killHalfway = async (): Promise<void> => {
      // The busiest worker: the one with most unfinished runs whose last step it started.
      const inFlight = (w: WorkerProcess): string[] => [...lastStart.values()].filter((s) => s.pid === w.pid && !finished.has(s.trackingId)).map((s) => s.trackingId);
      const victim = [...workers].sort((a, b) => inFlight(b).length - inFlight(a).length)[0]!;
      const orphans = new Map(inFlight(victim).map((id) => [id, lastStart.get(id)!.step]));
      victim.killed = true;
      victim.child.kill('SIGKILL');
      kill = { worker: victim, at: Date.now(), orphans };
      const done = finished.size;
      await victim.exited;
      // Some of those had committed their last step; we just had not looked yet.
      for (const id of [...orphans.keys()]) if ((await byId.get(id)!.status()).status === 'completed') orphans.delete(id);
      const list = [...orphans].slice(0, 8).map(([id, step]) => `${id} (${step})`).join(', ');
      console.log(`SIGKILL worker ${victim.index} (pid ${victim.pid}) at ${done}/${cli.runs} runs completed; it left ${orphans.size} runs mid-step: ${list}${orphans.size > 8 ? ', …' : ''}`);
      console.log(`  their leases expire within ${LEASE}; then the other workers claim them:`);
    };
    let killing: Promise<void> | undefined;

    let lastProgress = Date.now();
    let reported = 0;
    const progress = setInterval(() => {
      if (finished.size !== reported) console.log(`  … ${(reported = finished.size)}/${cli.runs} completed`);
      if (Date.now() - lastProgress > 60_000) {
        console.error('No run completed for 60 s; giving up.');
        process.exit(1);
      }
    }, 1000);
    const results = await Promise.allSettled(
      handles.map((h) =>
        h.result().then((published) => {
          finished.add(h.trackingId);
          lastProgress = Date.now();
          if (cli.killOne && !killing && finished.size >= cli.runs / 2) killing = killHalfway();
          return published;
        }),
      ),
    );
    clearInterval(progress);
    const wall = Date.now() - began;
    await killing;

    // ---- summary ----
    const completed = results.filter((r): r is PromiseFulfilledResult<Published> => r.status === 'fulfilled').map((r) => r.value);
    const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`job-${i + 1}: ${String((r.reason as Error)?.message ?? r.reason)}`] : []));
    const ranLast = new Map<number, number>();
    for (const p of completed) ranLast.set(p.executedBy.publish, (ranLast.get(p.executedBy.publish) ?? 0) + 1);
    const stepsBy = new Map<number, number>();
    for (const s of starts) stepsBy.set(s.pid, (stepsBy.get(s.pid) ?? 0) + 1);

    console.log('\nSummary');
    console.log(`  runs completed   ${completed.length} / ${cli.runs}`);
    console.log(`  wall time        ${seconds(wall)} (enqueue to last result)`);
    console.log(`  throughput       ${((completed.length * 1000) / wall).toFixed(1)} runs/s`);
    console.log(`  step executions  ${starts.length} for ${cli.runs * STEPS.length} steps (a step interrupted by a crash runs again)`);
    console.log('  per worker       runs = runs whose last step it ran; steps = step executions');
    for (const w of workers) {
      console.log(`    worker ${w.index} (pid ${w.pid})  ${String(ranLast.get(w.pid) ?? 0).padStart(5)} runs  ${String(stepsBy.get(w.pid) ?? 0).padStart(5)} steps${w.killed ? '  (SIGKILLed)' : ''}`);
    }
    if (kill) {
      const { orphans } = kill;
      const takenOver = [...orphans.keys()].filter((id) => recovered.has(id));
      const times = takenOver.map((id) => recovered.get(id)!);
      console.log(
        `  killed worker ${kill.worker.index}: left ${orphans.size} runs mid-step; ${takenOver.length} taken over by the others` +
          (times.length > 0 ? ` ${[...new Set([Math.min(...times), Math.max(...times)].map(seconds))].join('–')} after the kill (lease ${LEASE})` : ''),
      );
    }
    for (const f of failures) console.log(`  FAILED ${f}`);
    const ok = completed.length === cli.runs;
    console.log(ok ? `\nAll ${cli.runs} runs completed${kill ? ', including every run of the killed worker' : ''}.` : `\n${failures.length} runs did not complete.`);
    return ok;
  } finally {
    await stopWorkers(workers);
    await producer.close();
  }
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`drop schema if exists "${schema}" cascade`);
  } finally {
    await client.end();
  }
}

async function main(): Promise<number> {
  let cli: Cli | 'help';
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (cli === 'help') {
    console.log(USAGE);
    return 0;
  }

  let postgres: ThrowawayPostgres | undefined;
  let url = process.env.DATABASE_URL;
  // On your own database, a fresh schema per invocation: the tracking ids job-1… start over.
  const schema = url ? `cairn_example_${Date.now().toString(36)}` : undefined;
  if (url) {
    console.log(`Using DATABASE_URL, schema ${schema} (dropped at exit).`);
  } else {
    console.log('Starting a throwaway PostgreSQL (127.0.0.1 only)…');
    postgres = await startThrowawayPostgres();
    url = postgres.url;
    console.log(`  ${url}`);
  }
  const stopPostgres = (): void => {
    postgres?.stop();
    postgres = undefined;
  };
  const interrupted = (): void => {
    console.error('\nInterrupted: stopping PostgreSQL.');
    stopPostgres();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    return (await produce(cli, url, schema)) ? 0 : 1;
  } finally {
    if (schema) await dropSchema(url, schema).catch((error: unknown) => console.error(`Could not drop schema ${schema}:`, error));
    if (postgres) console.log('Stopping PostgreSQL.');
    stopPostgres();
  }
}

if (process.argv[2] === 'worker') {
  worker().catch((error: unknown) => {
    console.error(`worker ${process.pid} failed:`, error);
    process.exit(1);
  });
} else {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
