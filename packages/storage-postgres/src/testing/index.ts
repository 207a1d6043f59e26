/** @cairn/storage-postgres/testing — a throwaway PostgreSQL server for tests, examples and benchmarks. */
export { startThrowawayPostgres, type ThrowawayPostgres } from './postgres';
