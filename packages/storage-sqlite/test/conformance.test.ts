import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageConformance } from '@cairn/core/testing';
import { SqliteStorage } from '@cairn/storage-sqlite';

const dir = mkdtempSync(join(tmpdir(), 'cairn-sqlite-conformance-'));
let n = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

storageConformance('sqlite (file, WAL)', {
  createStorage: () => new SqliteStorage({ filename: join(dir, `db-${++n}.sqlite`) }),
});
