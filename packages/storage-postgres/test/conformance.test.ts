import { storageConformance } from '@cairn/core/testing';
import { PostgresStorage } from '@cairn/storage-postgres';
import { freshDatabase } from './support/database';

let url: string;
let n = 0;
beforeAll(async () => {
  url = await freshDatabase('conformance');
});

storageConformance('postgres', {
  // A schema per test keeps cases independent (and exercises the configurable schema).
  createStorage: ({ manualClock }) => new PostgresStorage({ connectionString: url, schema: `case_${++n}`, poolSize: 4, clock: manualClock ? 'runner' : 'database' }),
});
