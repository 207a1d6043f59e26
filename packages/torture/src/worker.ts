/**
 * worker — one torture worker process: a Cairn worker runner (`work()`) for the torture workflows
 * on PostgreSQL or on the shared SQLite file, with the probe configured (ledger, lease epochs,
 * storage outcomes). Its workerId and database identity are its tag. It prints `ready` once it is
 * working, and on SIGTERM closes gracefully and prints `closed`. The driver SIGKILLs, SIGSTOPs and
 * SIGCONTs it at will. Settings come as JSON in $TORTURE_WORKER (see WorkerSettings).
 */
import 'reflect-metadata';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { Runner, type Logger, type Storage } from '@cairn/core';
import { PostgresStorage } from '@cairn/storage-postgres';
import { SqliteStorage } from '@cairn/storage-sqlite';
import { openSqlite } from './audit';
import { probe, RecordingStorage } from './probe';
import { Torture, TortureChild } from './workflow';

export interface WorkerSettings {
  tag: string;
  dir: string;
  backend: 'postgres' | 'sqlite';
  /** PostgreSQL URL or SQLite file. */
  target: string;
  leaseMs: number;
  pollMs: number;
  /** Runs each worker executes at once. */
  concurrency: number;
  /** PostgreSQL pool size per worker. */
  poolSize: number;
  stepMs: [number, number];
  slowChance: number;
  slowMs: [number, number];
}

function settingsFromEnv(): WorkerSettings {
  const raw = process.env.TORTURE_WORKER;
  if (!raw) throw new Error('torture worker: $TORTURE_WORKER (JSON settings) is not set');
  return JSON.parse(raw) as WorkerSettings;
}

/** Writes the runner's log lines to worker-<tag>.log (warnings and errors only). */
function fileLogger(file: string): Logger {
  const write = (level: string, message: string, data?: Record<string, unknown>): void => appendFileSync(file, `${Date.now()} ${level} ${message}${data ? ` ${JSON.stringify(data)}` : ''}\n`);
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (message, data) => write('warn', message, data),
    error: (message, data) => write('error', message, data),
  };
}

function storageFor(settings: WorkerSettings): Storage {
  if (settings.backend === 'postgres') {
    const url = new URL(settings.target);
    url.searchParams.set('application_name', settings.tag);
    return new PostgresStorage({ connectionString: url.toString(), poolSize: settings.poolSize });
  }
  return new SqliteStorage({ database: openSqlite(settings.target, settings.tag) });
}

function main(): void {
  const settings = settingsFromEnv();
  probe.configure({ tag: settings.tag, dir: settings.dir, stepMs: settings.stepMs, slowChance: settings.slowChance, slowMs: settings.slowMs });
  const runner = new Runner({
    storage: new RecordingStorage(storageFor(settings)),
    workflows: [Torture, TortureChild],
    workerId: settings.tag,
    leaseMs: settings.leaseMs,
    pollMs: settings.pollMs,
    logger: fileLogger(join(settings.dir, `worker-${settings.tag}.log`)),
  });
  runner.work({ concurrency: settings.concurrency });
  process.once('SIGTERM', () => {
    const exit = (code: number) => (): void => {
      console.log('closed');
      process.exit(code);
    };
    runner
      .close({ timeoutMs: 5000 })
      .then(() => probe.drained(5000))
      .then(exit(0), (error: unknown) => {
        console.error(error);
        exit(1)();
      });
  });
  console.log('ready');
}

main();
