/**
 * repro-lost-wakeup — deterministic reproduction of a lost wake-up the torture run found on
 * PostgreSQL: a parent parked on a subflow child stays `waiting` forever (wake_at null) although its
 * child is `completed`, when the child's final commit and the parent's park commit are in flight at
 * the same time in one worker process.
 *
 * The two commits each check for the other (the child's `wakeParent` updates the parent only
 * `where status = 'waiting'`; the parent's `wakeIfFinished` looks for a finished child), but under
 * READ COMMITTED neither sees the other's uncommitted change, so neither sets `wake_at`. The
 * in-process safety nets then miss too: the parent's re-check (`getRun(child)` after parking) read
 * the child before its commit landed, and the child's `tryResume(parent)` found the parent's
 * execution still active and gave up. `work()` never claims a waiting run without `wake_at`.
 *
 * Nothing in Cairn is changed. The interleaving is forced only by slowness any database or network
 * can show: a deferred trigger makes the child's final transaction take 300 ms to commit,
 * and a storage wrapper sends the parent's park commit 50 ms after the child's final commit, and
 * delivers the parent's post-park `getRun(child)` answer 1 s late.
 *
 *   pnpm build && cd packages/torture && npx tsc -p tsconfig.json && node dist/repro-lost-wakeup.js
 *
 * Exits 1 (and says so) when the parent is stuck; 0 when it completed.
 */
import 'reflect-metadata';
import pg from 'pg';
import { Runner, Step, Subflow, Workflow, type StepContext, type Storage } from '@cairn/core';
import { PostgresStorage } from '@cairn/storage-postgres';
import { startThrowawayPostgres } from '@cairn/storage-postgres/testing';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

@Workflow({ name: 'repro-child' })
class ReproChild {
  @Step() async only(ctx: StepContext<{ n: number }>): Promise<number> {
    return ctx.input.n;
  }
}

@Workflow({ name: 'repro-parent' })
class ReproParent {
  @Subflow<{ n: number }, ReproParent>(() => ReproChild)
  child(ctx: StepContext<{ n: number }, ReproParent>): { n: number } {
    return { n: ctx.input.n };
  }

  @Step() async after(ctx: StepContext<{ n: number }, ReproParent>): Promise<number> {
    return ctx.input.n + 1;
  }
}

/** Delegates to PostgresStorage; only delays some calls (the "slow network"). */
function slowStorage(inner: Storage): Storage {
  let childFinalSent: () => void = () => undefined;
  const childFinal = new Promise<void>((resolve) => (childFinalSent = resolve));
  let parked = false;
  const wrapper: Storage = {
    migrate: () => inner.migrate(),
    createRun: (request, now) => inner.createRun(request, now),
    findRun: (name, trackingId) => inner.findRun(name, trackingId),
    listSteps: (runId) => inner.listSteps(runId),
    listEvents: (runId) => inner.listEvents(runId),
    claimRun: (runId, owner, leaseMs, now, options) => inner.claimRun(runId, owner, leaseMs, now, options),
    claimDue: (names, owner, leaseMs, limit, now, exclude) => inner.claimDue(names, owner, leaseMs, limit, now, exclude),
    renewLease: (runId, lease, leaseMs, now) => inner.renewLease(runId, lease, leaseMs, now),
    close: () => inner.close(),
    async commit(request, now) {
      if (request.wakeParent) childFinalSent(); // the child's final commit: sent at once
      if (request.wakeIfFinished && request.wakeIfFinished.length > 0) {
        await childFinal; // the parent's park: sent 50 ms after the child's final commit
        await sleep(50);
        await inner.commit(request, now);
        parked = true;
        return;
      }
      await inner.commit(request, now);
    },
    async getRun(runId) {
      const run = await inner.getRun(runId);
      if (parked && run?.workflowName === 'repro-child') await sleep(1000); // the answer arrives late
      return run;
    },
  };
  return wrapper;
}

async function main(): Promise<void> {
  const server = await startThrowawayPostgres();
  try {
    const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
    const setup = new Runner({ storage: new PostgresStorage({ connectionString: server.url }), role: 'client', logger: quiet });
    await setup.migrate();
    await setup.close();
    const db = new pg.Client({ connectionString: server.url });
    await db.connect();
    // The child's final transaction takes 300 ms to commit, after all its statements (a slow disk, a busy server).
    await db.query(`create function repro_slow() returns trigger language plpgsql as $$
      begin if NEW.type = 'run_completed' then perform pg_sleep(0.3); end if; return null; end $$`);
    // A deferred constraint trigger runs at COMMIT, after every statement of the transaction.
    await db.query(`create constraint trigger repro_slow after insert on cairn_events deferrable initially deferred for each row execute function repro_slow()`);

    const worker = new Runner({ storage: slowStorage(new PostgresStorage({ connectionString: server.url })), workflows: [ReproParent, ReproChild], logger: quiet, pollMs: 50 });
    worker.work();
    const handle = await worker.start<number>(ReproParent, { n: 41 }, 'parent-1');
    const outcome = await Promise.race([handle.result().then((r) => `completed with ${r}`), sleep(5000).then(() => 'not finished after 5 s')]);
    const rows = (
      await db.query(`select p.status, p.wake_at, p.lease_owner, c.status as child_status from cairn_runs p join cairn_runs c on c.parent_run_id = p.id where p.tracking_id = 'parent-1'`)
    ).rows as { status: string; wake_at: string | null; lease_owner: string | null; child_status: string }[];
    const row = rows[0]!;
    console.log(`parent ${outcome}; parent status ${row.status}, wake_at ${row.wake_at ?? 'null'}, lease ${row.lease_owner ?? 'none'}; child ${row.child_status}`);
    const stuck = row.status === 'waiting' && row.wake_at === null && row.child_status === 'completed';
    console.log(stuck ? 'LOST WAKE-UP: the parent will never be claimed again' : 'no lost wake-up');
    await db.end();
    await worker.close({ timeoutMs: 1000 });
    process.exitCode = stuck ? 1 : 0;
  } finally {
    server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
