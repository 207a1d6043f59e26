/**
 * guard — the pool as Kysely sees it, with three protections against a database that stops
 * answering: taking a connection is bounded (`connectTimeoutMs`, even for a pool of yours
 * configured without a timeout: an exhausted pool or a server that accepts the TCP connection and
 * never answers would otherwise hang the call forever), each statement is bounded
 * (`statementTimeoutMs`, pg's client-side `query_timeout`: a half-open connection never answers),
 * and a connection that failed that way is destroyed when it is released instead of going back to
 * the pool, where it would hang the next query too.
 */
import type pg from 'pg';
import type { PostgresPool, PostgresPoolClient } from 'kysely';

/** Codes of the acquisition timeouts raised here; the dialect classifies them. */
export const POOL_EXHAUSTED = 'CAIRN_POOL_EXHAUSTED';
export const CONNECT_TIMEOUT = 'CAIRN_CONNECT_TIMEOUT';

export interface Bounds {
  /** Longest wait for a connection, in ms; 0 waits as long as the pool does. */
  connectTimeoutMs: number;
  /** Longest wait for one statement's answer, in ms; 0: none. */
  statementTimeoutMs: number;
  /** True for errors after which the connection must not be reused (lost connection, read timeout). */
  isConnectionLost(error: unknown): boolean;
}

export interface GuardOptions extends Bounds {
  /** Whether Kysely's destroy() may end the pool (Cairn's own pool; never yours). */
  own: boolean;
}

/** Connections of the pool still in their handshake (pg-pool counts them in totalCount). Best effort: a private field. */
function handshaking(pool: pg.Pool): number {
  const clients = (pool as unknown as { _clients?: unknown })._clients;
  return Array.isArray(clients) ? clients.filter((c) => (c as { _connecting?: unknown })._connecting === true).length : 0;
}

function acquireTimeout(pool: pg.Pool, ms: number): Error {
  const max = pool.options.max ?? 10;
  const pending = handshaking(pool);
  const exhausted = pool.totalCount >= max && pool.idleCount === 0 && pending === 0;
  const message = exhausted
    ? `no connection of the pg Pool became free within ${ms} ms (all ${pool.totalCount} of ${max} in use, ${pool.waitingCount} callers waiting): the pool is exhausted`
    : `could not open a connection to PostgreSQL within ${ms} ms (connectTimeoutMs; ${pending} handshake${pending === 1 ? '' : 's'} still pending): the server is unreachable or accepted the connection without answering`;
  return Object.assign(new Error(message), { code: exhausted ? POOL_EXHAUSTED : CONNECT_TIMEOUT });
}

/** `pool.connect()`, bounded: on timeout the call fails, and a connection that comes later is released at once. */
function acquire(pool: pg.Pool, ms: number): Promise<pg.PoolClient> {
  if (ms <= 0) return pool.connect();
  return new Promise<pg.PoolClient>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(acquireTimeout(pool, ms));
    }, ms);
    pool.connect().then(
      (client) => {
        clearTimeout(timer);
        if (timedOut) client.release();
        else resolve(client);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!timedOut) reject(error);
      },
    );
  });
}

interface Guarded {
  client: PostgresPoolClient;
  lost: Error | undefined;
}

type Query = (...args: unknown[]) => unknown;

export function guardedPool(pool: pg.Pool, options: GuardOptions): PostgresPool {
  // One wrapper per pg client: Kysely keeps one connection object per client it is handed.
  const wrappers = new WeakMap<pg.PoolClient, Guarded>();
  const wrap = (client: pg.PoolClient): Guarded => {
    const guarded: Guarded = {
      lost: undefined,
      client: {
        query: ((...args: unknown[]) => {
          const [text, values] = args;
          const call = client.query as unknown as Query;
          const result =
            typeof text === 'string' && options.statementTimeoutMs > 0
              ? call.call(client, { text, values, query_timeout: options.statementTimeoutMs })
              : call.apply(client, args);
          if (result === null || typeof result !== 'object' || typeof (result as { then?: unknown }).then !== 'function') return result;
          return (result as Promise<unknown>).catch((error: unknown) => {
            if (options.isConnectionLost(error)) guarded.lost = asError(error);
            throw error;
          });
        }) as PostgresPoolClient['query'],
        release: () => {
          const lost = guarded.lost;
          guarded.lost = undefined;
          // A truthy argument makes pg-pool destroy the client instead of pooling it.
          client.release(lost);
        },
      },
    };
    return guarded;
  };
  return {
    connect: async () => {
      const client = await acquire(pool, options.connectTimeoutMs);
      let guarded = wrappers.get(client);
      if (!guarded) {
        guarded = wrap(client);
        wrappers.set(client, guarded);
      }
      guarded.lost = undefined;
      return guarded.client;
    },
    end: async () => {
      if (options.own && !pool.ending) await pool.end();
    },
  };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * The pool for Cairn's direct queries (`pool.query`, and `pool.connect`): the same pool with the
 * same bounds as Kysely's connections. Everything else (events, counts, options) is the pool's own.
 */
export function boundedPool(pool: pg.Pool, bounds: Bounds): pg.Pool {
  const connect = (): Promise<pg.PoolClient> => acquire(pool, bounds.connectTimeoutMs);
  const query = async (textOrConfig: string | pg.QueryConfig, values?: unknown[]): Promise<pg.QueryResult> => {
    const config: pg.QueryConfig = typeof textOrConfig === 'string' ? { text: textOrConfig, values } : values ? { ...textOrConfig, values } : textOrConfig;
    const client = await connect();
    let lost: Error | undefined;
    try {
      // pg reads `query_timeout` from the query's config too; its types only know it on the client's.
      const bounded = bounds.statementTimeoutMs > 0 ? ({ ...config, query_timeout: bounds.statementTimeoutMs } as pg.QueryConfig) : config;
      return await client.query(bounded);
    } catch (error) {
      if (bounds.isConnectionLost(error)) lost = asError(error);
      throw error;
    } finally {
      // A truthy argument makes pg-pool destroy the client instead of pooling it.
      client.release(lost);
    }
  };
  return new Proxy(pool, {
    get(target, key) {
      if (key === 'connect') return connect;
      if (key === 'query') return query;
      const value: unknown = Reflect.get(target, key);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
