/**
 * PostgreSQL dialect — what differs on PostgreSQL: the pg Pool (Cairn's own, or yours, which Cairn
 * never closes), claims with FOR UPDATE SKIP LOCKED so workers never queue on each other's rows,
 * leases judged by the database's clock, LISTEN/NOTIFY wake-ups (polling stays the fallback), and
 * which pg errors are transient. Concurrent migrate() calls are serialized by the advisory lock
 * Kysely's PostgreSQL adapter takes around migrations.
 */
import pg from 'pg';
import { PostgresDialect, sql, type RawBuilder, type Transaction } from 'kysely';
import { InvalidArgumentError, type CairnDatabase, type StorageDialect, type TransientKind } from '@cairn/core';

export interface PostgresStorageOptions {
  /** Connection string (postgres://user:pass@host:port/db). Ignored when `pool` is given. */
  connectionString?: string;
  /** Your own pg Pool. Cairn uses it and never ends it. */
  pool?: pg.Pool;
  /** Size of the pool Cairn creates. Default 10. */
  poolSize?: number;
  /** Schema for Cairn's tables (created by migrate()). Default 'public'. */
  schema?: string;
  /**
   * Which clock judges leases and due times. 'database' (default): PostgreSQL's, the same for
   * every worker. 'runner': the Runner's injected clock (tests that move time by hand).
   */
  clock?: 'database' | 'runner';
  /** LISTEN for wake-ups on a dedicated connection. Default true. */
  listen?: boolean;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,40}$/;
const BUSY_CODES = new Set(['40001', '40P01', '55P03']);
const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '53300', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

/** By shape, not `instanceof`: socket errors may come from another realm (vm, jest). */
function classify(error: unknown): TransientKind | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (BUSY_CODES.has(code)) return 'busy';
    if (code.startsWith('08') || UNAVAILABLE_CODES.has(code)) return 'unavailable';
  }
  if (typeof message !== 'string') return undefined;
  if (/timeout exceeded when trying to connect/i.test(message)) return 'busy';
  if (/Connection terminated|not queryable|terminating connection|Client was closed|connection is closed/i.test(message)) return 'unavailable';
  return undefined;
}

/** Keeps a user's pool open when Kysely destroys its driver. */
function borrowed(pool: pg.Pool) {
  return {
    connect: () => pool.connect(),
    end: async () => undefined,
  };
}

export function postgresDialect(options: PostgresStorageOptions): { dialect: StorageDialect; schema: string } {
  const schema = options.schema ?? 'public';
  if (typeof schema !== 'string' || !IDENTIFIER.test(schema)) throw new InvalidArgumentError(`PostgresStorage schema must be a lower-case identifier of at most 41 characters (got '${String(options.schema)}').`);
  const poolSize = options.poolSize ?? 10;
  if (!Number.isInteger(poolSize) || poolSize < 1) throw new InvalidArgumentError(`PostgresStorage poolSize must be a positive integer (got ${String(options.poolSize)}).`);
  if (!options.pool && typeof options.connectionString !== 'string') throw new InvalidArgumentError('PostgresStorage needs a connectionString or a pool.');
  const clock = options.clock ?? 'database';
  if (clock !== 'database' && clock !== 'runner') throw new InvalidArgumentError(`PostgresStorage clock must be 'database' or 'runner' (got '${String(clock)}').`);

  const ownPool = options.pool ? undefined : new pg.Pool({ connectionString: options.connectionString, max: poolSize, connectionTimeoutMillis: 30_000 });
  const pool = options.pool ?? ownPool!;
  // A client killed by the server (restart, pg_terminate_backend) emits 'error': idle ones on the
  // pool, checked-out ones on themselves, where pg-pool removes its own listener. Without ours the
  // process would crash; the failed query surfaces as a transient error and the pool drops the client.
  const ignore = (): void => undefined;
  const onConnect = (client: pg.PoolClient): void => void client.on('error', ignore);
  pool.on('error', ignore);
  pool.on('connect', onConnect);
  const channel = `cairn_wake_${schema}`;
  const listeners = new Set<pg.Client>();
  const now = sql<number>`(floor(extract(epoch from statement_timestamp()) * 1000))::bigint`;

  const dialect: StorageDialect = {
    name: 'postgres',
    createKyselyDialect: () => new PostgresDialect({ pool: ownPool ?? borrowed(pool) }),
    classifyError: classify,
    skipLockedClaims: true,
    ...(clock === 'database' ? { databaseNow: (): RawBuilder<number> => now } : {}),
    async notify(trx: Transaction<CairnDatabase>): Promise<void> {
      await sql`select pg_notify(${channel}, '')`.execute(trx);
    },
    ...(options.listen === false
      ? {}
      : {
          listen: async (onWake: () => void) => {
            let closed = false;
            let client: pg.Client | undefined;
            const connect = async (): Promise<void> => {
              while (!closed) {
                const next = new pg.Client(options.pool ? (pool as unknown as { options: pg.ClientConfig }).options : { connectionString: options.connectionString });
                next.on('error', () => undefined);
                try {
                  await next.connect();
                  await next.query(`LISTEN ${channel}`);
                } catch {
                  await next.end().catch(() => undefined);
                  await new Promise((r) => setTimeout(r, 500));
                  continue;
                }
                if (closed) {
                  // close() came while we were connecting: do not keep this connection.
                  await next.end().catch(() => undefined);
                  return;
                }
                client = next;
                listeners.add(next);
                next.on('notification', () => onWake());
                next.on('end', () => {
                  listeners.delete(next);
                  if (!closed) void connect();
                });
                // Anything sent while we were not listening: look now.
                onWake();
                return;
              }
            };
            // Connect in the background: polling works meanwhile, and an unreachable database
            // must not hold up work() or close().
            void connect();
            return {
              close: async () => {
                closed = true;
                if (client) {
                  listeners.delete(client);
                  await client.end().catch(() => undefined);
                }
              },
            };
          },
        }),
    async close(): Promise<void> {
      pool.off('error', ignore);
      pool.off('connect', onConnect);
      for (const client of listeners) await client.end().catch(() => undefined);
    },
  };
  return { dialect, schema };
}
