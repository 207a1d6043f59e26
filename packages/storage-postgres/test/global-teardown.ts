import { stopPostgres } from './support/postgres-server';

export default async function teardown(): Promise<void> {
  if (globalThis.__CAIRN_PG__) stopPostgres(globalThis.__CAIRN_PG__);
}
