/**
 * A client only enqueues; a worker picks the run up through LISTEN/NOTIFY, not by polling. And a
 * pool you hand to PostgresStorage stays yours: Cairn never ends it.
 */
import 'reflect-metadata';
import pg from 'pg';
import { InvalidArgumentError, Runner, Step, Workflow, type StepContext } from '@cairn/core';
import { memoryLogger } from '@cairn/core/testing';
import { PostgresStorage } from '@cairn/storage-postgres';
import { freshDatabase, query } from './support/database';

@Workflow({ name: 'wake-echo' })
class Echo {
  @Step() async echo(ctx: StepContext<{ text: string }>) {
    return ctx.input.text.toUpperCase();
  }
}

test('a client enqueues (nothing runs in its process); a worker polling once a minute runs it at once via NOTIFY', async () => {
  const url = await freshDatabase('notify');
  const worker = new Runner({ storage: new PostgresStorage({ connectionString: url }), workflows: [Echo], logger: memoryLogger() });
  const client = new Runner({ storage: new PostgresStorage({ connectionString: url }), role: 'client', logger: memoryLogger(), pollMs: 20 });
  try {
    await worker.migrate();
    worker.work({ pollMs: '60s' });
    await new Promise((r) => setTimeout(r, 300)); // the worker's first poll and LISTEN are done
    const started = Date.now();
    const handle = await client.start(Echo, { text: 'hi' }, 'notify-1');
    expect(await handle.result()).toBe('HI');
    expect(Date.now() - started).toBeLessThan(5000);
    const history = await handle.history();
    expect(history.map((e) => e.type)).toEqual(['run_started', 'step_started', 'step_completed', 'run_completed']);
    expect(history.find((e) => e.type === 'step_started')!.attempt).toBe(1);
    expect(() => client.work()).toThrow(InvalidArgumentError);
  } finally {
    await client.close();
    await worker.close();
  }
});

test('a pool you pass in is used and never ended by Cairn', async () => {
  const url = await freshDatabase('ownpool');
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const runner = new Runner({ storage: new PostgresStorage({ pool, schema: 'mine' }), logger: memoryLogger() });
  await runner.migrate();
  expect(await runner.run(Echo, { text: 'x' }, 'pool-1')).toBe('X');
  await runner.close();
  const { rows } = await pool.query("select count(*)::int n from mine.cairn_runs");
  expect(rows).toEqual([{ n: 1 }]);
  await pool.end();
});

test('work() and close() in quick succession leave no LISTEN connection behind', async () => {
  const url = await freshDatabase('listenleak');
  for (let i = 0; i < 5; i++) {
    const runner = new Runner({ storage: new PostgresStorage({ connectionString: url }), workflows: [Echo], logger: memoryLogger() });
    if (i === 0) await runner.migrate();
    runner.work();
    await runner.close();
  }
  await new Promise((r) => setTimeout(r, 300));
  const database = new URL(url).pathname.slice(1);
  expect(await query(url, "select count(*)::int n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()", [database])).toEqual([{ n: 0 }]);
});
