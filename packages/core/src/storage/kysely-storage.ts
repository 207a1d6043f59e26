/**
 * kysely storage — the one implementation of `Storage`, for every SQL dialect. Each public method
 * is one transaction (start, claim and commit are each one commit); transient failures (lock
 * contention, a dropped connection) are retried, which is safe because every write here is
 * idempotent: runs are found by id or tracking id, completed steps are never overwritten, events
 * are keyed by (run, seq), and a retried fenced commit recognises its own earlier success.
 */
import { Kysely, Migrator, sql, type ExpressionBuilder, type RawBuilder, type Transaction } from 'kysely';
import { LeaseLostError, StorageBusyError, StorageUnavailableError } from '../errors/errors';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, migrationProvider } from './migrations';
import type { StorageDialect } from './dialect';
import type { Claim, ClaimOptions, CommitRequest, CreateRunRequest, CreateRunResult, EventRecord, EventWrite, Lease, RunRecord, StepRecord, StepWrite } from './records';
import { toEventRecord, toRunRecord, toStepRecord, type CairnDatabase, type RunsTable } from './schema';
import type { Storage } from './storage';

export interface KyselyStorageOptions {
  dialect: StorageDialect;
  /** Database schema for Cairn's tables (PostgreSQL). Default: the connection's default. */
  schema?: string;
  /** How long to keep retrying a transient failure (lock contention, lost connection). Default 20 s. */
  transientRetryMs?: number;
}

type Trx = Transaction<CairnDatabase>;
/** A point in time for SQL: the runner's clock value, or an expression on the database's clock. */
type TimeValue = number | RawBuilder<number>;

export class KyselyStorage implements Storage {
  protected readonly db: Kysely<CairnDatabase>;
  protected readonly dialect: StorageDialect;
  private readonly schema: string | undefined;
  private readonly transientRetryMs: number;

  constructor(options: KyselyStorageOptions) {
    this.dialect = options.dialect;
    this.schema = options.schema;
    this.transientRetryMs = options.transientRetryMs ?? 20_000;
    const db = new Kysely<CairnDatabase>({ dialect: options.dialect.createKyselyDialect() });
    this.db = options.schema ? db.withSchema(options.schema) : db;
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
      if (error) throw error;
    });
  }

  async createRun(request: CreateRunRequest, now: number): Promise<CreateRunResult> {
    const { run } = request;
    return this.transaction('start a run', async (trx) => {
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
      await this.writeSteps(trx, run.id, request.steps);
      await this.writeEvents(trx, run.id, request.events, now);
      if (request.owner === null) await this.dialect.notify?.(trx);
      return {
        created: true,
        claim: {
          run: toRunRecord(inserted),
          steps: request.steps.map((s) => ({ ...s, runId: run.id })),
          lease: { owner: request.owner ?? '', epoch: request.owner === null ? 0 : 1 },
          nextSeq: request.events.reduce((max, e) => Math.max(max, e.seq + 1), 1),
        },
      };
    });
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

  async commit(request: CommitRequest, now: number): Promise<void> {
    let attempt = 0;
    await this.transaction('commit a step', async (trx) => {
      attempt += 1;
      const fenced = await trx
        .updateTable('cairn_runs')
        .set({
          updated_at: this.time(now),
          ...(request.run?.release ? { lease_owner: null, lease_expires_at: null } : { lease_expires_at: this.time(now, now + request.leaseMs) }),
          ...(request.run?.status !== undefined ? { status: request.run.status } : {}),
          ...(request.run?.output !== undefined ? { output: request.run.output } : {}),
          ...(request.run?.error !== undefined ? { error: request.run.error } : {}),
          ...(request.run?.wakeAt !== undefined ? { wake_at: request.run.wakeAt === null ? null : this.time(now, request.run.wakeAt) } : {}),
        })
        .where('id', '=', request.runId)
        .where('lease_owner', '=', request.lease.owner)
        .where('lease_epoch', '=', request.lease.epoch)
        .executeTakeFirst();
      if (Number(fenced.numUpdatedRows) !== 1) {
        if (attempt > 1 && request.run?.release && (await this.releasedBy(trx, request.runId, request.lease))) return;
        throw new LeaseLostError(`Lease on run ${request.runId} was lost (owner ${request.lease.owner}, epoch ${request.lease.epoch}); nothing was written.`);
      }
      await this.writeSteps(trx, request.runId, request.steps ?? []);
      await this.writeEvents(trx, request.runId, request.events ?? [], now);
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
        await trx.updateTable('cairn_runs').set({ wake_at: this.time(now), updated_at: this.time(now) }).where('id', '=', request.wakeParent).where('status', '=', 'waiting').execute();
      }
      if (request.wakeParent || request.run?.status === 'pending') await this.dialect.notify?.(trx);
    });
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
   * Retries `fn` on transient errors for up to `transientRetryMs` of waiting (backoff 20 ms
   * doubling to 1 s), then throws a typed, retriable StorageBusyError / StorageUnavailableError.
   */
  protected async transient<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        const kind = this.dialect.classifyError(error);
        if (kind === undefined) throw error;
        const pause = Math.min(1000, 20 * 2 ** (attempt - 1));
        if (waited + pause > this.transientRetryMs) {
          const message = `Could not ${what} on ${this.dialect.name}: ${error instanceof Error ? error.message : String(error)} (tried ${attempt} times over ${waited} ms).`;
          throw kind === 'busy' ? new StorageBusyError(message, { cause: error }) : new StorageUnavailableError(message, { cause: error });
        }
        waited += pause;
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

  private async releasedBy(trx: Trx, runId: string, lease: Lease): Promise<boolean> {
    const row = await trx.selectFrom('cairn_runs').select(['lease_owner', 'lease_epoch']).where('id', '=', runId).executeTakeFirst();
    return row !== undefined && row.lease_owner === null && Number(row.lease_epoch) === lease.epoch;
  }

  private async writeSteps(trx: Trx, runId: string, steps: readonly StepWrite[]): Promise<void> {
    if (steps.length === 0) return;
    await trx
      .insertInto('cairn_steps')
      .values(
        steps.map((s) => ({
          run_id: runId,
          name: s.name,
          status: s.status,
          attempts: s.attempts,
          output: s.output,
          error: s.error,
          child_run_id: s.childRunId,
          wake_at: s.wakeAt,
          started_at: s.startedAt,
          finished_at: s.finishedAt,
        })),
      )
      .onConflict((oc) =>
        oc
          .columns(['run_id', 'name'])
          .doUpdateSet((eb) => ({
            status: eb.ref('excluded.status'),
            attempts: eb.ref('excluded.attempts'),
            output: eb.ref('excluded.output'),
            error: eb.ref('excluded.error'),
            child_run_id: eb.ref('excluded.child_run_id'),
            wake_at: eb.ref('excluded.wake_at'),
            started_at: eb.ref('excluded.started_at'),
            finished_at: eb.ref('excluded.finished_at'),
          }))
          // A completed or skipped step is final: a retried commit never writes it twice.
          .where('cairn_steps.status', 'not in', ['completed', 'skipped']),
      )
      .execute();
  }

  private async writeEvents(trx: Trx, runId: string, events: readonly EventWrite[], now: number): Promise<void> {
    if (events.length === 0) return;
    await trx
      .insertInto('cairn_events')
      .values(events.map((e) => ({ run_id: runId, seq: e.seq, type: e.type, node: e.node, attempt: e.attempt, detail: e.detail, at: this.time(now) })))
      .onConflict((oc) => oc.columns(['run_id', 'seq']).doNothing())
      .execute();
  }
}
