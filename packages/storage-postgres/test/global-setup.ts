/**
 * Brings up PostgreSQL for the test run unless CAIRN_TEST_PG_URL names one. Never skips: without
 * a server the tests fail with a message saying how to get one.
 */
import { startThrowawayPostgres, type ThrowawayPostgres } from '@cairn/storage-postgres/testing';

declare global {
  var __CAIRN_PG__: ThrowawayPostgres | undefined;
}

export default async function setup(): Promise<void> {
  if (process.env.CAIRN_TEST_PG_URL) return;
  const server = await startThrowawayPostgres();
  globalThis.__CAIRN_PG__ = server;
  process.env.CAIRN_TEST_PG_URL = server.url;
}
