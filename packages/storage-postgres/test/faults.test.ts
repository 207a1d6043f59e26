/**
 * Connection faults on PostgreSQL: a server restart with runs in flight, backends terminated
 * between steps, and a COMMIT that succeeds while the caller sees a dropped connection. Workers
 * reconnect, no pool slot leaks, every run finishes, and no step completion is written twice.
 * Also the deploy simulation: version routing across a worker restart.
 */
import 'reflect-metadata';
import pg from 'pg';
import { Runner, Step, Workflow, WorkflowDefinitionChangedError, type StepContext } from '@cairn/core';
import { memoryLogger } from '@cairn/core/testing';
import { PostgresStorage } from '@cairn/storage-postgres';
import { freshDatabase, query as sql } from './support/database';
import { startThrowawayPostgres, type ThrowawayPostgres } from '@cairn/storage-postgres/testing';

const executed: string[] = [];

@Workflow({ name: 'fault-chain' })
class Chain {
  @Step({ retries: 0 }) async one(ctx: StepContext<{ n: number }>) {
    executed.push(`${ctx.runId}:one`);
    await new Promise((r) => setTimeout(r, 30));
    return ctx.input.n;
  }
  @Step({ retries: 0 }) async two(ctx: StepContext<{ n: number }, Chain>) {
    executed.push(`${ctx.runId}:two`);
    await new Promise((r) => setTimeout(r, 30));
    return ctx.results.one * 10;
  }
  @Step({ retries: 0 }) async three(ctx: StepContext<{ n: number }, Chain>) {
    executed.push(`${ctx.runId}:three`);
    return ctx.results.two + 1;
  }
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  executed.length = 0;
  for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
});


function worker(storage: PostgresStorage, workflows: (new () => object)[] = [Chain]): Runner {
  const runner = new Runner({ storage, workflows, logger: memoryLogger(), pollMs: 25, leaseMs: 10_000 });
  closers.push(() => runner.close({ timeoutMs: 0 }));
  return runner;
}

async function expectEachStepOnce(url: string, runIds: string[]): Promise<void> {
  const duplicates = await sql(url, "select run_id, node, count(*)::int n from cairn_events where type = 'step_completed' group by run_id, node having count(*) > 1");
  expect(duplicates).toEqual([]);
  const counts = new Map<string, number>();
  for (const e of executed) counts.set(e, (counts.get(e) ?? 0) + 1);
  expect([...counts.entries()].filter(([, n]) => n > 1)).toEqual([]);
  expect(counts.size).toBe(runIds.length * 3);
}

describe('a dedicated server', () => {
  let server: ThrowawayPostgres;
  beforeAll(async () => {
    server = await startThrowawayPostgres();
  });
  afterAll(() => server.stop());

  test('PostgreSQL restarts while runs are in flight: workers reconnect and finish every run, nothing lost or duplicated', async () => {
    const pool = new pg.Pool({ connectionString: server.url, max: 6 });
    closers.push(() => pool.end());
    const storage = new PostgresStorage({ pool });
    const runner = worker(storage);
    await runner.migrate();
    const handles = await Promise.all(Array.from({ length: 60 }, (_, n) => runner.start(Chain, { n }, `restart-${n}`)));
    await new Promise((r) => setTimeout(r, 40));
    server.restart();
    runner.work({ concurrency: 20 });
    const results = await Promise.all(handles.map((h) => h.result()));
    expect(results).toEqual(Array.from({ length: 60 }, (_, n) => n * 10 + 1));
    await expectEachStepOnce(server.url, handles.map((h) => h.runId));
    expect(pool.waitingCount).toBe(0);
    expect(pool.totalCount).toBeLessThanOrEqual(6);
  }, 120_000);
});

test('backends terminated between steps: workers reconnect, no pool slot leaks, every step completes once', async () => {
  const url = await freshDatabase('terminate');
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  closers.push(() => pool.end());
  const runner = worker(new PostgresStorage({ pool }));
  await runner.migrate();
  const handles = await Promise.all(Array.from({ length: 40 }, (_, n) => runner.start(Chain, { n }, `term-${n}`)));
  runner.work({ concurrency: 40 });
  const database = new URL(url).pathname.slice(1);
  let terminated = 0;
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 25));
    const rows = await sql<{ ok: boolean }>(url, 'select pg_terminate_backend(pid) ok from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()', [database]);
    terminated += rows.length;
  }
  expect(terminated).toBeGreaterThan(0);
  const results = await Promise.all(handles.map((h) => h.result()));
  expect(results).toEqual(Array.from({ length: 40 }, (_, n) => n * 10 + 1));
  await expectEachStepOnce(url, handles.map((h) => h.runId));
  // Once the runner is closed (no poll in flight), every slot of the pool is back and idle.
  await runner.close();
  expect(pool.waitingCount).toBe(0);
  expect(pool.idleCount).toBe(pool.totalCount);
});

test('a COMMIT that succeeds while the caller sees a connection error is not repeated', async () => {
  const url = await freshDatabase('lostanswer');
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  closers.push(() => pool.end());
  let faults = 0;
  let armed = false;
  /**
   * A pool that, once armed, reports every 3rd commit as a dropped connection after it succeeded:
   * a COMMIT in a client's transaction, or one of Cairn's single-statement commits (a start or a
   * group of step commits) run through pool.query.
   */
  let commits = 0;
  const lose = <T>(committing: boolean, result: T): T => {
    if (armed && committing && ++commits % 3 === 0) {
      faults += 1;
      throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
    }
    return result;
  };
  const committing = (arg: unknown): boolean =>
    typeof arg === 'string' ? /^commit/i.test(arg) : /^commit/i.test((arg as pg.QueryConfig).text ?? '') || /^cairn_(commit|start)_/.test((arg as pg.QueryConfig).name ?? '');
  const faulty = Object.assign(Object.create(pool) as pg.Pool, {
    connect: async () => {
      const client = await pool.connect();
      const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
      return Object.assign(Object.create(client) as pg.PoolClient, {
        query: async (...args: unknown[]) => lose(committing(args[0]), await query(...args)),
        release: (error?: Error | boolean) => client.release(error),
      });
    },
    query: async (config: pg.QueryConfig) => lose(committing(config), await pool.query(config)),
  });
  const runner = worker(new PostgresStorage({ pool: faulty }));
  await runner.migrate();
  armed = true;
  const handles = await Promise.all(Array.from({ length: 20 }, (_, n) => runner.start(Chain, { n }, `lost-${n}`)));
  const results = await Promise.all(handles.map((h) => h.result()));
  expect(results).toEqual(Array.from({ length: 20 }, (_, n) => n * 10 + 1));
  expect(faults).toBeGreaterThan(10);
  expect(await sql(url, 'select count(*)::int n from cairn_runs')).toEqual([{ n: 20 }]);
  await expectEachStepOnce(url, handles.map((h) => h.runId));
  await runner.close();
  expect(pool.waitingCount).toBe(0);
  expect(pool.idleCount).toBe(pool.totalCount);
});

describe('deploys', () => {
  const log: string[] = [];
  @Workflow({ name: 'deploy-order', version: 1 })
  class OrderV1 {
    @Step({ retries: 0 }) async reserve() {
      log.push('v1.reserve');
      return 'r1';
    }
    @Step({ retries: 0 }) async charge() {
      log.push('v1.charge');
      return 'v1';
    }
  }
  @Workflow({ name: 'deploy-order', version: 2 })
  class OrderV2 {
    @Step({ retries: 0 }) async reserve() {
      log.push('v2.reserve');
      return 'r2';
    }
    @Step({ retries: 0 }) async fraudCheck() {
      log.push('v2.fraudCheck');
      return 'ok';
    }
    @Step({ retries: 0 }) async charge() {
      log.push('v2.charge');
      return 'v2';
    }
  }

  test('old runs finish on v1 after a restart with v1 and v2; with only v2 they are parked with WorkflowDefinitionChangedError', async () => {
    const url = await freshDatabase('deploy');
    const storage = () => new PostgresStorage({ connectionString: url, poolSize: 3 });
    const producer = new Runner({ storage: storage(), role: 'client', logger: memoryLogger() });
    closers.push(() => producer.close());
    await producer.migrate();
    const old = await Promise.all([1, 2, 3].map((i) => producer.start(OrderV1, { i }, `old-${i}`)));

    const both = worker(storage(), [OrderV1, OrderV2]);
    both.work();
    expect(await Promise.all(old.map((h) => h.result()))).toEqual(['v1', 'v1', 'v1']);
    expect(await both.run(OrderV2, { i: 9 }, 'new-9')).toBe('v2');
    expect(log.filter((l) => l.startsWith('v1'))).toHaveLength(6);
    expect(log.filter((l) => l.startsWith('v2'))).toEqual(['v2.reserve', 'v2.fraudCheck', 'v2.charge']);
    await both.close();

    const stale = await Promise.all([4, 5].map((i) => producer.start(OrderV1, { i }, `stale-${i}`)));
    const v2only = worker(storage(), [OrderV2]);
    v2only.work();
    for (const h of stale) {
      let info = await (await v2only.get(OrderV2, h.trackingId))!.status();
      for (let i = 0; i < 200 && !info.error; i++) {
        await new Promise((r) => setTimeout(r, 20));
        info = await (await v2only.get(OrderV2, h.trackingId))!.status();
      }
      expect(info.status).toBe('waiting');
      expect(info.version).toBe(1);
      expect(info.error).toBeInstanceOf(WorkflowDefinitionChangedError);
    }
    expect(log.filter((l) => l.startsWith('v1'))).toHaveLength(6);
  });
});
