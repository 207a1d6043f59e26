/**
 * A throwaway PostgreSQL server for the example, the way Cairn's own tests start one: the Debian
 * server binaries (/usr/lib/postgresql/<version>/bin), initdb into a temporary directory, listen on
 * 127.0.0.1 only, on a free port. PostgreSQL refuses to run as root, so as root the binaries run
 * as the `postgres` system user. `stop()` shuts it down and deletes the directory.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ThrowawayPostgres {
  url: string;
  stop(): void;
}

const asRoot = process.getuid?.() === 0;

function findBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('No PostgreSQL server binaries under /usr/lib/postgresql/*/bin (Debian: apt-get install postgresql), and DATABASE_URL is not set.');
  return join(root, newest, 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

function pg(bin: string, tool: string, args: string[]): void {
  const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args];
  execFileSync(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = findBin();
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-example-pg-'));
  if (asRoot) {
    const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dataDir, id('-u'), id('-g'));
  }
  const ctl = ['-D', dataDir, '-w', '-t', '60', '-l', join(dataDir, 'server.log')];
  let started = false;
  const stop = (): void => {
    try {
      if (started) pg(bin, 'pg_ctl', [...ctl, '-m', 'fast', 'stop']);
    } finally {
      started = false;
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
  try {
    pg(bin, 'initdb', ['-D', dataDir, '-U', 'cairn', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    const port = await freePort();
    pg(bin, 'pg_ctl', [...ctl, '-o', `-p ${port} -c listen_addresses=127.0.0.1 -k ${dataDir} -c max_connections=200`, 'start']);
    started = true;
    return { url: `postgres://cairn@127.0.0.1:${port}/postgres`, stop };
  } catch (error) {
    stop();
    throw error;
  }
}
