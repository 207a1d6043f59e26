/**
 * Spawns TypeScript fixtures in real child processes, against the built packages, for every
 * package's crash and multi-process tests. `fixture` is a path to a .ts file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const REGISTER = join(__dirname, 'register-ts.js');

export function assertBuilt(): void {
  for (const pkg of ['core', 'storage-sqlite', 'storage-postgres']) {
    if (!existsSync(join(__dirname, '..', '..', '..', pkg, 'dist', 'index.js'))) {
      throw new Error(`packages/${pkg}/dist is missing: child-process tests run the built packages. Run \`pnpm build\` (\`pnpm test\` does it for you).`);
    }
  }
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Spawned {
  child: ChildProcess;
  finished: Promise<Finished>;
}

/** Starts a fixture; `onLine` sees each stdout line as it arrives. */
export function spawnFixture(fixture: string, env: Record<string, string>, onLine?: (line: string, child: ChildProcess) => void): Spawned {
  const child = spawn(process.execPath, ['-r', REGISTER, fixture], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const finished = new Promise<Finished>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk;
      pending += chunk;
      let index: number;
      while ((index = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, index);
        pending = pending.slice(index + 1);
        onLine?.(line, child);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, finished };
}

export function runFixture(fixture: string, env: Record<string, string>, onLine?: (line: string, child: ChildProcess) => void): Promise<Finished> {
  return spawnFixture(fixture, env, onLine).finished;
}

/** The last line of a fixture's stdout, parsed as JSON. */
export function lastJson<T>(finished: Finished): T {
  const lines = finished.stdout.trim().split('\n');
  try {
    return JSON.parse(lines[lines.length - 1]!) as T;
  } catch {
    throw new Error(`fixture printed no JSON result (exit ${finished.code}, signal ${finished.signal}).\nstdout:\n${finished.stdout}\nstderr:\n${finished.stderr}`);
  }
}
