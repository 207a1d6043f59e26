/**
 * Crash tests: a real child process is SIGKILLed inside a step; a fresh process resumes the run.
 * A ledger written by the steps themselves (outside Cairn's tables) proves what ran and how often.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBuilt, lastJson, runFixture } from '../../core/test/support/processes';

interface Outcome {
  status: 'completed' | 'failed';
  result?: unknown;
  step?: string;
  attempts?: number;
  code?: string;
}

let dir: string;
beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(join(tmpdir(), 'cairn-crash-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ledger(file: string): { starts(step: string): number; ends(step: string): number } {
  const lines = readFileSync(file, 'utf8').split('\n');
  return {
    starts: (step) => lines.filter((l) => l === `start:${step}`).length,
    ends: (step) => lines.filter((l) => l === `end:${step}`).length,
  };
}

async function crashThenResume(scenario: string, killAt: string, killOn = 1): Promise<{ outcome: Outcome; ledger: ReturnType<typeof ledger> }> {
  const env = { DB: join(dir, `${scenario}.db`), LEDGER: join(dir, `${scenario}.ledger`), SCENARIO: scenario, TRACKING: `crash-${scenario}` };
  const crashed = await runFixture(join(__dirname, 'fixtures', 'crash-worker.ts'), { ...env, KILL_AT: killAt, KILL_ON: String(killOn) });
  expect(crashed.signal).toBe('SIGKILL');
  expect(crashed.stdout).toContain(`killing myself inside ${killAt}`);
  const resumed = await runFixture(join(__dirname, 'fixtures', 'crash-worker.ts'), env);
  expect(resumed.stderr).toBe('');
  expect(resumed.code).toBe(0);
  return { outcome: lastJson<Outcome>(resumed), ledger: ledger(env.LEDGER) };
}

test('SIGKILL inside step 3 of 5: steps 1-2 never repeat, step 3 runs at most twice, 4-5 once', async () => {
  const { outcome, ledger: l } = await crashThenResume('sequential', 's3');
  expect(outcome).toEqual({ status: 'completed', result: [1, 2, 3, 4, 5] });
  expect([l.starts('s1'), l.starts('s2')]).toEqual([1, 1]);
  expect(l.starts('s3')).toBe(2);
  expect(l.ends('s3')).toBe(1);
  expect([l.starts('s4'), l.starts('s5')]).toEqual([1, 1]);
});

test('SIGKILL inside a parallel stage: finished siblings are kept, only interrupted ones run again', async () => {
  const { outcome, ledger: l } = await crashThenResume('parallel', 'p2');
  expect(outcome).toEqual({ status: 'completed', result: 'axyz' });
  expect(l.starts('s1')).toBe(1);
  expect(l.starts('p1')).toBe(1);
  expect(l.starts('p2')).toBe(2);
  expect(l.starts('p3')).toBeLessThanOrEqual(2);
  expect(l.ends('p3')).toBe(1);
  expect(l.starts('s3')).toBe(1);
});

test('SIGKILL inside a subflow: the child resumes at its interrupted step and the parent finishes', async () => {
  const { outcome, ledger: l } = await crashThenResume('subflow', 'c2');
  expect(outcome).toEqual({ status: 'completed', result: { child: 42 } });
  expect([l.starts('s1'), l.starts('c1'), l.starts('c2'), l.starts('c3'), l.starts('s3')]).toEqual([1, 1, 2, 1, 1]);
});

test('a crash does not reset the retry budget: an interrupted last attempt fails the step on resume', async () => {
  const { outcome, ledger: l } = await crashThenResume('budget', 'b', 2);
  expect(outcome).toMatchObject({ status: 'failed', code: 'STEP_FAILED', step: 'b', attempts: 2 });
  expect(l.starts('b')).toBe(2);
  expect(l.starts('s1')).toBe(1);
});
