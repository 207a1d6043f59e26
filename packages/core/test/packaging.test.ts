/**
 * Packaging: the BUILT packages load for real consumers. @cairn/core is compiled to CommonJS
 * (NestJS apps are CommonJS) while p-retry and devalue are ESM-only, loaded through Node's
 * require(esm). This test builds the packages if needed, makes a throwaway consumer project in the
 * OS temp dir whose node_modules links @cairn/core and @cairn/storage-sqlite, and runs a two-step
 * workflow (one step fails once, so the p-retry path runs) on a SQLite file from
 *   - a CommonJS consumer (`require`), and
 *   - an ES-module consumer (named `import`s from the CommonJS build),
 * each in a plain `node` child process, with nothing transpiled by jest.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const PACKAGES = resolve(__dirname, '..', '..');
const ROOT = resolve(PACKAGES, '..');
const CORE = join(PACKAGES, 'core');
const SQLITE = join(PACKAGES, 'storage-sqlite');
const FIXTURES = join(__dirname, 'fixtures', 'packaging');
const BUILD_ARGS = ['-r', '--filter', './packages/*', 'run', 'build'];

/** Newest modification time of any file under `dir` (0 if it does not exist). */
function newestMtime(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Why the build of `pkg` must be (re)made, or undefined when dist/ is there and newer than src/. */
function staleBuild(pkg: string): string | undefined {
  const entry = join(pkg, 'dist', 'index.js');
  if (!existsSync(entry)) return `${entry} is missing`;
  if (newestMtime(join(pkg, 'src')) > statSync(entry).mtimeMs) return `${join(pkg, 'src')} is newer than its dist/`;
  return undefined;
}

/**
 * `pnpm test` builds before jest, so normally nothing happens here. Run on its own (`npx jest
 * packages/core/test/packaging.test.ts`), the test builds missing or stale packages itself.
 */
function ensureBuilt(): void {
  const reasons = [CORE, SQLITE].map(staleBuild).filter((reason): reason is string => reason !== undefined);
  if (reasons.length === 0) return;
  try {
    execFileSync('pnpm', BUILD_ARGS, { cwd: ROOT, stdio: 'pipe', timeout: 110_000, shell: process.platform === 'win32' });
  } catch (error) {
    const failure = error as { message: string; stdout?: Buffer; stderr?: Buffer };
    throw new Error(
      `The packaging test needs the built packages (${reasons.join('; ')}) and \`pnpm ${BUILD_ARGS.join(' ')}\` failed ` +
        `(run \`pnpm build\` yourself, or \`pnpm test\`, which builds first):\n${failure.message}\n${failure.stdout ?? ''}${failure.stderr ?? ''}`,
    );
  }
  const still = [CORE, SQLITE].map(staleBuild).filter((reason) => reason !== undefined);
  if (still.length > 0) throw new Error(`The build ran but the packages are still not built: ${still.join('; ')}`);
}

/** Links `target` (a directory) at `path`, creating parent directories. Junctions on Windows need no privilege. */
function link(target: string, path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path, 'junction');
}

interface Described {
  sum: number;
  aAttempt: number;
  at: string;
  tags: string[] | string;
  big: string;
}

interface ConsumerReport {
  format: string;
  first: Described;
  again: Described;
  status: string;
  steps: { name: string; status: string; attempts: number }[];
  calls: { a: number; b: number };
  pRetryLoadedByRequire: boolean;
}

interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  report: ConsumerReport;
}

describe('the built packages load in real consumer projects', () => {
  let project: string;

  beforeAll(() => {
    ensureBuilt();
    project = mkdtempSync(join(tmpdir(), 'cairn-packaging-'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'cairn-packaging-consumer', private: true }, null, 2));
    link(CORE, join(project, 'node_modules', '@cairn', 'core'));
    link(SQLITE, join(project, 'node_modules', '@cairn', 'storage-sqlite'));
    link(realpathSync(join(CORE, 'node_modules', 'reflect-metadata')), join(project, 'node_modules', 'reflect-metadata'));
    for (const file of ['consumer.cjs', 'consumer.mjs']) copyFileSync(join(FIXTURES, file), join(project, file));
  }, 120_000);

  afterAll(() => {
    // rmSync removes the symlinks themselves, never what they point to.
    if (project) rmSync(project, { recursive: true, force: true });
  });

  function runConsumer(file: string): Ran {
    const db = join(project, `${file}.db`);
    const child = spawnSync(process.execPath, [file, db], { cwd: project, encoding: 'utf8', timeout: 60_000 });
    if (child.error) throw child.error;
    const context = `node ${file} exited with ${child.status} (signal ${child.signal}).\nstdout:\n${child.stdout}\nstderr:\n${child.stderr}`;
    if (child.status !== 0) throw new Error(context);
    const lines = child.stdout.trim().split('\n');
    let report: ConsumerReport;
    try {
      report = JSON.parse(lines[lines.length - 1]!) as ConsumerReport;
    } catch {
      throw new Error(`node ${file} printed no JSON report. ${context}`);
    }
    return { status: child.status, signal: child.signal, stdout: child.stdout, stderr: child.stderr, report };
  }

  const expected: Described = {
    sum: 42,
    aAttempt: 2,
    at: 'Date:2024-01-02T00:00:00.000Z',
    tags: ['Set', 'x', 'y'],
    big: 'bigint:1180591620717411303424',
  };

  function expectRan(ran: Ran, format: string): void {
    expect(ran.status).toBe(0);
    expect(ran.report).toEqual({
      format,
      first: expected,
      // The second start of the completed run returned the stored result and executed nothing.
      again: expected,
      status: 'completed',
      steps: [
        { name: 'a', status: 'completed', attempts: 2 },
        { name: 'b', status: 'completed', attempts: 1 },
      ],
      calls: { a: 2, b: 1 },
      pRetryLoadedByRequire: true,
    });
    // require(esm) must load p-retry and devalue silently: no "(node:…) ExperimentalWarning".
    expect(ran.stderr).not.toMatch(/ExperimentalWarning/);
    expect(ran.stderr).not.toMatch(/\(node:\d+\) \w*Warning/);
  }

  it('a CommonJS consumer requires both packages and runs a workflow with a retried step on SQLite', () => {
    expectRan(runConsumer('consumer.cjs'), 'cjs');
  });

  it('an ES-module consumer imports named exports from the CommonJS build and runs the same workflow', () => {
    expectRan(runConsumer('consumer.mjs'), 'esm');
  });
});
