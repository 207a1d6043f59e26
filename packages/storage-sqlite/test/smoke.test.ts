import 'reflect-metadata';
import { Parallel, Runner, Step, StepContext, Subflow, Workflow } from '@cairn/core';
import { SqliteStorage } from '@cairn/storage-sqlite';

@Workflow({ name: 'child' })
class Child {
  @Step() async hello(ctx: StepContext<{ n: number }>) { return `child-${ctx.input.n}`; }
}

let flaky = 0;
@Workflow({ name: 'smoke' })
class Smoke {
  @Step() async a(ctx: StepContext<{ n: number }>) { return ctx.input.n + 1; }
  @Parallel('p') @Step() async b(ctx: StepContext<{ n: number }, Smoke>) { return ctx.results.a * 2; }
  @Parallel('p') @Step() async c() { return new Date(0); }
  @Step({ when: () => false }) async skipped() { return 'nope'; }
  @Step({ retries: 3, backoff: '10ms' }) async flaky() { flaky++; if (flaky < 3) throw new Error('boom ' + flaky); return flaky; }
  @Subflow(() => Child) sub(ctx: StepContext<{ n: number }>) { return { n: ctx.input.n }; }
}

test('smoke', async () => {
  const events: string[] = [];
  const runner = new Runner({ storage: new SqliteStorage({ filename: ':memory:' }), onEvent: (e) => events.push(`${e.workflow}:${e.type}:${e.node ?? ''}`) });
  await runner.migrate();
  const handle = await runner.start(Smoke, { n: 1 }, 't1');
  const result = await handle.result();
  const info = await handle.status();
  console.log(result, JSON.stringify(info.steps), events.join('\n'));
  expect(result).toBe('child-1');
  await runner.close();
});
