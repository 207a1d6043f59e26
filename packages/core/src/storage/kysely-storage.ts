/**
 * kysely storage — the one implementation of `Storage`, for every SQL dialect. Each write is one
 * transaction (or, where the dialect can, one statement); concurrent starts and commits share one
 * (group commit, group.ts), and the hot path's statements are compiled once (prepared.ts).
 * Transient failures (lock contention, a dropped connection) are retried, which is safe because
 * every write here is idempotent: runs are found by id or tracking id, completed steps are never
 * overwritten, events are keyed by (run, seq), and a retried fenced commit recognises its own
 * earlier success.
 */
import { Kysely, Migrator, sql, type ExpressionBuilder, type RawBuilder, type Transaction } from 'kysely';
import { LeaseLostError, SchemaMismatchError, StorageBusyError, StorageUnavailableError } from '../errors/errors';
import { LIVE_STATUSES, MIGRATION_LOCK_TABLE, MIGRATION_TABLE, migrationProvider } from './migrations';
import { migrationFailure, permanentFailure, transientFailure } from './failures';
import type { GroupedCommit, GroupedStart, StorageDialect } from './dialect';
import { Group } from './group';
import { PreparedQuery } from './prepared';
import type { Claim, ClaimOptions, CommitRequest, CreateRunRequest, CreateRunResult, EventRecord, EventWrite, Lease, RunRecord, StepRecord, StepWrite } from './records';
import { toEventRecord, toRunRecord, toStepRecord, type CairnDatabase, type EventsTable, type RunsTable, type StepsTable } from './schema';
import type { Storage } from './storage';

export interface KyselyStorageOptions {
  dialect: StorageDialect;
  /** Database schema for Cairn's tables (PostgreSQL). Default: the connection's default. */
  schema?: string;
  /** How long to keep retrying a transient failure (lock contention, lost connection). Default 20 s. */
  transientRetryMs?: number;
}

type Trx = Transaction<CairnDatabase>;

function describeStart(request: CreateRunRequest): string {
  return `start run '${request.run.trackingId}' of workflow ${request.run.workflowName}`;
}

function lostLease(request: CommitRequest): LeaseLostError {
  return new LeaseLostError(`Lease on run ${request.runId} was lost (owner ${request.lease.owner}, epoch ${request.lease.epoch}); nothing was written.`);
}

/** Most commits one group-commit transaction carries. */
const MAX_BATCH = 64;
/** Rows per multi-row INSERT: one prepared statement per row count up to this. */
const ROWS_PER_STATEMENT = 16;
/** A point in time for SQL: the runner's clock value, or an expression on the database's clock. */
type TimeValue = number | RawBuilder<number>;

export class KyselyStorage implements Storage {
  protected readonly db: Kysely<CairnDatabase>;
  protected readonly dialect: StorageDialect;
  private readonly schema: string | undefined;
  private readonly transientRetryMs: number;
  private readonly starts: Group<GroupedStart, CreateRunResult | undefined>;
  private readonly commits: Group<GroupedCommit, undefined>;
  private readonly statements: ReturnType<KyselyStorage['prepareStatements']>;

  constructor(options: KyselyStorageOptions) {
    this.dialect = options.dialect;
    this.schema = options.schema;
    this.transientRetryMs = options.transientRetryMs ?? 20_000;
    const group = { concurrency: options.dialect.commitConcurrency ?? 1, maxBatch: MAX_BATCH, shared: (error: unknown) => error instanceof StorageBusyError || error instanceof StorageUnavailableError || error instanceof SchemaMismatchError };
    this.commits = new Group<GroupedCommit, undefined>({ ...group, key: (c) => c.request.runId, flush: (batch) => this.commitTogether(batch) });
    this.starts = new Group({ ...group, key: (s) => `${s.request.run.workflowName}\u0000${s.request.run.trackingId}`, flush: (batch) => this.startTogether(batch) });
    const db = new Kysely<CairnDatabase>({ dialect: options.dialect.createKyselyDialect() });
    this.db = options.schema ? db.withSchema(options.schema) : db;
    this.statements = this.prepareStatements();
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({
      db: this.db,
      provider: migrationProvider,
      migrationTableName: MIGRATION_TABLE,
      migrationLockTableName: MIGRATION_LOCK_TABLE,
      ...(this.schema ? { migrationTableSchema: this.schema } : {}),
    });
    await this.transient('migrate', async () => {
      const { error } = await migrator.migrateToLatest();
      if (error) throw migrationFailure(this.dialect, error);
    });
  }

  /** Starts a run; concurrent starts share a statement or transaction (group commit). */
  async createRun(request: CreateRunRequest, now: number): Promise<CreateRunResult> {
    const started = await this.starts.submit({ request, now });
    // The tracking id was taken (the statement wrote nothing): look at that run.
    return started ?? this.transaction(describeStart(request), (trx) => this.insertRun(trx, request, now));
  }

  private async startTogether(batch: readonly GroupedStart[]): Promise<(CreateRunResult | undefined)[]> {
    const statement = this.dialect.createRunStatement;
    if (statement) {
      const what = batch.length === 1 ? describeStart(batch[0]!.request) : `start ${batch.length} runs`;
      const inserted = await this.transient(what, () => statement.call(this.dialect, batch));
      return batch.map(({ request }) => {
        const row = inserted.get(request.run.id);
        return row ? { created: true, claim: this.newClaim(request, row) } : undefined;
      });
    }
    const what = batch.length === 1 ? describeStart(batch[0]!.request) : `start ${batch.length} runs`;
    return this.transaction(what, async (trx) => {
      const results: CreateRunResult[] = [];
      for (const { request, now } of batch) results.push(await this.insertRun(trx, request, now));
      return results;
    });
  }

  /** Inserts a run with its first rows, or finds the run that has its tracking id. */
  private async insertRun(trx: Trx, request: CreateRunRequest, now: number): Promise<CreateRunResult> {
    const { run } = request;
    const inserted = await trx
      .insertInto('cairn_runs')
      .values({
        id: run.id,
        workflow_name: run.workflowName,
        workflow_version: run.workflowVersion,
        graph_hash: run.graphHash,
        tracking_id: run.trackingId,
        status: request.owner === null ? 'pending' : 'running',
        input: run.input,
        output: null,
        error: null,
        parent_run_id: run.parentRunId,
        parent_node: run.parentNode,
        lease_owner: request.owner,
        lease_epoch: request.owner === null ? 0 : 1,
        lease_expires_at: request.owner === null ? null : this.time(now, now + request.leaseMs),
        wake_at: null,
        created_at: this.time(now),
        updated_at: this.time(now),
      })
      .onConflict((oc) => oc.columns(['workflow_name', 'tracking_id']).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!inserted) {
      const existing = await trx
        .selectFrom('cairn_runs')
        .selectAll()
        .where('workflow_name', '=', run.workflowName)
        .where('tracking_id', '=', run.trackingId)
        .executeTakeFirstOrThrow();
      // A retried start whose first commit landed finds its own run: it is still ours.
      if (existing.id !== run.id) return { created: false, run: toRunRecord(existing) };
      return { created: true, claim: await this.loadClaim(trx, existing) };
    }
    await this.writeSteps(trx, request.steps.map((step) => ({ runId: run.id, step })));
    await this.writeEvents(trx, request.events.map((event) => ({ runId: run.id, event, now })));
    if (request.owner === null) await this.dialect.notify?.(trx);
    return { created: true, claim: this.newClaim(request, inserted) };
  }

  private newClaim(request: CreateRunRequest, inserted: RunsTable): Claim {
    return {
      run: toRunRecord(inserted),
      steps: request.steps.map((s) => ({ ...s, runId: request.run.id })),
      lease: { owner: request.owner ?? '', epoch: request.owner === null ? 0 : 1 },
      nextSeq: request.events.reduce((max, e) => Math.max(max, e.seq + 1), 1),
    };
  }

  async findRun(workflowName: string, trackingId: string): Promise<RunRecord | undefined> {
    const row = await this.transient('read a run', () =>
      this.db.selectFrom('cairn_runs').selectAll().where('workflow_name', '=', workflowName).where('tracking_id', '=', trackingId).executeTakeFirst(),
    );
    return row ? toRunRecord(row) : undefined;
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const row = await this.transient('read a run', () => this.db.selectFrom('cairn_runs').selectAll().where('id', '=', runId).executeTakeFirst());
    return row ? toRunRecord(row) : undefined;
  }

  async listSteps(runId: string): Promise<StepRecord[]> {
    const rows = await this.transient('read steps', () => this.db.selectFrom('cairn_steps').selectAll().where('run_id', '=', runId).execute());
    return rows.map(toStepRecord);
  }

  async listEvents(runId: string): Promise<EventRecord[]> {
    const rows = await this.transient('read events', () => this.db.selectFrom('cairn_events').selectAll().where('run_id', '=', runId).orderBy('seq').execute());
    return rows.map(toEventRecord);
  }

  async claimRun(runId: string, owner: string, leaseMs: number, now: number, options: ClaimOptions = {}): Promise<Claim | undefined> {
    return this.transaction('claim a run', async (trx) => {
      const row = await this.claimRow(trx, runId, owner, leaseMs, now, options);
      return row ? this.loadClaim(trx, row) : undefined;
    });
  }

  async claimDue(workflowNames: readonly string[], owner: string, leaseMs: number, limit: number, now: number, exclude: readonly string[] = []): Promise<Claim[]> {
    if (workflowNames.length === 0 || limit <= 0) return [];
    return this.transaction('claim due runs', async (trx) => {
      const ids = await this.selectDue(trx, { workflowNames, exclude, limit, now: this.time(now) });
      const claims: Claim[] = [];
      for (const id of ids) {
        const row = await this.claimRow(trx, id, owner, leaseMs, now, {});
        if (row) claims.push(await this.loadClaim(trx, row));
      }
      return claims;
    });
  }

  /** Applies one fenced change; concurrent commits share a transaction (group commit, see group.ts). */
  async commit(request: CommitRequest, now: number): Promise<void> {
    await this.commits.submit({ request, now });
  }

  /** One transaction for every request of the batch; returns, per request, the lease it lost. */
  private async commitTogether(batch: readonly GroupedCommit[]): Promise<(LeaseLostError | undefined)[]> {
    const statement = this.dialect.commitStatement;
    if (statement && batch.every(({ request }) => !request.wakeParent && !request.wakeIfFinished?.length && request.run?.status !== 'pending')) {
      let attempt = 0;
      const held = await this.transient(batch.length === 1 ? 'commit a step' : `commit ${batch.length} steps`, () => {
        attempt += 1;
        return statement.call(this.dialect, batch);
      });
      return Promise.all(
        batch.map(async ({ request }) => {
          if (held.has(request.runId)) return undefined;
          // A retried statement whose first try landed: the release already took effect.
          if (attempt > 1 && request.run?.release === true && (await this.transient('check a release', () => this.releasedBy(this.db, request.runId, request.lease)))) return undefined;
          return lostLease(request);
        }),
      );
    }
    let attempt = 0;
    return this.transaction(batch.length === 1 ? 'commit a step' : `commit ${batch.length} steps`, async (trx) => {
      attempt += 1;
      const lost: (LeaseLostError | undefined)[] = [];
      const steps: { runId: string; step: StepWrite }[] = [];
      const events: { runId: string; event: EventWrite; now: number }[] = [];
      let notify = false;
      for (const { request, now } of batch) {
        if (!(await this.fence(trx, request, now))) {
          // A retried transaction whose first try landed: the release already took effect.
          const landed = attempt > 1 && request.run?.release === true && (await this.releasedBy(trx, request.runId, request.lease));
          lost.push(landed ? undefined : lostLease(request));
          continue;
        }
        lost.push(undefined);
        for (const step of request.steps ?? []) steps.push({ runId: request.runId, step });
        for (const event of request.events ?? []) events.push({ runId: request.runId, event, now });
        await this.wakeUps(trx, request, now);
        notify ||= request.wakeParent !== undefined || request.run?.status === 'pending';
      }
      await this.writeSteps(trx, steps);
      await this.writeEvents(trx, events);
      if (notify) await this.dialect.notify?.(trx);
      return lost;
    });
  }

  /** The fenced part of a commit: updates the run only while `request.lease` still holds it. */
  private async fence(trx: Trx, request: CommitRequest, now: number): Promise<boolean> {
    const run = request.run;
    const wakeAt = run?.wakeAt ?? null;
    const fenced = await trx.executeQuery(
      this.statements.fence.with({
        now,
        release: run?.release ? 1 : 0,
        status: run?.status ?? null,
        setOutput: run?.output !== undefined ? 1 : 0,
        output: run?.output ?? null,
        setError: run?.error !== undefined ? 1 : 0,
        error: run?.error ?? null,
        setWake: run?.wakeAt !== undefined ? 1 : 0,
        wakeAt,
        wakeOffset: wakeAt === null ? null : wakeAt - now,
        id: request.runId,
        owner: request.lease.owner,
        epoch: request.lease.epoch,
      }),
    );
    return Number(fenced.numAffectedRows ?? 0) === 1;
  }

  private async wakeUps(trx: Trx, request: CommitRequest, now: number): Promise<void> {
    if (request.wakeIfFinished && request.wakeIfFinished.length > 0) {
      // Parking to wait for children: if one already finished (its wake found us still running),
      // make the run due now, in this transaction, so the wake-up cannot be lost.
      await trx
        .updateTable('cairn_runs')
        .set({ wake_at: this.time(now) })
        .where('id', '=', request.runId)
        .where((eb) => eb.exists(eb.selectFrom('cairn_runs as child').select('child.id').where('child.id', 'in', request.wakeIfFinished!).where('child.status', 'in', ['completed', 'failed'])))
        .execute();
    }
    if (request.wakeParent) {
      // Wakes the parent if it is parked. The row is updated (so locked) whatever its status: a park
      // commit of the parent in flight at the same time then waits for this transaction, and its
      // wakeIfFinished check, a later statement, sees this child finished. Filtering on
      // status = 'waiting' instead would let each transaction miss the other (a lost wake-up).
      const waiting = (then: TimeValue, otherwise: 'wake_at' | 'updated_at') => sql<number>`case when ${sql.ref('status')} = 'waiting' then ${then} else ${sql.ref(otherwise)} end`;
      await trx
        .updateTable('cairn_runs')
        .set({ wake_at: waiting(this.time(now), 'wake_at'), updated_at: waiting(this.time(now), 'updated_at') })
        .where('id', '=', request.wakeParent)
        .execute();
    }
  }

  async renewLease(runId: string, lease: Lease, leaseMs: number, now: number): Promise<boolean> {
    const result = await this.transient('renew a lease', () =>
      this.db
        .updateTable('cairn_runs')
        .set({ lease_expires_at: this.time(now, now + leaseMs) })
        .where('id', '=', runId)
        .where('lease_owner', '=', lease.owner)
        .where('lease_epoch', '=', lease.epoch)
        .executeTakeFirst(),
    );
    return Number(result.numUpdatedRows) === 1;
  }

  async close(): Promise<void> {
    await this.db.destroy();
    await this.dialect.close?.();
  }

  /** Subscribes to wake-ups, where the dialect has them (PostgreSQL LISTEN/NOTIFY). */
  listen(onWake: () => void): Promise<{ close(): Promise<void> }> | undefined {
    return this.dialect.listen?.(onWake);
  }

  /**
   * `at` (default: now) as SQL. On a database clock it is the database's now plus the offset the
   * runner meant (`at - now`), so every worker measures leases and due times by one clock.
   */
  protected time(now: number, at: number = now): TimeValue {
    const databaseNow = this.dialect.databaseNow?.();
    if (!databaseNow) return at;
    return at === now ? databaseNow : sql<number>`(${databaseNow} + ${at - now})`;
  }

  /** Runs `fn` in one transaction, retrying it whole on transient errors. */
  protected transaction<T>(what: string, fn: (trx: Trx) => Promise<T>): Promise<T> {
    return this.transient(what, () => this.db.transaction().execute(fn));
  }

  /**
   * Retries `fn` on transient errors for up to `transientRetryMs` in all, attempts included
   * (backoff 20 ms doubling to 1 s), then throws a typed, retriable StorageBusyError /
   * StorageUnavailableError. Other database errors surface typed (see failures.ts).
   */
  protected async transient<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        const kind = this.dialect.classifyError(error);
        if (kind === undefined) throw permanentFailure(this.dialect, what, error);
        const pause = Math.min(1000, 20 * 2 ** (attempt - 1));
        const elapsed = performance.now() - started;
        if (elapsed + pause > this.transientRetryMs) throw transientFailure(this.dialect, what, kind, error, attempt, elapsed);
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }

  private claimable(eb: ExpressionBuilder<CairnDatabase, 'cairn_runs'>, now: TimeValue, options: ClaimOptions) {
    const statuses = eb.or([
      eb('status', '=', 'pending'),
      eb('status', '=', 'running'),
      options.ignoreWakeAt ? eb('status', '=', 'waiting') : eb.and([eb('status', '=', 'waiting'), eb('wake_at', '<=', now)]),
      ...(options.includeFailed ? [eb('status', '=', 'failed')] : []),
    ]);
    // Never the claimer's own live lease: two claim paths in one process must not both win.
    const free = eb.or([eb('lease_owner', 'is', null), eb('lease_expires_at', '<=', now)]);
    return eb.and([statuses, free]);
  }

  private async claimRow(trx: Trx, runId: string, owner: string, leaseMs: number, now: number, options: ClaimOptions): Promise<RunsTable | undefined> {
    return trx
      .updateTable('cairn_runs')
      .set((eb) => ({
        status: 'running',
        lease_owner: owner,
        lease_epoch: eb('lease_epoch', '+', 1),
        lease_expires_at: this.time(now, now + leaseMs),
        wake_at: null,
        // The run is being retried: its last error stays in the history, not on the run.
        error: null,
        updated_at: this.time(now),
      }))
      .where('id', '=', runId)
      .where((eb) => this.claimable(eb, this.time(now), options))
      .returningAll()
      .executeTakeFirst();
  }

  private async selectDue(trx: Trx, query: { workflowNames: readonly string[]; exclude: readonly string[]; limit: number; now: TimeValue }): Promise<string[]> {
    let select = trx
      .selectFrom('cairn_runs')
      .select('id')
      // Implied by the conditions below; stated literally so the live-runs partial index applies.
      .where(LIVE_STATUSES)
      .where('workflow_name', 'in', query.workflowNames)
      .where((eb) =>
        eb.or([
          eb('status', '=', 'pending'),
          eb.and([eb('status', '=', 'waiting'), eb('wake_at', '<=', query.now)]),
          eb.and([eb('status', '=', 'running'), eb('lease_expires_at', '<=', query.now)]),
        ]),
      );
    if (query.exclude.length > 0) select = select.where('id', 'not in', query.exclude);
    const ordered = select.orderBy('updated_at').limit(query.limit);
    const rows = await (this.dialect.skipLockedClaims ? ordered.forUpdate().skipLocked() : ordered).execute();
    return rows.map((r) => r.id);
  }

  private async loadClaim(trx: Trx, row: RunsTable): Promise<Claim> {
    const steps = await trx.selectFrom('cairn_steps').selectAll().where('run_id', '=', row.id).execute();
    const last = await trx.selectFrom('cairn_events').select((eb) => eb.fn.max('seq').as('seq')).where('run_id', '=', row.id).executeTakeFirst();
    const run = toRunRecord(row);
    return {
      run,
      steps: steps.map(toStepRecord),
      lease: { owner: run.leaseOwner ?? '', epoch: run.leaseEpoch },
      nextSeq: Number(last?.seq ?? 0) + 1,
    };
  }

  private async releasedBy(trx: Kysely<CairnDatabase>, runId: string, lease: Lease): Promise<boolean> {
    const row = await trx.selectFrom('cairn_runs').select(['lease_owner', 'lease_epoch']).where('id', '=', runId).executeTakeFirst();
    return row !== undefined && row.lease_owner === null && Number(row.lease_epoch) === lease.epoch;
  }

  private async writeSteps(trx: Trx, steps: readonly { runId: string; step: StepWrite }[]): Promise<void> {
    for (let from = 0; from < steps.length; from += ROWS_PER_STATEMENT) {
      const rows = steps.slice(from, from + ROWS_PER_STATEMENT);
      const values: Record<string, unknown> = {};
      rows.forEach(({ runId, step }, i) => {
        values[`run_id${i}`] = runId;
        for (const [column, field] of STEP_COLUMNS) values[`${column}${i}`] = step[field];
      });
      await trx.executeQuery(this.statements.steps(rows.length).with(values));
    }
  }

  private async writeEvents(trx: Trx, events: readonly { runId: string; event: EventWrite; now: number }[]): Promise<void> {
    for (let from = 0; from < events.length; from += ROWS_PER_STATEMENT) {
      const rows = events.slice(from, from + ROWS_PER_STATEMENT);
      const values: Record<string, unknown> = {};
      rows.forEach(({ runId, event, now }, i) => {
        Object.assign(values, { [`run_id${i}`]: runId, [`seq${i}`]: event.seq, [`type${i}`]: event.type, [`node${i}`]: event.node, [`attempt${i}`]: event.attempt, [`detail${i}`]: event.detail, [`at${i}`]: now });
      });
      await trx.executeQuery(this.statements.events(rows.length).with(values));
    }
  }

  /**
   * The hot path's statements, built by Kysely once (per row count for multi-row inserts) and
   * executed with new values every time (see prepared.ts).
   */
  private prepareStatements() {
    const databaseNow = this.dialect.databaseNow?.();
    /** A point in time: the runner's value, or the database's now plus the runner's offset. */
    const at = (value: unknown, offset: unknown): unknown => (databaseNow ? sql<number>`(${databaseNow} + ${offset})` : value);
    const nowValue = (value: unknown): unknown => databaseNow ?? value;
    const cached = <Q>(make: (rows: number) => Q) => {
      const byRows = new Map<number, Q>();
      return (rows: number): Q => {
        let query = byRows.get(rows);
        if (!query) byRows.set(rows, (query = make(rows)));
        return query;
      };
    };
    const fence = new PreparedQuery<FenceValues>((bind) =>
      this.db
        .updateTable('cairn_runs')
        .set({
          updated_at: nowValue(bind('now')) as number,
          // Only a release touches the lease: the heartbeat renews it, so a plain step commit changes
          // no indexed column (on PostgreSQL a HOT update, with no index writes).
          lease_owner: sql<string | null>`case when ${bind('release')} = 1 then null else ${sql.ref('lease_owner')} end`,
          lease_expires_at: sql<number | null>`case when ${bind('release')} = 1 then null else ${sql.ref('lease_expires_at')} end`,
          status: sql<RunsTable['status']>`coalesce(${bind('status')}, ${sql.ref('status')})`,
          output: sql<string | null>`case when ${bind('setOutput')} = 1 then ${bind('output')} else ${sql.ref('output')} end`,
          error: sql<string | null>`case when ${bind('setError')} = 1 then ${bind('error')} else ${sql.ref('error')} end`,
          wake_at: sql<number | null>`case when ${bind('setWake')} = 1 then ${at(bind('wakeAt'), bind('wakeOffset'))} else ${sql.ref('wake_at')} end`,
        })
        .where('id', '=', bind('id'))
        .where('lease_owner', '=', bind('owner'))
        .where('lease_epoch', '=', bind('epoch')),
    );
    const steps = cached(
      (rows) =>
        new PreparedQuery<Record<string, unknown>>((bind) =>
          this.db
            .insertInto('cairn_steps')
            .values(Array.from({ length: rows }, (_, i) => Object.fromEntries([['run_id', bind(`run_id${i}`)], ...STEP_COLUMNS.map(([column]) => [column, bind(`${column}${i}`)])]) as StepsTable))
            .onConflict((oc) =>
              oc
                .columns(['run_id', 'name'])
                .doUpdateSet((eb) => Object.fromEntries(STEP_COLUMNS.filter(([column]) => column !== 'name').map(([column]) => [column, eb.ref(`excluded.${column}`)])))
                // A completed or skipped step is final: a retried commit never writes it twice.
                .where('cairn_steps.status', 'not in', ['completed', 'skipped']),
            ),
        ),
    );
    const events = cached(
      (rows) =>
        new PreparedQuery<Record<string, unknown>>((bind) =>
          this.db
            .insertInto('cairn_events')
            .values(
              Array.from({ length: rows }, (_, i) => ({
                run_id: bind(`run_id${i}`) as string,
                seq: bind(`seq${i}`) as number,
                type: bind(`type${i}`) as EventsTable['type'],
                node: bind(`node${i}`) as string | null,
                attempt: bind(`attempt${i}`) as number | null,
                detail: bind(`detail${i}`) as string | null,
                at: nowValue(bind(`at${i}`)) as number,
              })),
            )
            .onConflict((oc) => oc.columns(['run_id', 'seq']).doNothing()),
        ),
    );
    return { fence, steps, events };
  }
}

interface FenceValues {
  now: number;
  release: number;
  status: string | null;
  setOutput: number;
  output: string | null;
  setError: number;
  error: string | null;
  setWake: number;
  wakeAt: number | null;
  wakeOffset: number | null;
  id: string;
  owner: string;
  epoch: number;
}

/** The columns of a step row after run_id, and the StepWrite field each comes from. */
const STEP_COLUMNS = [
  ['name', 'name'],
  ['status', 'status'],
  ['attempts', 'attempts'],
  ['output', 'output'],
  ['error', 'error'],
  ['child_run_id', 'childRunId'],
  ['wake_at', 'wakeAt'],
  ['started_at', 'startedAt'],
  ['finished_at', 'finishedAt'],
] as const satisfies readonly (readonly [keyof StepsTable, keyof StepWrite])[];
