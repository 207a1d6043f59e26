/**
 * verify — the invariants, checked after the chaos from three independent sources: Cairn's tables
 * (what was stored), the steps' own ledger (what really ran, where and when), and the audit
 * triggers (who wrote each row, under which lease), against the driver's log of what it injected.
 *
 * Definitions used below. An execution is one call of a step body (ledger S line). It is *stored*
 * when its token is in the step's stored output, a *designed failure* when it threw the flaky
 * step's planned error, and otherwise *wasted*: a re-execution. A wasted execution ran under lease
 * epoch E of its run; the lease passed to epoch E+1 at the takeover. Its *causes* are the injected
 * events that can end a lease between the claim of E and the takeover: a SIGKILL of its process, a
 * SIGSTOP of its process (zombie), the driver expiring exactly that lease, a PostgreSQL restart.
 * A wasted execution with no such cause is a violation.
 */
import { devalueSerializer } from '@cairn/core';
import type { AuditRow } from './audit';
import { DRIVER, type LeaseRow, type Snapshot, type StepRow } from './database';
import type { Execution, StorageLine } from './ledger';
import { CHILD, CHILD_STEPS, designedFailures, expected, PARENT, PARENT_STEPS, SUBFLOW_NODE, trackingIdOf } from './workflow';

export type Cause = 'kill' | 'zombie' | 'lease-expiry' | 'db-restart';
export const CAUSES: readonly Cause[] = ['kill', 'zombie', 'lease-expiry', 'db-restart'];

export interface ZombieRecord {
  tag: string;
  pid: number;
  stoppedAt: number;
  /** When the driver saw every lease the zombie held taken over (undefined: not all were). */
  takenOverAt: number | undefined;
  continuedAt: number;
  /** The running runs leased to the zombie right after SIGSTOP. */
  held: LeaseRow[];
  /** Those whose lease another worker had taken over (a new epoch) when it was SIGCONTed. */
  lost: LeaseRow[];
}

/** Everything the driver injected, with times on the machine's clock (the ledger's clock too). */
export interface ChaosLog {
  spawns: { tag: string; pid: number; at: number }[];
  kills: { tag: string; pid: number; at: number }[];
  expiries: { runId: string; owner: string; epoch: number; at: number }[];
  restarts: { startedAt: number; endedAt: number }[];
  zombies: ZombieRecord[];
  /**
   * Every SIGSTOP..SIGCONT of a worker: the zombies, and the attempts given up (no lease held, or
   * stopped inside a transaction). `blocksAll`: it was stopped holding the SQLite write lock, which
   * stalls every process sharing the file (a cause for anyone's lease, not only its own).
   */
  pauses: { tag: string; stoppedAt: number; continuedAt: number; blocksAll: boolean }[];
  /** Workers that exited without being killed or told to stop. */
  unexpectedExits: { tag: string; code: number | null; signal: string | null; stderr: string }[];
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** Up to 20 examples of what broke it. */
  examples: string[];
}

export interface ZombieFigures {
  tag: string;
  stoppedMs: number;
  heldRuns: number;
  takenOver: number;
  /** Commits of the zombie on those runs refused with LeaseLostError after SIGCONT. */
  fencedCommits: number;
  /** Heartbeats after SIGCONT that found the lease gone. */
  refusedHeartbeats: number;
  /** Commits on those runs sent after SIGCONT under the stale lease that were accepted (must be 0). */
  acceptedStaleCommits: number;
  /** Rows of those runs written by the zombie after SIGCONT without holding the lease (must be 0; audit). */
  staleRowsWritten: number;
  /** Step bodies of those runs the zombie finished after SIGCONT (their results were discarded). */
  bodiesFinishedAfterResume: number;
}

export interface Figures {
  parentRuns: number;
  childRuns: number;
  completed: number;
  failed: number;
  lost: number;
  executions: number;
  stored: number;
  designedFailures: number;
  /** Executions whose result was not stored, other than designed failures: the re-executions. */
  reExecutions: number;
  reExecutionsByCause: Record<Cause | 'unexplained', number>;
  /** Re-executions that began after the step's completion had been committed by the new owner. */
  startedAfterCompletion: number;
  /** Claims of a run whose status was still `running` (its previous lease had expired). */
  takeovers: number;
  takeoversByCause: Record<Cause | 'none', number>;
  forcedLeaseExpiries: number;
  forcedLeaseExpiriesTakenOver: number;
  /** Executions of one run by two processes at the same time (zombie or expired lease: allowed, fenced). */
  overlaps: number;
  overlapsByCause: Record<Cause | 'unexplained', number>;
  /** Runs with at least one execution overlap. */
  runsWithOverlap: number;
  /** Runs whose lease was never force-expired nor held by a zombie nor live across a restart. */
  runsWithoutForcedLeaseLoss: number;
  auditRows: number;
  zombies: ZombieFigures[];
}

export interface Verdict {
  ok: boolean;
  checks: Check[];
  figures: Figures;
}

export interface VerifyInput {
  runs: number;
  chaos: ChaosLog;
  snapshot: Snapshot;
  executions: Execution[];
  storageLines: StorageLine[];
}

interface Out {
  v: number;
  t: string;
}

function decodeOut(text: string | null): Out | undefined {
  if (text === null) return undefined;
  const value = devalueSerializer.deserialize(text);
  if (value === null || typeof value !== 'object') return undefined;
  const { v, t } = value as { v?: unknown; t?: unknown };
  return typeof v === 'number' && typeof t === 'string' ? { v, t } : undefined;
}

/** A check under construction: counts failures, keeps a few examples. */
class Tally {
  failures = 0;
  readonly examples: string[] = [];
  fail(example: string): void {
    this.failures += 1;
    if (this.examples.length < 20) this.examples.push(example);
  }
  check(name: string, detail: string): Check {
    return { name, ok: this.failures === 0, detail: this.failures === 0 ? detail : `${this.failures} violation(s); ${detail}`, examples: this.examples };
  }
}

const key = (runId: string, other: string | number): string => `${runId}#${other}`;
/** A run row write that took a new lease epoch (a start or a claim). */
const isClaim = (row: AuditRow): boolean => row.tbl === 'runs' && (row.op === 'I' || (row.newEpoch !== null && row.oldEpoch !== null && row.newEpoch === row.oldEpoch + 1));
const zero = <K extends string>(keys: readonly K[]): Record<K, number> => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

interface Holder {
  writer: string;
  at: number;
  /** Run status before the claim (a takeover when it was 'running'). */
  before: string | null;
}

export function verify(input: VerifyInput): Verdict {
  const { snapshot, chaos, executions } = input;
  const checks: Check[] = [];

  // ---- runs: nothing lost, right results ---------------------------------------------------------
  const runsById = new Map(snapshot.runs.map((r) => [r.id, r]));
  const parents = snapshot.runs.filter((r) => r.workflow === PARENT);
  const children = snapshot.runs.filter((r) => r.workflow === CHILD);
  const nOfRun = new Map<string, number>();
  const parentByTracking = new Map<string, (typeof parents)[number]>();
  const lost = new Tally();
  for (const run of snapshot.runs) {
    if (run.workflow !== PARENT && run.workflow !== CHILD) lost.fail(`unexpected run ${run.id} of workflow ${run.workflow}`);
  }
  for (const parent of parents) {
    if (parentByTracking.has(parent.trackingId)) lost.fail(`two runs with tracking id ${parent.trackingId}`);
    parentByTracking.set(parent.trackingId, parent);
    const match = /^t-(\d+)$/.exec(parent.trackingId);
    if (!match) lost.fail(`unexpected tracking id ${parent.trackingId}`);
    else nOfRun.set(parent.id, Number(match[1]));
  }
  const childOf = new Map<string, (typeof children)[number]>();
  for (const child of children) {
    const parent = child.parentRunId ? runsById.get(child.parentRunId) : undefined;
    if (!parent || parent.workflow !== PARENT) {
      lost.fail(`child run ${child.id} has no torture parent`);
      continue;
    }
    if (childOf.has(parent.id)) lost.fail(`parent ${parent.id} has two child runs`);
    childOf.set(parent.id, child);
    nOfRun.set(child.id, nOfRun.get(parent.id) ?? -1);
  }
  let completed = 0;
  let failed = 0;
  let lostRuns = 0;
  const results = new Tally();
  for (let n = 0; n < input.runs; n++) {
    const parent = parentByTracking.get(trackingIdOf(n));
    const child = parent ? childOf.get(parent.id) : undefined;
    if (parent?.status === 'failed') failed += 1;
    if (!parent || parent.status !== 'completed' || !child || child.status !== 'completed') {
      lostRuns += 1;
      lost.fail(`run ${trackingIdOf(n)} (${parent?.id ?? '-'}): ${parent ? `parent ${parent.status} (wake_at ${parent.wakeAt ?? 'null'})` : 'missing'}, child ${child ? child.status : 'missing'}`);
      continue;
    }
    completed += 1;
    const want = expected(n);
    const got = decodeOut(parent.output);
    if (got?.v !== want.finish) results.fail(`run ${trackingIdOf(n)}: result ${JSON.stringify(got)} instead of v=${want.finish}`);
    const childGot = decodeOut(child.output);
    if (childGot?.v !== want.seal) results.fail(`child of ${trackingIdOf(n)}: result ${JSON.stringify(childGot)} instead of v=${want.seal}`);
  }
  if (parents.length !== input.runs) lost.fail(`${parents.length} parent runs in the database for ${input.runs} started`);
  checks.push(lost.check('no run lost', `${input.runs} runs started; ${completed} completed with their child run completed; ${failed} failed`));
  checks.push(results.check('every run completed with the right result', `every completed run's result and its child's result equal the values recomputed from the input`));

  // ---- stored steps: the right values, each from one real execution ---------------------------------
  const executionByToken = new Map(executions.map((e) => [e.token, e]));
  const storedTokens = new Map<string, string>();
  const stepsByRun = new Map<string, StepRow[]>();
  for (const step of snapshot.steps) stepsByRun.set(step.runId, [...(stepsByRun.get(step.runId) ?? []), step]);
  const stored = new Tally();
  for (const run of [...parents, ...children]) {
    // Every completed step row is checked; a run that did not complete is reported above as lost.
    const n = nOfRun.get(run.id) ?? -1;
    const want = expected(n);
    const rows = stepsByRun.get(run.id) ?? [];
    const names: readonly string[] = run.workflow === PARENT ? PARENT_STEPS : CHILD_STEPS;
    const present = rows.map((r) => r.name).sort();
    if (run.status === 'completed' && present.join() !== [...names].sort().join()) stored.fail(`run ${run.id}: step rows [${present.join(', ')}]`);
    for (const row of rows) {
      const out = decodeOut(row.output);
      const name = row.name as keyof typeof want;
      if (row.status !== 'completed' || !out) {
        if (run.status === 'completed') stored.fail(`run ${run.id} step ${row.name}: status ${row.status}, output ${row.output ?? 'null'}`);
        continue;
      }
      if (out.v !== want[name]) stored.fail(`run ${run.id} step ${row.name}: stored ${out.v}, expected ${want[name]}`);
      if (run.workflow === PARENT && row.name === SUBFLOW_NODE) {
        const child = childOf.get(run.id);
        const seal = child ? (stepsByRun.get(child.id) ?? []).find((s) => s.name === 'seal') : undefined;
        if (!child || row.childRunId !== child.id) stored.fail(`run ${run.id}: subflow node points at ${row.childRunId ?? 'nothing'}`);
        else if (decodeOut(seal?.output ?? null)?.t !== out.t) stored.fail(`run ${run.id}: subflow node's value is not its child's result`);
        continue;
      }
      const execution = executionByToken.get(out.t);
      if (!execution) stored.fail(`run ${run.id} step ${row.name}: stored token ${out.t} is in no ledger`);
      else if (execution.runId !== run.id || execution.step !== row.name || execution.attempt !== row.attempts || execution.outcome !== 'returned') {
        stored.fail(`run ${run.id} step ${row.name} (attempts ${row.attempts}): stored token ${out.t} belongs to ${execution.runId}/${execution.step} attempt ${execution.attempt} (${execution.outcome})`);
      }
      if (storedTokens.has(out.t)) stored.fail(`token ${out.t} stored twice`);
      storedTokens.set(out.t, key(run.id, row.name));
      if (row.name === 'flaky' && row.attempts <= designedFailures(n)) stored.fail(`run ${run.id}: flaky completed on attempt ${row.attempts} although ${designedFailures(n)} attempt(s) fail by design`);
    }
  }
  checks.push(stored.check('every stored step value is right and came from one finished execution', `${storedTokens.size} stored step outputs each name exactly one ledger execution that returned, with the same run, step and attempt`));

  // ---- completion recorded once ----------------------------------------------------------------------
  const once = new Tally();
  const completionEvents = new Map(snapshot.completions.map((c) => [key(c.runId, c.node), c.n]));
  for (const [k, n] of completionEvents) if (n > 1) once.fail(`${k}: ${n} step_completed events`);
  for (const step of snapshot.steps) {
    if (step.status === 'completed' && completionEvents.get(key(step.runId, step.name)) !== 1) once.fail(`${key(step.runId, step.name)}: completed with ${completionEvents.get(key(step.runId, step.name)) ?? 0} step_completed events`);
  }
  const completionWrites = new Map<string, number>();
  for (const row of snapshot.audit) {
    if (row.tbl !== 'steps') continue;
    if (row.oldStatus === 'completed' || row.oldStatus === 'skipped') once.fail(`audit ${row.id}: ${row.writer} rewrote the final row ${key(row.runId, row.name ?? '?')} (${row.oldStatus} -> ${row.newStatus})`);
    if (row.newStatus === 'completed' && row.oldStatus !== 'completed') completionWrites.set(key(row.runId, row.name ?? '?'), (completionWrites.get(key(row.runId, row.name ?? '?')) ?? 0) + 1);
  }
  for (const [k, n] of completionWrites) if (n !== 1) once.fail(`${k}: completion written ${n} times`);
  checks.push(once.check('no step completion recorded twice', `${completionWrites.size} step completions, each written once (audit) with exactly one step_completed event; no final row rewritten`));

  // ---- fencing over every write (audit) --------------------------------------------------------------
  const holders = new Map<string, Holder>();
  const fence = new Tally();
  for (const row of snapshot.audit) {
    if (row.tbl !== 'runs') continue;
    if (row.op === 'I') {
      if (row.newOwner !== null && row.newOwner !== row.writer) fence.fail(`audit ${row.id}: ${row.writer} inserted run ${row.runId} leased to ${row.newOwner}`);
      holders.set(key(row.runId, row.newEpoch ?? -1), { writer: row.writer, at: row.at, before: null });
    } else if (row.newEpoch !== null && row.oldEpoch !== null && row.newEpoch === row.oldEpoch + 1) {
      if (row.newOwner !== row.writer) fence.fail(`audit ${row.id}: ${row.writer} claimed run ${row.runId} for ${row.newOwner ?? 'nobody'}`);
      if (holders.has(key(row.runId, row.newEpoch))) fence.fail(`audit ${row.id}: epoch ${row.newEpoch} of run ${row.runId} claimed twice`);
      holders.set(key(row.runId, row.newEpoch), { writer: row.writer, at: row.at, before: row.oldStatus });
    }
  }
  /** Audit ids of writes made without holding the lease they were written under. */
  const unfenced = new Set<number>();
  const changedOnly = (row: AuditRow, allowed: string[]): boolean => (row.changed ?? '').split(',').every((c) => c === '' || allowed.includes(c));
  let writesChecked = 0;
  for (const row of snapshot.audit) {
    if (row.tbl === 'runs') {
      if (isClaim(row)) continue;
      writesChecked += 1;
      const holder = holders.get(key(row.runId, row.oldEpoch ?? -1));
      if (row.newEpoch !== row.oldEpoch) fence.fail(`audit ${row.id}: run ${row.runId} epoch ${row.oldEpoch} -> ${row.newEpoch}`);
      else if (holder?.writer === row.writer) continue;
      // A child waking its parent: nothing but wake_at may change, and only on a parked (waiting) run.
      // The engine also touches a running parent's row without changing it, to take its row lock.
      else if (row.oldStatus === row.newStatus && changedOnly(row, ['wake_at']) && (row.oldStatus === 'waiting' || !(row.changed ?? '').includes('wake_at'))) continue;
      else if (row.writer === DRIVER && changedOnly(row, ['lease_expires_at'])) continue; // the chaos expiring a lease
      else {
        unfenced.add(row.id);
        fence.fail(`audit ${row.id}: ${row.writer} updated run ${row.runId} (${row.changed}) under epoch ${row.oldEpoch} held by ${holder?.writer ?? 'nobody'}`);
      }
    } else {
      writesChecked += 1;
      const holder = holders.get(key(row.runId, row.newEpoch ?? -1));
      if (holder?.writer !== row.writer) {
        unfenced.add(row.id);
        fence.fail(`audit ${row.id}: ${row.writer} wrote ${row.tbl} row ${row.runId}/${row.name ?? '-'} (${row.newStatus}) under epoch ${row.newEpoch} held by ${holder?.writer ?? 'nobody'}`);
      } else if (row.newOwner !== null && row.newOwner !== row.writer) {
        unfenced.add(row.id);
        fence.fail(`audit ${row.id}: ${row.writer} wrote ${row.tbl} row of ${row.runId} while the lease names ${row.newOwner}`);
      }
    }
  }
  checks.push(fence.check('fencing: every write was made by the holder of the run\'s current lease', `${snapshot.audit.length} audited row writes; ${writesChecked} fenced writes checked against the holder of the epoch they were written under`));

  // ---- executions: every re-execution has an injected cause -------------------------------------------
  const killsOf = new Map<string, number>();
  for (const k of chaos.kills) killsOf.set(k.tag, k.at);
  const expired = new Set(chaos.expiries.map((x) => key(x.runId, x.epoch)));
  const stopsOf = (tag: string) => chaos.pauses.filter((z) => z.tag === tag || z.blocksAll);
  const completedAt = new Map<string, number>();
  for (const row of snapshot.audit) if (row.tbl === 'steps' && row.newStatus === 'completed' && row.oldStatus !== 'completed') completedAt.set(key(row.runId, row.name ?? '?'), row.at);

  // When each lease epoch ended: at the next claim (a takeover, or a claim after a park), else at
  // its holder's last write (the run completed or was released, and nobody claimed it again).
  const lastWrite = new Map<string, number>();
  for (const row of snapshot.audit) {
    const epoch = row.tbl === 'runs' ? (isClaim(row) ? row.newEpoch : row.oldEpoch) : row.newEpoch;
    const k = key(row.runId, epoch ?? -1);
    lastWrite.set(k, Math.max(lastWrite.get(k) ?? 0, row.at));
  }
  const epochEnd = (runId: string, epoch: number): number => holders.get(key(runId, epoch + 1))?.at ?? lastWrite.get(key(runId, epoch)) ?? Number.POSITIVE_INFINITY;

  /** The injected events that could have ended `worker`'s lease epoch `epoch` on `runId`. */
  const causesOf = (runId: string, epoch: number, worker: string): Cause[] => {
    const claim = holders.get(key(runId, epoch));
    if (!claim) return [];
    const from = claim.at;
    const until = epochEnd(runId, epoch);
    const causes: Cause[] = [];
    // A process killed before the takeover lost every lease it held (a claim it sent just before
    // dying may even land after the kill), so no lower bound for kills.
    const killedAt = killsOf.get(worker);
    if (killedAt !== undefined && killedAt <= until) causes.push('kill');
    if (stopsOf(worker).some((z) => z.stoppedAt <= until && z.continuedAt >= from)) causes.push('zombie');
    if (expired.has(key(runId, epoch))) causes.push('lease-expiry');
    if (chaos.restarts.some((r) => r.startedAt <= until && r.endedAt >= from)) causes.push('db-restart');
    return causes;
  };

  const reExecutionsByCause = zero<Cause | 'unexplained'>([...CAUSES, 'unexplained']);
  const causeTally = new Tally();
  const flakyTally = new Tally();
  const attemptsTally = new Tally();
  const unfinishedTally = new Tally();
  const lossCauses = new Map<string, Cause[]>();
  let designed = 0;
  let reExecutions = 0;
  let startedAfterCompletion = 0;
  const attemptsSeen = new Set<string>();
  for (const e of executions) {
    const n = nOfRun.get(e.runId);
    const attemptKey = `${e.runId}#${e.step}#${e.attempt}`;
    if (attemptsSeen.has(attemptKey)) attemptsTally.fail(`${e.runId}/${e.step}: attempt ${e.attempt} executed twice (${e.token})`);
    attemptsSeen.add(attemptKey);
    if (e.outcome === 'unfinished' && !killsOf.has(e.worker)) unfinishedTally.fail(`${e.token} (${e.runId}/${e.step}) never finished, and ${e.worker} was not killed`);
    if (storedTokens.has(e.token)) continue;
    const causes = e.epoch === undefined ? [] : causesOf(e.runId, e.epoch, e.worker);
    const holder = e.epoch === undefined ? undefined : holders.get(key(e.runId, e.epoch));
    if (holder && holder.writer !== e.worker) causeTally.fail(`${e.token} ran ${e.runId}/${e.step} under epoch ${e.epoch}, which ${holder.writer} held`);
    // What could have ended this execution's lease (for the overlap check), designed failures included.
    lossCauses.set(e.token, causes);
    if (e.outcome === 'threw') {
      designed += 1;
      if (e.step !== 'flaky' || n === undefined || e.attempt > designedFailures(n)) flakyTally.fail(`${e.token}: ${e.step} attempt ${e.attempt} threw (n=${n ?? '?'})`);
      continue;
    }
    reExecutions += 1;
    const primary = CAUSES.find((c) => causes.includes(c)) ?? 'unexplained';
    reExecutionsByCause[primary] += 1;
    if (primary === 'unexplained') causeTally.fail(`${e.token}: ${e.runId}/${e.step} attempt ${e.attempt} by ${e.worker} under epoch ${e.epoch ?? '?'} was not stored, with no injected cause`);
    const doneAt = completedAt.get(key(e.runId, e.step));
    if (doneAt !== undefined && e.start > doneAt) startedAfterCompletion += 1;
  }
  checks.push(causeTally.check('every re-execution had an injected cause', `${reExecutions} re-executions: ${CAUSES.map((c) => `${reExecutionsByCause[c]} ${c}`).join(', ')}, ${reExecutionsByCause.unexplained} unexplained`));
  checks.push(flakyTally.check('only designed failures failed', `${designed} executions threw, each a planned failure of the flaky step`));
  checks.push(attemptsTally.check('no attempt number executed twice', `${attemptsSeen.size} (run, step, attempt) executions, each once`));
  checks.push(unfinishedTally.check('every unfinished execution belongs to a killed process', `${executions.filter((e) => e.outcome === 'unfinished').length} step bodies never finished; each process was SIGKILLed`));

  // ---- takeovers and forced expiries ------------------------------------------------------------------
  const takeoversByCause = zero<Cause | 'none'>([...CAUSES, 'none']);
  let takeovers = 0;
  for (const [k, holder] of holders) {
    if (holder.before !== 'running') continue;
    takeovers += 1;
    const [runId, epoch] = [k.slice(0, k.lastIndexOf('#')), Number(k.slice(k.lastIndexOf('#') + 1))];
    const previous = holders.get(key(runId, epoch - 1));
    const causes = previous ? causesOf(runId, epoch - 1, previous.writer) : [];
    takeoversByCause[CAUSES.find((c) => causes.includes(c)) ?? 'none'] += 1;
  }
  const forcedTakenOver = chaos.expiries.filter((x) => holders.get(key(x.runId, x.epoch + 1))?.before === 'running').length;

  // ---- overlaps -------------------------------------------------------------------------------------
  const overlapsByCause = zero<Cause | 'unexplained'>([...CAUSES, 'unexplained']);
  const overlapTally = new Tally();
  const byRun = new Map<string, Execution[]>();
  for (const e of executions) byRun.set(e.runId, [...(byRun.get(e.runId) ?? []), e]);
  /** When the execution's code was running: from start to end (or its process's death), minus SIGSTOPped time. */
  const intervals = (e: Execution): [number, number][] => {
    let spans: [number, number][] = [[e.start, e.end ?? killsOf.get(e.worker) ?? Number.POSITIVE_INFINITY]];
    for (const z of stopsOf(e.worker)) spans = spans.flatMap(([a, b]): [number, number][] => [...(a < z.stoppedAt ? [[a, Math.min(b, z.stoppedAt)] as [number, number]] : []), ...(b > z.continuedAt ? [[Math.max(a, z.continuedAt), b] as [number, number]] : [])]);
    return spans.filter(([a, b]) => b > a);
  };
  // Runs whose lease was force-expired, held by a zombie, or held across a restart.
  const forcedRuns = new Set<string>(chaos.expiries.map((x) => x.runId));
  for (const [k, holder] of holders) {
    const runId = k.slice(0, k.lastIndexOf('#'));
    const until = epochEnd(runId, Number(k.slice(k.lastIndexOf('#') + 1)));
    const overlapsEpoch = (w: { start: number; end: number }): boolean => w.start <= until && w.end >= holder.at;
    if (chaos.restarts.some((r) => overlapsEpoch({ start: r.startedAt, end: r.endedAt }))) forcedRuns.add(runId);
    if (stopsOf(holder.writer).some((p) => overlapsEpoch({ start: p.stoppedAt, end: p.continuedAt }))) forcedRuns.add(runId);
  }
  const runsWithOverlap = new Set<string>();
  let overlaps = 0;
  for (const [runId, list] of byRun) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i]!;
        const b = list[j]!;
        if (a.worker === b.worker) continue;
        const touching = intervals(a).some(([a0, a1]) => intervals(b).some(([b0, b1]) => a0 < b1 && b0 < a1));
        if (!touching) continue;
        overlaps += 1;
        runsWithOverlap.add(runId);
        const older = (a.epoch ?? -1) <= (b.epoch ?? -1) ? a : b;
        const causes = (lossCauses.get(older.token) ?? []).filter((c): c is Cause => c !== 'kill');
        const cause = a.epoch === undefined || b.epoch === undefined || a.epoch === b.epoch ? undefined : CAUSES.find((c) => c !== 'kill' && causes.includes(c));
        overlapsByCause[cause ?? 'unexplained'] += 1;
        if (!cause) overlapTally.fail(`${runId}: ${a.token} (${a.step}, epoch ${a.epoch ?? '?'}) and ${b.token} (${b.step}, epoch ${b.epoch ?? '?'}) ran at the same time`);
      }
    }
  }
  const cleanRuns = [...runsById.keys()].filter((id) => !forcedRuns.has(id));
  const cleanOverlaps = [...runsWithOverlap].filter((id) => !forcedRuns.has(id)).length;
  checks.push(
    overlapTally.check(
      'no overlapping executions of one run, except after a forced lease loss',
      `${overlaps} overlapping pairs in ${runsWithOverlap.size} runs, each between a fenced-out holder (${CAUSES.filter((c) => c !== 'kill').map((c) => `${overlapsByCause[c]} ${c}`).join(', ')}) and the new owner; ${cleanOverlaps} in the ${cleanRuns.length} runs without a forced lease loss`,
    ),
  );

  // ---- zombies ----------------------------------------------------------------------------------------
  const zombieTally = new Tally();
  const zombies: ZombieFigures[] = chaos.zombies.map((z) => {
    const staleEpoch = new Map(z.lost.map((l) => [l.runId, l.epoch]));
    // Requests under a lease it lost while stopped, answered after SIGCONT. A request sent before the
    // stop may have been answered (or even executed: group commit queues it) only after the resume.
    const after = input.storageLines.filter((l) => l.worker === z.tag && l.answered >= z.continuedAt && staleEpoch.get(l.runId) === l.epoch);
    const figures: ZombieFigures = {
      tag: z.tag,
      stoppedMs: z.continuedAt - z.stoppedAt,
      heldRuns: z.held.length,
      takenOver: z.lost.length,
      fencedCommits: after.filter((l) => l.kind === 'C' && l.result === 'lost').length,
      refusedHeartbeats: after.filter((l) => l.kind === 'H' && l.result === 'lost').length,
      // Sent after SIGCONT, so executed after the takeover: never accepted. (The audit covers the rest.)
      acceptedStaleCommits: after.filter((l) => l.kind === 'C' && l.result === 'ok' && l.sent >= z.continuedAt).length,
      staleRowsWritten: snapshot.audit.filter((r) => r.writer === z.tag && r.at >= z.continuedAt && staleEpoch.has(r.runId) && unfenced.has(r.id)).length,
      bodiesFinishedAfterResume: executions.filter((e) => e.worker === z.tag && staleEpoch.get(e.runId) === e.epoch && e.end !== undefined && e.end >= z.continuedAt).length,
    };
    if (figures.heldRuns === 0) zombieTally.fail(`${z.tag} held no run when it was stopped`);
    if (figures.takenOver !== figures.heldRuns) zombieTally.fail(`${z.tag}: only ${figures.takenOver} of ${figures.heldRuns} runs were taken over before SIGCONT`);
    if (figures.acceptedStaleCommits > 0 || figures.staleRowsWritten > 0) zombieTally.fail(`${z.tag} wrote after resuming: ${figures.acceptedStaleCommits} commits accepted, ${figures.staleRowsWritten} rows`);
    if (figures.fencedCommits + figures.refusedHeartbeats === 0) zombieTally.fail(`${z.tag} made no write attempt after resuming (the check would be vacuous)`);
    return figures;
  });
  checks.push(
    zombieTally.check(
      'zombies write nothing after resuming',
      zombies.map((z) => `${z.tag}: stopped ${z.stoppedMs} ms holding ${z.heldRuns} runs, all taken over; after SIGCONT ${z.fencedCommits} commits fenced, ${z.refusedHeartbeats} heartbeats refused, ${z.bodiesFinishedAfterResume} bodies finished and discarded, 0 rows written`).join('; ') || 'no zombie',
    ),
  );

  const exits = new Tally();
  for (const x of chaos.unexpectedExits) exits.fail(`${x.tag} exited by itself (code ${x.code}, signal ${x.signal}): ${x.stderr.slice(0, 300)}`);
  checks.push(exits.check('no worker died on its own', `${chaos.spawns.length} worker processes`));

  const figures: Figures = {
    parentRuns: parents.length,
    childRuns: children.length,
    completed,
    failed,
    lost: lostRuns,
    executions: executions.length,
    stored: storedTokens.size,
    designedFailures: designed,
    reExecutions,
    reExecutionsByCause,
    startedAfterCompletion,
    takeovers,
    takeoversByCause,
    forcedLeaseExpiries: chaos.expiries.length,
    forcedLeaseExpiriesTakenOver: forcedTakenOver,
    overlaps,
    overlapsByCause,
    runsWithOverlap: runsWithOverlap.size,
    runsWithoutForcedLeaseLoss: cleanRuns.length,
    auditRows: snapshot.audit.length,
    zombies,
  };
  return { ok: checks.every((c) => c.ok), checks, figures };
}
