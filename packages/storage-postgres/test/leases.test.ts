/**
 * Leases on PostgreSQL: a worker that lost its lease commits nothing and the new owner completes
 * the run (lease expired in the database mid-step; a worker SIGSTOPped past its lease); leases are
 * judged by the database clock, so a worker whose clock runs an hour fast neither steals a live
 * lease nor keeps a dead one; close() drains and hands the run over without waiting for expiry.
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runner, Step, Workflow, systemClock, type Clock, type StepContext } from '@cairn/core';
import { memoryLogger } from '@cairn/core/testing';
import { PostgresStorage } from '@cairn/storage-postgres';
import { assertBuilt, spawnFixture, type Spawned } from '../../core/test/support/processes';
import { freshDatabase, query } from './support/database';

const sql = <T>(text: string, values: unknown[] = []): Promise<T[]> => query<T>(url, text, values);
import { readExecutions } from './support/ledger';
import { Pipeline } from './fixtures/pg-worker-workflow';

const gates = new Map<string, () => void>();
const calls: string[] = [];

/** Step `slow` waits until the test opens its gate (or 5 s pass). */
@Workflow({ name: 'lease-gated' })
class Gated {
  @Step({ retries: 2, backoff: 1 }) async first(ctx: StepContext) {
    calls.push(`first:${ctx.attempt}`);
    return 1;
  }
  @Step({ retries: 2, backoff: 1 }) async slow(ctx: StepContext) {
    calls.push(`slow:${ctx.attempt}`);
    await new Promise<void>((resolve) => {
      gates.set(ctx.runId, resolve);
      setTimeout(resolve, 5000);
    });
    return `slow done on attempt ${ctx.attempt}`;
  }
}

let bounces = 0;
/** Fails once, then succeeds after a 300 ms backoff (longer than parkAfterMs, so the run parks). */
@Workflow({ name: 'lease-bouncy' })
class Bouncy {
  @Step({ retries: 1, backoff: 300 }) async bounce() {
    bounces += 1;
    if (bounces === 1) throw new Error('first try fails');
    return 'bounced';
  }
}

const runners: Runner[] = [];
const children: Spawned[] = [];
let url: string;
let dir: string;

beforeAll(async () => {
  url = await freshDatabase('leases');
  dir = mkdtempSync(join(tmpdir(), 'cairn-pg-leases-'));
  const setup = runner();
  await setup.migrate();
});
afterEach(() => {
  for (const spawned of children.splice(0)) if (spawned.child.exitCode === null && spawned.child.signalCode === null) spawned.child.kill('SIGKILL');
  calls.length = 0;
  gates.clear();
});
afterAll(async () => {
  for (const r of runners) await r.close({ timeoutMs: 0 }).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

function runner(options: { clock?: Clock; leaseMs?: number; workerId?: string } = {}): Runner {
  const r = new Runner({ storage: new PostgresStorage({ connectionString: url, poolSize: 4 }), workflows: [Gated], logger: memoryLogger(), pollMs: 25, leaseMs: options.leaseMs ?? 1000, parkAfterMs: 100, ...options });
  runners.push(r);
  return r;
}


async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const completions = async (runId: string) => (await sql<{ node: string }>("select node from cairn_events where run_id = $1 and type = 'step_completed' order by seq", [runId])).map((r) => r.node);

test('a lease expired in the database while a step sleeps: the old worker commits nothing, the new owner completes', async () => {
  const a = runner({ workerId: 'worker-a', leaseMs: 60_000 });
  const handle = await a.start(Gated, {}, 'expired-in-db');
  await until('slow to start on a', () => calls.includes('slow:1'));
  await sql("update cairn_runs set lease_expires_at = 0 where id = $1", [handle.runId]);
  const b = runner({ workerId: 'worker-b' });
  b.work();
  await until('b to take over', () => calls.includes('slow:2'));
  gates.get(handle.runId)?.(); // both attempts are released; only b may commit
  expect(await handle.result()).toBe('slow done on attempt 2');
  await new Promise((r) => setTimeout(r, 200));
  expect(await completions(handle.runId)).toEqual(['first', 'slow']);
  const [run] = await sql<{ lease_owner: string | null; status: string }>('select lease_owner, status from cairn_runs where id = $1', [handle.runId]);
  expect(run).toEqual({ lease_owner: null, status: 'completed' });
});

test('leases are judged by the database clock: a worker an hour fast neither steals a live lease nor keeps a dead one', async () => {
  const hourFast: Clock = { now: () => systemClock.now() + 3_600_000, sleep: systemClock.sleep };
  const a = runner({ workerId: 'honest' });
  const handle = await a.start(Gated, {}, 'skew');
  await until('slow to start', () => calls.includes('slow:1'));
  const fast = runner({ workerId: 'fast', clock: hourFast });
  fast.work();
  await new Promise((r) => setTimeout(r, 400));
  expect(calls.filter((c) => c.startsWith('slow'))).toEqual(['slow:1']);
  const [held] = await sql<{ lease_owner: string; ms: string }>('select lease_owner, lease_expires_at - (extract(epoch from now()) * 1000)::bigint as ms from cairn_runs where id = $1', [handle.runId]);
  expect(held!.lease_owner).toBe('honest');
  gates.get(handle.runId)?.();
  expect(await handle.result()).toBe('slow done on attempt 1');

  // The fast worker's own leases expire by the database clock, not an hour later.
  const mine = await fast.start(Gated, {}, 'skew-own');
  await until('slow to start on the fast worker', () => calls.includes('slow:1') && gates.has(mine.runId));
  const [own] = await sql<{ ms: string }>('select lease_expires_at - (extract(epoch from now()) * 1000)::bigint as ms from cairn_runs where id = $1', [mine.runId]);
  expect(Number(own!.ms)).toBeLessThanOrEqual(1000);
  expect(Number(own!.ms)).toBeGreaterThan(0);
  gates.get(mine.runId)?.();
  await mine.result();
});

test('a backoff parked by a worker whose clock runs an hour fast is resumed on time by a normal worker', async () => {
  const hourFast: Clock = { now: () => systemClock.now() + 3_600_000, sleep: systemClock.sleep };
  const fast = runner({ workerId: 'fast-parker', clock: hourFast });
  fast.register(Bouncy);
  const handle = await fast.start(Bouncy, {}, 'skewed-backoff');
  await until('the run to park', async () => (await sql<{ status: string }>('select status from cairn_runs where id = $1', [handle.runId]))[0]?.status === 'waiting');
  await fast.close({ timeoutMs: 0 });
  const normal = runner({ workerId: 'normal' });
  normal.register(Bouncy);
  normal.work();
  const started = Date.now();
  await until('the run to complete', async () => (await sql<{ status: string }>('select status from cairn_runs where id = $1', [handle.runId]))[0]?.status === 'completed', 10_000);
  expect(Date.now() - started).toBeLessThan(5000);
});

test('close() with a step in flight: the step finishes, the lease is released, another worker continues at once', async () => {
  const a = runner({ workerId: 'closing', leaseMs: 60_000 });
  const handle = await a.start(Gated, {}, 'drain');
  await until('slow to start', () => calls.includes('slow:1'));
  const b = runner({ workerId: 'successor', leaseMs: 60_000 });
  b.work();
  const closing = a.close({ timeoutMs: 10_000 });
  await new Promise((r) => setTimeout(r, 100));
  gates.get(handle.runId)?.();
  await closing;
  const started = Date.now();
  const [run] = await sql<{ status: string }>('select status from cairn_runs where id = $1', [handle.runId]);
  expect(['completed', 'running', 'pending']).toContain(run!.status);
  await until('the run to complete', async () => (await sql<{ status: string }>('select status from cairn_runs where id = $1', [handle.runId]))[0]!.status === 'completed');
  expect(Date.now() - started).toBeLessThan(5000); // far less than the 60 s lease
  expect(calls).toEqual(['first:1', 'slow:1']);
  expect(await completions(handle.runId)).toEqual(['first', 'slow']);
});

test('a worker SIGSTOPped past its lease and SIGCONTed after another took over writes nothing', async () => {
  assertBuilt();
  const ledger = join(dir, 'zombie.ledger');
  const env = { MODE: 'work', PG_URL: url, LEDGER: ledger, LEASE_MS: '1000', CONCURRENCY: '1', SLOW_STEP: 'watermark', SLOW_MS: '2500' };
  const zombie = await new Promise<Spawned>((resolve) => {
    const s = spawnFixture(join(__dirname, 'fixtures', 'pg-worker.ts'), env, (line) => line === 'ready' && resolve(s));
    children.push(s);
  });
  const client = new Runner({ storage: new PostgresStorage({ connectionString: url }), role: 'client', logger: memoryLogger() });
  runners.push(client);
  const handle = await client.start(Pipeline, { i: 20 }, 'zombie');
  await until('the zombie to start watermark', () => readExecutions(ledger).some((e) => e.step === 'watermark'));
  zombie.child.kill('SIGSTOP');
  const successor = new Runner({ storage: new PostgresStorage({ connectionString: url }), workflows: [Pipeline], logger: memoryLogger(), leaseMs: 1000, pollMs: 25 });
  runners.push(successor);
  process.env.LEDGER = ledger;
  successor.work();
  expect(await handle.result()).toEqual({ value: 42, done: true });
  zombie.child.kill('SIGCONT');
  await new Promise((r) => setTimeout(r, 3500)); // the zombie's watermark ends and tries to commit
  expect(await completions(handle.runId)).toEqual(['fetch', 'resize', 'watermark', 'publish']);
  const executions = readExecutions(ledger).filter((e) => e.runId === handle.runId);
  const zombiePid = zombie.child.pid!;
  expect(executions.filter((e) => e.pid === zombiePid).map((e) => e.step)).toEqual(['fetch', 'resize', 'watermark']);
  expect(executions.filter((e) => e.pid === zombiePid && e.step === 'watermark')[0]!.end).toBeDefined();
  const [row] = await sql<{ status: string; output: string }>("select status, output from cairn_steps where run_id = $1 and name = 'publish'", [handle.runId]);
  expect(row!.status).toBe('completed');
});
