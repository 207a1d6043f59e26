/**
 * What is specific to SQLite: write transactions start with BEGIN IMMEDIATE, a 3-step run is 4
 * real COMMITs, and several processes sharing one file start one run without SQLITE_BUSY escaping.
 */
import 'reflect-metadata';
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, Runner, Step, Workflow } from '@cairn/core';
import { memoryLogger } from '@cairn/core/testing';
import { SqliteStorage } from '@cairn/storage-sqlite';
import { assertBuilt, lastJson, runFixture } from '../../core/test/support/processes';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-sqlite-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

@Workflow({ name: 'sqlite-noop' })
class NoOp {
  @Step() async a() {
    return { a: 1 };
  }
  @Step() async b() {
    return { b: 2 };
  }
  @Step() async c() {
    return { c: 3 };
  }
}

/**
 * Wraps a better-sqlite3 database to see every statement executed (prepared statements are
 * cached and run many times, so executions are counted, not prepares).
 */
function observed(filename: string) {
  const db = new Database(filename);
  const log = { statements: [] as string[], commits: 0, autocommitWrites: 0 };
  const executed = (sql: string): void => {
    log.statements.push(sql);
    if (/^\s*commit/i.test(sql)) log.commits += 1;
    else if (!db.inTransaction && /^\s*(insert|update|delete)/i.test(sql)) log.autocommitWrites += 1;
  };
  const proxy = new Proxy(db, {
    get(target, key) {
      if (key === 'prepare') {
        return (sql: string) =>
          new Proxy(target.prepare(sql), {
            get(statement, name) {
              const value = Reflect.get(statement, name, statement) as unknown;
              if (typeof value !== 'function') return value;
              const call = (value as (...a: unknown[]) => unknown).bind(statement);
              return ['run', 'all', 'get', 'iterate'].includes(String(name))
                ? (...args: unknown[]) => {
                    executed(sql);
                    return call(...args);
                  }
                : call;
            },
          });
      }
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { db: proxy, log };
}

test('a 3-step no-op run is 4 commits on SQLite, and every transaction begins IMMEDIATE', async () => {
  const { db, log } = observed(join(dir, 'count.db'));
  const runner = new Runner({ storage: new SqliteStorage({ database: db }), logger: memoryLogger() });
  await runner.migrate();
  log.statements.length = 0;
  log.commits = 0;
  log.autocommitWrites = 0;
  expect(await runner.run(NoOp, {}, 'count-1')).toEqual({ c: 3 });
  expect(log.commits + log.autocommitWrites).toBe(4);
  const begins = log.statements.filter((s) => /^\s*begin/i.test(s));
  expect(begins).toHaveLength(4);
  expect(begins.every((s) => /^begin immediate$/i.test(s.trim()))).toBe(true);
  await runner.close();
});

test('SQLite pragmas: WAL, busy_timeout and synchronous as configured; bad options rejected', async () => {
  const db = new Database(join(dir, 'pragmas.db'));
  const storage = new SqliteStorage({ database: db, synchronous: 'NORMAL', busyTimeoutMs: 1234 });
  await storage.migrate();
  expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
  expect(db.pragma('busy_timeout', { simple: true })).toBe(1234);
  expect(db.pragma('synchronous', { simple: true })).toBe(1);
  await storage.close();
  const defaults = new Database(join(dir, 'defaults.db'));
  const withDefaults = new SqliteStorage({ database: defaults });
  await withDefaults.migrate();
  expect(defaults.pragma('synchronous', { simple: true })).toBe(2);
  expect(defaults.pragma('busy_timeout', { simple: true })).toBe(5000);
  await withDefaults.close();
  expect(() => new SqliteStorage({ synchronous: 'SOMETIMES' as 'FULL' })).toThrow(InvalidArgumentError);
  expect(() => new SqliteStorage({ busyTimeoutMs: -1 })).toThrow(InvalidArgumentError);
});

test('4 processes x 25 concurrent starts of one tracking id on one SQLite file create exactly one run', async () => {
  assertBuilt();
  const env = { DB: join(dir, 'many.db'), LEDGER: join(dir, 'many.ledger'), TRACKING: 'order-many', N: '25', GO_AT: String(Date.now() + 1500) };
  const finished = await Promise.all(Array.from({ length: 4 }, () => runFixture(join(__dirname, 'fixtures', 'start-many.ts'), env)));
  for (const f of finished) {
    expect(f.stderr).toBe('');
    expect(f.code).toBe(0);
  }
  const outputs = finished.map((f) => lastJson<{ runIds: string[]; results: string[] }>(f));
  const runIds = new Set(outputs.flatMap((o) => o.runIds));
  expect(runIds.size).toBe(1);
  expect(new Set(outputs.flatMap((o) => o.results))).toEqual(new Set([JSON.stringify(['reserved p-1', 'charged', 'shipped'])]));
  const db = new Database(env.DB, { readonly: true });
  expect(db.prepare('select count(*) as n from cairn_runs').get()).toEqual({ n: 1 });
  db.close();
  const ledger = readFileSync(env.LEDGER, 'utf8').trim().split('\n');
  expect(ledger.map((l) => l.split(':')[0])).toEqual(['reserve', 'charge', 'ship']);
});
