/** Per-test isolation on the shared test server: each caller gets its own fresh database. */
import pg from 'pg';

export function serverUrl(): string {
  const url = process.env.CAIRN_TEST_PG_URL;
  if (!url) throw new Error('CAIRN_TEST_PG_URL is not set: the storage-postgres jest project starts PostgreSQL in its globalSetup.');
  return url;
}

export async function freshDatabase(label: string): Promise<string> {
  const name = `${label}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs one query on its own connection (test assertions look at the tables directly). */
export async function query<T>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}
