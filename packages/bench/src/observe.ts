/**
 * observe — sees every statement Cairn sends through a driver, with its parameters and how long the
 * driver took: a better-sqlite3 database's prepared statements, or the clients of a pg Pool. Used by
 * the statement profile and the claim-latency breakdown.
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';

/** One statement as executed: its SQL, its parameters, and the driver's time in ms. */
export type StatementObserver = (sql: string, params: unknown[], ms: number) => void;

type QueryFn = (...args: unknown[]) => unknown;

/** Wraps `db.prepare` so every run/all/get/iterate of every statement is reported. */
export function observeSqlite(db: Database.Database, observe: StatementObserver): void {
  const prepare = db.prepare.bind(db);
  db.prepare = ((source: string) => {
    const statement = prepare(source) as unknown as Record<string, QueryFn>;
    for (const method of ['run', 'all', 'get', 'iterate']) {
      const original = statement[method]!.bind(statement);
      statement[method] = (...args: unknown[]) => {
        const t0 = performance.now();
        try {
          return original(...args);
        } finally {
          observe(source, args.flat(), performance.now() - t0);
        }
      };
    }
    return statement;
  }) as unknown as typeof db.prepare;
}

/** Wraps `query` on every client the pool connects, so each statement is reported when it answers. */
export function observePool(pool: pg.Pool, observe: StatementObserver): void {
  pool.on('connect', (client) => {
    const target = client as unknown as { query: QueryFn };
    const original = target.query.bind(client) as QueryFn;
    target.query = (...args: unknown[]) => {
      const [first, second] = args;
      const sql = typeof first === 'string' ? first : ((first as { text?: string } | undefined)?.text ?? '?');
      const params = typeof first === 'string' ? second : (first as { values?: unknown } | undefined)?.values;
      const t0 = performance.now();
      const result = original(...args);
      const report = (): void => observe(sql, Array.isArray(params) ? (params as unknown[]) : [], performance.now() - t0);
      if (result instanceof Promise) return result.finally(report);
      report();
      return result;
    };
  });
}
