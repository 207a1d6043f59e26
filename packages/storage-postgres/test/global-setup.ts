/**
 * Brings up PostgreSQL for the test run unless CAIRN_TEST_PG_URL names one. Never skips: without
 * a server the tests fail with a message saying how to get one.
 */
import { startPostgres, type TestPostgres } from './support/postgres-server';

declare global {
  var __CAIRN_PG__: TestPostgres | undefined;
}

export default async function setup(): Promise<void> {
  if (process.env.CAIRN_TEST_PG_URL) return;
  const server = await startPostgres();
  globalThis.__CAIRN_PG__ = server;
  process.env.CAIRN_TEST_PG_URL = server.url;
  process.env.CAIRN_TEST_PG_DATA = server.dataDir;
  process.env.CAIRN_TEST_PG_BIN = server.bin;
  process.env.CAIRN_TEST_PG_PORT = String(server.port);
}
