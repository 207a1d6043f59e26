/**
 * Regression test for the lost wake-up the torture run found: a parent parking on its subflow
 * child while the child's final commit is in flight must still be woken. Runs the deterministic
 * reproduction (src/repro-lost-wakeup.ts: slow commits forced by a deferred trigger and a delaying
 * storage wrapper, on its own throwaway PostgreSQL) in a child process; it exits 1 when the parent
 * is left waiting forever.
 */
import { join } from 'node:path';
import { assertBuilt, runFixture } from '../../core/test/support/processes';

beforeAll(() => assertBuilt());

test('a parent parking while its child finishes is woken (no lost wake-up)', async () => {
  const result = await runFixture(join(__dirname, '..', 'src', 'repro-lost-wakeup.ts'), {});
  expect(result.stdout).toContain('no lost wake-up');
  expect(result.code).toBe(0);
}, 120_000);
