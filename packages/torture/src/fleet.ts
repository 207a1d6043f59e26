/**
 * fleet — the worker processes of one torture run. Keeps `size` slots filled with live workers,
 * and is the only place that signals them: SIGKILL (then a fresh worker in the same slot after a
 * short delay, as a process manager would), SIGSTOP/SIGCONT for zombies, SIGTERM at the end. Each
 * spawn gets a new tag (w1, w2, …), which is its Cairn workerId, its database identity and the name
 * of its ledger files. Every signal and spawn is logged with its time; a worker that exits without
 * being told to is reported.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChaosLog } from './verify';
import type { WorkerSettings } from './worker';

export type WorkerState = 'starting' | 'ready' | 'stopped' | 'killed' | 'terminating' | 'exited';

export interface WorkerProcess {
  tag: string;
  pid: number;
  slot: number;
  state: WorkerState;
  /** Not to be killed before this time (a resumed zombie must get its chance to try writing). */
  protectedUntil: number;
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
}

export class Fleet {
  private spawned = 0;
  private closing = false;
  private readonly slots: (WorkerProcess | undefined)[];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly all: WorkerProcess[] = [];

  constructor(
    private readonly size: number,
    private readonly argv: readonly string[],
    private readonly settings: (tag: string) => WorkerSettings,
    private readonly dir: string,
    private readonly chaos: ChaosLog,
    private readonly respawnAfterMs: number,
  ) {
    this.slots = Array.from({ length: size }, () => undefined);
  }

  /** Fills every slot and waits until each worker says it is working. */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.size }, (_, slot) => this.spawn(slot).ready));
  }

  /** Workers that are running and not stopped. */
  ready(): WorkerProcess[] {
    return this.slots.filter((w): w is WorkerProcess => w !== undefined && w.state === 'ready');
  }

  kill(worker: WorkerProcess): void {
    worker.state = 'killed';
    this.chaos.kills.push({ tag: worker.tag, pid: worker.pid, at: Date.now() });
    worker.child.kill('SIGKILL');
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closing) this.spawn(worker.slot);
    }, this.respawnAfterMs);
    this.timers.add(timer);
  }

  stop(worker: WorkerProcess): number {
    worker.state = 'stopped';
    worker.child.kill('SIGSTOP');
    return Date.now();
  }

  resume(worker: WorkerProcess, protectMs: number): number {
    worker.child.kill('SIGCONT');
    const at = Date.now();
    worker.state = 'ready';
    worker.protectedUntil = at + protectMs;
    return at;
  }

  /** SIGTERM to every live worker (graceful close), SIGKILL to any still alive after `graceMs`. */
  async shutdown(graceMs: number): Promise<void> {
    this.closing = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const live = this.all.filter((w) => w.state !== 'killed' && w.state !== 'exited');
    for (const worker of live) {
      if (worker.state === 'stopped') worker.child.kill('SIGCONT');
      worker.state = 'terminating';
      worker.child.kill('SIGTERM');
    }
    const deadline = setTimeout(() => {
      for (const worker of live) if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    }, graceMs);
    await Promise.all(live.map((w) => w.exited));
    clearTimeout(deadline);
  }

  private spawn(slot: number): WorkerProcess {
    const tag = `w${++this.spawned}`;
    const child = spawn(process.execPath, [...this.argv], {
      env: { ...process.env, TORTURE_WORKER: JSON.stringify(this.settings(tag)) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let pending = '';
    let markReady: () => void = () => undefined;
    let failReady: (error: Error) => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    const worker: WorkerProcess = {
      tag,
      pid: child.pid ?? -1,
      slot,
      state: 'starting',
      protectedUntil: 0,
      child,
      ready,
      exited: new Promise<void>((resolve) => {
        child.on('close', (code, signal) => {
          if (stderr !== '') writeFileSync(join(this.dir, `worker-${tag}.err`), stderr);
          const expected = worker.state === 'killed' || worker.state === 'terminating';
          if (!expected) this.chaos.unexpectedExits.push({ tag, code, signal, stderr });
          if (!expected && this.slots[slot] === worker && !this.closing) this.spawn(slot);
          worker.state = 'exited';
          failReady(new Error(`worker ${tag} exited before it was ready (code ${code}, signal ${signal}): ${stderr}`));
          resolve();
        });
      }),
    };
    ready.catch(() => undefined);
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let index: number;
      while ((index = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, index);
        pending = pending.slice(index + 1);
        if (line === 'ready') {
          if (worker.state === 'starting') worker.state = 'ready';
          markReady();
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < 20_000) stderr += chunk.toString('utf8');
    });
    this.slots[slot] = worker;
    this.all.push(worker);
    this.chaos.spawns.push({ tag, pid: worker.pid, at: Date.now() });
    return worker;
  }
}
