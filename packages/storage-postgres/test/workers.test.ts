/**
 * Many worker processes on one PostgreSQL: a SIGKILLed worker's runs are recovered within the lease
 * time, no step completes twice, no run is executed by two workers at once; concurrent starts from
 * several processes create one run; concurrent migrations from 20 processes make the schema once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runner, migrations } from '@cairn/core';
import { memoryLogger } from '@cairn/core/testing';
import { PostgresStorage } from '@cairn/storage-postgres';
import { assertBuilt, lastJson, runFixture, spawnFixture, type Spawned } from '../../core/test/support/processes';
import { freshDatabase, query } from './support/database';
import { Pipeline } from './fixtures/pg-worker-workflow';
import { overlaps, readExecutions } from './support/ledger';

const FIXTURE = join(__dirname, 'fixtures', 'pg-worker.ts');
let dir: string;
const children: Spawned[] = [];

afterEach(() => {
  for (const spawned of children.splice(0)) if (spawned.child.exitCode === null && spawned.child.signalCode === null) spawned.child.kill('SIGKILL');
});

beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'cairn-pg-workers-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));


function startWorker(env: Record<string, string>): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const spawned = spawnFixture(FIXTURE, { MODE: 'work', ...env }, (line) => {
      if (line === 'ready') resolve(spawned);
    });
    children.push(spawned);
    spawned.finished.then((f) => reject(new Error(`worker exited before ready: ${f.code} ${f.stderr}`)), reject);
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('3 workers, 500 runs of a 4-step workflow, one worker SIGKILLed midway: every run completes once, no overlap, recovery within the lease', async () => {
  const url = await freshDatabase('workers');
  const ledger = join(dir, 'three.ledger');
  const leaseMs = 2000;
  const client = new Runner({ storage: new PostgresStorage({ connectionString: url }), role: 'client', logger: memoryLogger() });
  await client.migrate();
  const env = { PG_URL: url, LEDGER: ledger, LEASE_MS: String(leaseMs), CONCURRENCY: '8', STEP_MS: '4' };
  const workers = await Promise.all([startWorker(env), startWorker(env), startWorker(env)]);
  const handles = await Promise.all(Array.from({ length: 500 }, (_, i) => client.start(Pipeline, { i }, `job-${i}`)));

  await until('a third of the runs', async () => Number((await query<{ n: string }>(url, "select count(*) n from cairn_runs where status = 'completed'"))[0]!.n) >= 150, 60_000);
  const victim = workers[0]!;
  const killedAt = Date.now();
  victim.child.kill('SIGKILL');
  await victim.finished;

  await until('all runs to complete', async () => Number((await query<{ n: string }>(url, "select count(*) n from cairn_runs where status = 'completed'"))[0]!.n) === 500, 90_000);
  const results = await Promise.all(handles.map((h) => h.result()));
  results.forEach((result, i) => expect(result).toEqual({ value: (i + 1) * 2, done: true }));

  // The database recorded exactly one completion per step.
  const completions = await query<{ run_id: string; node: string; n: string }>(url, "select run_id, node, count(*) n from cairn_events where type = 'step_completed' group by run_id, node having count(*) > 1");
  expect(completions).toEqual([]);
  expect(Number((await query<{ n: string }>(url, "select count(*) n from cairn_steps where status = 'completed'"))[0]!.n)).toBe(2000);

  const executions = readExecutions(ledger);
  const victimPid = victim.child.pid!;
  expect(overlaps(executions, new Map([[victimPid, killedAt]]))).toEqual([]);
  // Only steps the killed worker was running were executed twice, and they were re-run soon.
  const byStep = new Map<string, typeof executions>();
  for (const e of executions) byStep.set(`${e.runId}/${e.step}`, [...(byStep.get(`${e.runId}/${e.step}`) ?? []), e]);
  const repeated = [...byStep.values()].filter((list) => list.length > 1);
  for (const list of repeated) {
    expect(list).toHaveLength(2);
    expect(list[0]!.pid).toBe(victimPid);
    // The victim was running it, or had run it without its commit landing, when it died.
    expect(list[0]!.end ?? killedAt).toBeLessThanOrEqual(killedAt);
    expect(list[1]!.start - killedAt).toBeLessThan(leaseMs + 3000);
  }
  expect(executions.filter((e) => e.pid !== victimPid && e.end === undefined)).toEqual([]);

  for (const worker of workers.slice(1)) worker.child.kill('SIGTERM');
  for (const worker of workers.slice(1)) expect((await worker.finished).code).toBe(0);
  await client.close();
}, 180_000);

test('20 concurrent starts of one tracking id from 4 processes create exactly one run', async () => {
  const url = await freshDatabase('startmany');
  const ledger = join(dir, 'many.ledger');
  await runFixture(FIXTURE, { MODE: 'migrate', PG_URL: url, LEDGER: ledger });
  const env = { MODE: 'start-many', PG_URL: url, LEDGER: ledger, N: '5', TRACKING: 'one-order', GO_AT: String(Date.now() + 1500) };
  const finished = await Promise.all(Array.from({ length: 4 }, () => runFixture(FIXTURE, env)));
  for (const f of finished) {
    expect(f.stderr).toBe('');
    expect(f.code).toBe(0);
  }
  const ids = new Set(finished.flatMap((f) => lastJson<{ runIds: string[] }>(f).runIds));
  expect(ids.size).toBe(1);
  expect(await query(url, 'select count(*)::int n from cairn_runs')).toEqual([{ n: 1 }]);
  const executions = readExecutions(ledger);
  expect(executions.map((e) => e.step)).toEqual(['fetch', 'resize', 'watermark', 'publish']);
});

test('20 processes migrate an empty database at once: all succeed, the schema is made once', async () => {
  const url = await freshDatabase('migrate');
  const finished = await Promise.all(Array.from({ length: 20 }, () => runFixture(FIXTURE, { MODE: 'migrate', PG_URL: url, LEDGER: join(dir, 'unused') })));
  for (const f of finished) {
    expect(f.stderr).toBe('');
    expect(f.stdout.trim()).toBe('migrated');
  }
  expect(await query(url, 'select name from cairn_migrations order by name')).toEqual(Object.keys(migrations).map((name) => ({ name })));
  expect(await query(url, "select count(*)::int n from information_schema.tables where table_name like 'cairn_%'")).toEqual([{ n: 5 }]);
}, 120_000);
