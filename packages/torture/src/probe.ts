/**
 * probe — the instruments inside one worker process. `probe.step()` is what every step body of the
 * torture workflows calls: it writes the ledger lines around the body (see ledger.ts), sleeps like a
 * real call would (ignoring ctx.signal, as careless user code does, so a fenced-out worker really
 * finishes its body), and returns the value with the execution's token. `RecordingStorage` wraps
 * Cairn's storage to learn which lease epoch this process holds on each run and to log what every
 * fenced commit and heartbeat was answered. Nothing here changes what Cairn does.
 */
import { LeaseLostError, type Claim, type ClaimOptions, type CommitRequest, type CreateRunRequest, type CreateRunResult, type EventRecord, type Lease, type RunRecord, type StepContext, type StepRecord, type Storage } from '@cairn/core';
import { LineWriter, ledgerFile, storageLogFile } from './ledger';

export interface ProbeSettings {
  /** This process's tag: its Cairn workerId and the name of its ledger files. */
  tag: string;
  dir: string;
  /** Ordinary step bodies take a uniformly random time in this range (ms). */
  stepMs: readonly [number, number];
  /** This fraction of bodies is slow instead (a long call: the window in which leases are expired). */
  slowChance: number;
  slowMs: readonly [number, number];
}

/** What a step returns: its value and the token of the execution that computed it. */
export interface Out {
  v: number;
  t: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const between = ([min, max]: readonly [number, number]): number => min + Math.random() * (max - min);

class Probe {
  private settings: ProbeSettings | undefined;
  private ledger: LineWriter | undefined;
  private storageLog: LineWriter | undefined;
  private sequence = 0;
  private inFlight = 0;
  /** The latest lease epoch this process took on each run. */
  private readonly epochs = new Map<string, number>();

  configure(settings: ProbeSettings): void {
    this.settings = settings;
    this.ledger = new LineWriter(ledgerFile(settings.dir, settings.tag));
    this.storageLog = new LineWriter(storageLogFile(settings.dir, settings.tag));
  }

  /** Runs one step body: S line, the call, then E (or X for a designed failure, which throws). */
  async step(ctx: Pick<StepContext, 'runId' | 'step' | 'attempt'>, compute: () => number, designedFailure = false): Promise<Out> {
    const settings = this.settings;
    const ledger = this.ledger;
    if (!settings || !ledger) throw new Error('probe.step() called in a process whose probe was not configured (only torture workers execute steps)');
    const token = `${settings.tag}.${++this.sequence}`;
    ledger.line(`S ${token} ${ctx.runId} ${ctx.step} ${ctx.attempt} ${this.epochs.get(ctx.runId) ?? '?'} ${Date.now()}`);
    this.inFlight += 1;
    try {
      const value = compute();
      await sleep(Math.random() < settings.slowChance ? between(settings.slowMs) : between(settings.stepMs));
      if (designedFailure) {
        ledger.line(`X ${token} ${Date.now()}`);
        throw new Error(`designed failure of ${ctx.step}, attempt ${ctx.attempt}`);
      }
      ledger.line(`E ${token} ${Date.now()}`);
      return { v: value, t: token };
    } finally {
      this.inFlight -= 1;
    }
  }

  /**
   * Waits until no step body is running. Cairn abandons the body of a run whose lease it lost
   * (it cannot stop a function); before a graceful exit the worker lets such bodies end, so that
   * every body of a process that was not killed has its end in the ledger.
   */
  async drained(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < deadline) await sleep(10);
  }

  tookLease(runId: string, lease: Lease): void {
    this.epochs.set(runId, lease.epoch);
    this.storageLog?.line(`K ${runId} ${lease.epoch} ${Date.now()}`);
  }

  logged(kind: 'C' | 'H', runId: string, lease: Lease, result: 'ok' | 'lost' | 'error', sent: number): void {
    this.storageLog?.line(`${kind} ${runId} ${lease.epoch} ${result} ${sent} ${Date.now()}`);
  }
}

/** The one probe of this process. */
export const probe = new Probe();

/** A Storage that delegates everything and tells the probe about leases taken and commits answered. */
export class RecordingStorage implements Storage {
  readonly listen?: (onWake: () => void) => Promise<{ close(): Promise<void> }> | undefined;

  constructor(private readonly inner: Storage) {
    const listen = inner.listen;
    if (listen) this.listen = (onWake) => listen.call(inner, onWake);
  }

  migrate(): Promise<void> {
    return this.inner.migrate();
  }

  async createRun(request: CreateRunRequest, now: number): Promise<CreateRunResult> {
    const result = await this.inner.createRun(request, now);
    if (result.created && request.owner !== null) probe.tookLease(result.claim.run.id, result.claim.lease);
    return result;
  }

  findRun(workflowName: string, trackingId: string): Promise<RunRecord | undefined> {
    return this.inner.findRun(workflowName, trackingId);
  }

  getRun(runId: string): Promise<RunRecord | undefined> {
    return this.inner.getRun(runId);
  }

  listSteps(runId: string): Promise<StepRecord[]> {
    return this.inner.listSteps(runId);
  }

  listEvents(runId: string): Promise<EventRecord[]> {
    return this.inner.listEvents(runId);
  }

  async claimRun(runId: string, owner: string, leaseMs: number, now: number, options?: ClaimOptions): Promise<Claim | undefined> {
    const claim = await this.inner.claimRun(runId, owner, leaseMs, now, options);
    if (claim) probe.tookLease(claim.run.id, claim.lease);
    return claim;
  }

  async claimDue(workflowNames: readonly string[], owner: string, leaseMs: number, limit: number, now: number, exclude?: readonly string[]): Promise<Claim[]> {
    const claims = await this.inner.claimDue(workflowNames, owner, leaseMs, limit, now, exclude);
    for (const claim of claims) probe.tookLease(claim.run.id, claim.lease);
    return claims;
  }

  async commit(request: CommitRequest, now: number): Promise<void> {
    const sent = Date.now();
    try {
      await this.inner.commit(request, now);
    } catch (error) {
      probe.logged('C', request.runId, request.lease, error instanceof LeaseLostError ? 'lost' : 'error', sent);
      throw error;
    }
    probe.logged('C', request.runId, request.lease, 'ok', sent);
  }

  async renewLease(runId: string, lease: Lease, leaseMs: number, now: number): Promise<boolean> {
    const sent = Date.now();
    let held: boolean;
    try {
      held = await this.inner.renewLease(runId, lease, leaseMs, now);
    } catch (error) {
      probe.logged('H', runId, lease, 'error', sent);
      throw error;
    }
    if (!held) probe.logged('H', runId, lease, 'lost', sent);
    return held;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
