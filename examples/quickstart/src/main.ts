/**
 * Cairn quickstart: an order workflow on a SQLite file.
 *
 *   pnpm demo                          run order-1 (or show its stored result if it already completed)
 *   pnpm demo -- --crash-at charge     SIGKILL this process inside `charge`; run `pnpm demo` again to resume
 *   pnpm demo -- --fresh               delete the database first
 */
import 'reflect-metadata';
import { existsSync, rmSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { inspect, parseArgs } from 'node:util';
import { CairnError, Runner, compileWorkflow, type RunInfo, type WorkflowClass } from '@cairn/core';
import { SqliteStorage } from '@cairn/storage-sqlite';
import { plain, say } from './console';
import { crashPending, setCrashAt } from './crash';
import { EventPrinter } from './printer';
import { Mailer, ShopApi } from './shop';
import { CreateOrder, SendReceipt, type OrderInput, type OrderResult } from './workflows';

const LEASE = '2s';
const DEFAULT_DB = resolvePath(__dirname, '..', 'cairn-demo.db');
const WORKFLOWS = [CreateOrder, SendReceipt].map((cls) => compileWorkflow(cls));
const STEP_NAMES = WORKFLOWS.flatMap((w) => w.nodes.map((n) => n.name));

const USAGE = `Usage: pnpm demo [-- options]

  --crash-at <step>    SIGKILL this process inside <step>, after its side effect and before Cairn
                       records it. Steps:
${WORKFLOWS.map((w) => `                         ${w.name}: ${w.nodes.map((n) => n.name).join(', ')}`).join('\n')}
  --db <file>          SQLite file (default: examples/quickstart/cairn-demo.db)
  --tracking-id <id>   the order's tracking id (default: order-1)
  --fresh              delete the database (and the fake payment provider's ledger) first
  -h, --help           show this help`;

interface Cli {
  crashAt: string | undefined;
  db: string;
  trackingId: string;
  fresh: boolean;
}

class UsageError extends Error {}

function parseCli(argv: string[]): Cli | 'help' {
  // `pnpm demo -- --fresh` may hand us the `--` separator itself.
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        'crash-at': { type: 'string' },
        db: { type: 'string' },
        'tracking-id': { type: 'string' },
        fresh: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const crashAt = values['crash-at'];
  if (crashAt !== undefined && !STEP_NAMES.includes(crashAt)) throw new UsageError(`--crash-at: unknown step '${crashAt}'. Steps: ${STEP_NAMES.join(', ')}`);
  const trackingId = values['tracking-id'] ?? 'order-1';
  if (trackingId.trim() === '') throw new UsageError('--tracking-id must not be empty');
  // Relative paths are relative to where you typed the command (pnpm runs us in the package dir).
  const db = values.db === undefined ? DEFAULT_DB : resolvePath(process.env.INIT_CWD ?? process.cwd(), values.db);
  return { crashAt, db, trackingId, fresh: values.fresh ?? false };
}

function removeDemoFiles(db: string): void {
  for (const file of [db, `${db}-wal`, `${db}-shm`, `${db}.payments.json`]) if (existsSync(file)) rmSync(file);
}

function printSteps(title: string, info: RunInfo): void {
  plain(`  ${title}: ${info.status}`);
  for (const s of info.steps) {
    const attempts = s.status === 'skipped' ? '' : `${s.attempts} attempt${s.attempts === 1 ? '' : 's'}`;
    const note = s.status === 'skipped' ? `(${s.error ?? 'condition false'})` : s.attempts > 1 && s.error ? `(last error: ${s.error})` : '';
    plain(`    ${s.name.padEnd(16)} ${s.status.padEnd(10)} ${attempts.padEnd(11)} ${note}`.trimEnd());
  }
}

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  if (cli === 'help') {
    plain(USAGE);
    return;
  }
  if (cli.fresh) removeDemoFiles(cli.db);
  setCrashAt(cli.crashAt, say);

  // A tiny DI container: the Runner asks it for workflow instances through `resolve`.
  const shop = new ShopApi(`${cli.db}.payments.json`, say);
  const container = new Map<WorkflowClass, object>([
    [CreateOrder, new CreateOrder(shop)],
    [SendReceipt, new SendReceipt(new Mailer())],
  ]);
  const printer = new EventPrinter(say);
  const runner = new Runner({
    storage: new SqliteStorage({ filename: cli.db }),
    resolve: (cls) => {
      const instance = container.get(cls);
      if (!instance) throw new Error(`no provider for ${cls.name}`);
      return instance;
    },
    onEvent: (event) => printer.print(event),
    // A killed process keeps its lease until it expires: keep it short so the demo resumes quickly.
    leaseMs: LEASE,
    logger: { debug: () => undefined, info: () => undefined, warn: (m) => say(`cairn: ${m}`), error: (m) => say(`cairn: ${m}`) },
  });
  await runner.migrate();

  const input: OrderInput = { productId: 'p-42', userId: 'u-7', quantity: 2 };
  plain(`Cairn quickstart — workflow create-order, tracking id '${cli.trackingId}', database ${cli.db}`);
  if (cli.crashAt) plain(`(--crash-at ${cli.crashAt}: this process will SIGKILL itself inside ${cli.crashAt})`);

  const before = await (await runner.get(CreateOrder, cli.trackingId))?.status();
  if (!before) plain('No run with this tracking id yet: starting a new one.\n');
  else if (before.status === 'completed') plain(`Run '${cli.trackingId}' already completed: start() returns its stored result without executing any step.`);
  else if (before.status === 'failed') plain(`Run '${cli.trackingId}' failed earlier: start() resumes it at the step that failed, with a fresh retry budget.\n`);
  else plain(`Found run '${cli.trackingId}' (${before.status}) left unfinished by an earlier process: start() resumes it; completed steps are not executed again.\n`);

  if (before?.status === 'waiting') printer.parkedEarlier(before.runId);
  const handle = await runner.start<OrderResult>(CreateOrder, input, cli.trackingId);
  // Also be a worker: claim runs whose worker died (their lease expired), including a subflow child.
  runner.work({ pollMs: '200ms' });

  if (before && before.status !== 'completed' && !printer.saw(handle.runId)) {
    const child = before.steps.find((s) => s.status === 'waiting' && s.childRunId);
    if (child) say(`run ${cli.trackingId} waits for its subflow, whose process was killed: waiting for the child's lease (${LEASE}) to expire, then resuming it`);
    else say(`run ${cli.trackingId} was interrupted: the killed process still holds its lease; waiting for it (${LEASE}) to expire, then resuming`);
  }

  try {
    const result = await handle.result();
    plain('\nResult:');
    plain(inspect(result, { depth: 5, colors: process.stdout.isTTY }).replace(/^/gm, '  '));
  } finally {
    plain('\nSteps (from handle.status()):');
    const info = await handle.status();
    printSteps(`create-order#${info.trackingId}`, info);
    const child = await runner.get(SendReceipt, `receipt-${cli.trackingId}`);
    if (child) printSteps(`send-receipt#${child.trackingId}`, await child.status());
    if (printer.executed === 0 && before?.status === 'completed') plain('\nNothing was executed: the stored result came straight from the database.');
    else plain(`\nThis process executed ${printer.executed} step attempt${printer.executed === 1 ? '' : 's'} and reused ${printer.replayed} step${printer.replayed === 1 ? '' : 's'} completed by an earlier process (not re-executed).`);
    const pending = crashPending();
    if (pending) plain(`Note: --crash-at ${pending} did not fire: that step was not executed in this process (already done?). Use --fresh to start over.`);
    await runner.close();
  }
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`error: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (error instanceof CairnError) {
    console.error(`\n${error.name} [${error.code}]: ${error.message}`);
    console.error('Run `pnpm demo` again to resume the run, or `pnpm demo -- --fresh` to start over.');
  } else {
    console.error(error);
  }
  process.exit(1);
});
