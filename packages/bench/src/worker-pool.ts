/**
 * Worker processes for the memory and workers parts, parent side: forks `worker-process.js` (a
 * Runner on PostgreSQL that calls `work()` when told), follows its progress messages, asks it for
 * a memory snapshot, and stops it. The message protocol is defined here.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export const ENV = { url: 'CAIRN_BENCH_WORKER_URL', schema: 'CAIRN_BENCH_WORKER_SCHEMA' } as const;

export interface MemorySnapshot {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  arrayBuffersBytes: number;
  /** process.getActiveResourcesInfo(), counted by type (Timeout, TCPSocketWrap, …). */
  activeResources: Record<string, number>;
}

/** Parent → worker. */
export type ToWorker = { type: 'work'; concurrency: number } | { type: 'memory' } | { type: 'stop' };

/** Worker → parent. `completedAt` are wall-clock times (performance.timeOrigin + now(), ms) of each run_completed. */
export type FromWorker =
  | { type: 'ready'; pid: number }
  | { type: 'progress'; completed: number; parked: number }
  | { type: 'memory'; snapshot: MemorySnapshot }
  | { type: 'stopped'; completedAt: number[]; cpuMs: number };

export interface WorkerProcess {
  readonly pid: number;
  /** Latest progress the worker reported. */
  readonly progress: { completed: number; parked: number };
  work(concurrency: number): void;
  memory(): Promise<MemorySnapshot>;
  /** Closes the worker's runner (in-flight steps finish) and waits for the process to exit. */
  stop(): Promise<{ completedAt: number[]; cpuMs: number }>;
}

function next<T extends FromWorker['type']>(child: ChildProcess, type: T): Promise<Extract<FromWorker, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromWorker): void => {
      if (message.type !== type) return;
      cleanup();
      resolve(message as Extract<FromWorker, { type: T }>);
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new Error(`worker ${child.pid} exited (${signal ?? code}) while we waited for '${type}'`));
    };
    const cleanup = (): void => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export async function forkWorker(url: string, schema: string): Promise<WorkerProcess> {
  const child = fork(join(__dirname, 'worker-process.js'), [], {
    execArgv: ['--expose-gc'],
    env: { ...process.env, [ENV.url]: url, [ENV.schema]: schema },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const progress = { completed: 0, parked: 0 };
  child.on('message', (message: FromWorker) => {
    if (message.type === 'progress') Object.assign(progress, { completed: message.completed, parked: message.parked });
  });
  const send = (message: ToWorker): void => void child.send(message);
  const ready = await next(child, 'ready');
  return {
    pid: ready.pid,
    progress,
    work: (concurrency) => send({ type: 'work', concurrency }),
    async memory() {
      const answer = next(child, 'memory');
      send({ type: 'memory' });
      return (await answer).snapshot;
    },
    async stop() {
      const stopped = next(child, 'stopped');
      const exited = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
      send({ type: 'stop' });
      const { completedAt, cpuMs } = await stopped;
      await exited;
      return { completedAt, cpuMs };
    },
  };
}

/** Resolves when `done()` holds, checking every 50 ms; rejects after `timeoutMs`. */
export async function waitFor(what: string, done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(50);
  }
}
