/**
 * A throwaway PostgreSQL for the benchmark — a minimal copy of the test helper
 * (packages/storage-postgres/test/support/postgres-server.ts), reimplemented here because the bench
 * compiles only its own src/. initdb into a temp directory, 127.0.0.1 only, a free port, fsync on;
 * as root the server binaries run as the `postgres` system user. Set CAIRN_BENCH_PG_BIN to choose
 * the binaries (default: the newest /usr/lib/postgresql/<v>/bin, else `pg_config --bindir`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BenchPostgres {
  url: (database: string) => string;
  stop(): void;
}

const asRoot = process.getuid?.() === 0;

function findBin(): string {
  if (process.env.CAIRN_BENCH_PG_BIN) return process.env.CAIRN_BENCH_PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest) return join(root, newest, 'bin');
  const found = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (found.status === 0 && existsSync(join(found.stdout.trim(), 'initdb'))) return found.stdout.trim();
  throw new Error('No PostgreSQL server binaries found (Debian: apt-get install postgresql); set CAIRN_BENCH_PG_BIN or CAIRN_BENCH_PG_URL.');
}

function pg(bin: string, tool: string, args: string[]): void {
  if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args], { stdio: 'ignore' });
  else execFileSync(join(bin, tool), args, { stdio: 'ignore' });
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });

export async function startPostgres(): Promise<BenchPostgres> {
  const bin = findBin();
  const dir = mkdtempSync(join(tmpdir(), 'cairn-bench-pg-'));
  if (asRoot) {
    if (spawnSync('id', ['-u', 'postgres']).status !== 0) execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  pg(bin, 'initdb', ['-D', dir, '-U', 'cairn', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const base = ['-D', dir, '-w', '-t', '60', '-l', join(dir, 'server.log'), '-m', 'fast'];
  pg(bin, 'pg_ctl', [...base, '-o', `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c max_connections=200 -c fsync=on -c synchronous_commit=on`, 'start']);
  return {
    url: (database) => `postgres://cairn@127.0.0.1:${port}/${database}`,
    stop: () => {
      try {
        pg(bin, 'pg_ctl', [...base, 'stop']);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
