/**
 * @cairn/storage-postgres — Cairn on PostgreSQL, for any number of workers on any number of
 * machines. The storage itself is core's KyselyStorage; this package supplies only what differs
 * on PostgreSQL (see dialect.ts).
 */
import { KyselyStorage } from '@cairn/core';
import { postgresDialect, type PostgresStorageOptions } from './dialect';

export type { PostgresStorageOptions } from './dialect';

export class PostgresStorage extends KyselyStorage {
  constructor(options: PostgresStorageOptions) {
    const { dialect, schema } = postgresDialect(options ?? {});
    super({ dialect, schema, transientRetryMs: options?.transientRetryMs });
  }
}
