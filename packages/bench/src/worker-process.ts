/**
 * A worker process (forked by worker-pool.ts): a worker-role Runner on PostgreSQL for W and
 * ParkingW that starts `work()` when told, reports completed and parked runs every 100 ms, takes
 * memory snapshots after a full GC (it runs with --expose-gc), and closes on 'stop'.
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Runner } from '@cairn/core';
import { PostgresStorage } from '@cairn/storage-postgres';
import { ENV, type FromWorker, type MemorySnapshot, type ToWorker } from './worker-pool';
import { ParkingW, WorkloadW, silentLogger } from './workload';

const send = (message: FromWorker): void => void process.send?.(message);

async function snapshot(): Promise<MemorySnapshot> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await delay(100);
  }
  const usage = process.memoryUsage();
  const activeResources: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) activeResources[type] = (activeResources[type] ?? 0) + 1;
  return { rssBytes: usage.rss, heapUsedBytes: usage.heapUsed, heapTotalBytes: usage.heapTotal, externalBytes: usage.external, arrayBuffersBytes: usage.arrayBuffers, activeResources };
}

function main(): void {
  const url = process.env[ENV.url];
  const schema = process.env[ENV.schema];
  if (!url || !schema) throw new Error(`worker-process: ${ENV.url} and ${ENV.schema} must be set`);
  const completedAt: number[] = [];
  let parked = 0;
  const runner = new Runner({
    storage: new PostgresStorage({ connectionString: url, schema }),
    workflows: [WorkloadW, ParkingW],
    logger: silentLogger,
    onEvent: (event) => {
      if (event.type === 'run_completed') completedAt.push(performance.timeOrigin + performance.now());
      else if (event.type === 'run_parked') parked += 1;
    },
  });
  let reporter: NodeJS.Timeout | undefined;
  const cpu0 = process.cpuUsage();
  process.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'work':
        runner.work({ concurrency: message.concurrency });
        reporter = setInterval(() => send({ type: 'progress', completed: completedAt.length, parked }), 100);
        return;
      case 'memory':
        void snapshot().then((s) => send({ type: 'memory', snapshot: s }));
        return;
      case 'stop':
        clearInterval(reporter);
        void runner.close({ timeoutMs: '5s' }).then(() => {
          const cpu = process.cpuUsage(cpu0);
          send({ type: 'stopped', completedAt, cpuMs: (cpu.user + cpu.system) / 1000 });
          process.disconnect?.();
        });
        return;
    }
  });
  process.on('disconnect', () => void runner.close({ timeoutMs: 0 }).finally(() => process.exit(0)));
  send({ type: 'ready', pid: process.pid });
}

main();
