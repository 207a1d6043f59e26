/**
 * Retry policy: options are validated into a frozen policy (every bad option becomes a readable
 * problem line), and `backoffDelay` is a pure function of the policy, the attempt and `random`.
 */
import { backoffDelay, DEFAULT_RETRIES, resolveRetryPolicy, type RetryOptions, type RetryPolicy } from '../src/retry/policy';

function resolve(options: RetryOptions): { policy: RetryPolicy; problems: string[] } {
  const problems: string[] = [];
  const policy = resolveRetryPolicy(options, '@Step charge', problems);
  return { policy, problems };
}

function valid(options: RetryOptions): RetryPolicy {
  const { policy, problems } = resolve(options);
  expect(problems).toEqual([]);
  return policy;
}

/** Resolves bad options and returns the problems, each naming the step. */
function problemsOf(options: unknown): string[] {
  const { problems } = resolve(options as RetryOptions);
  expect(problems.length).toBeGreaterThan(0);
  for (const problem of problems) expect(problem.startsWith('@Step charge: ')).toBe(true);
  return problems;
}

const delays = (policy: RetryPolicy, random?: () => number): number[] => [1, 2, 3, 4, 5, 6].map((a) => backoffDelay(policy, a, random));

describe('resolveRetryPolicy: defaults', () => {
  it('uses 3 retries, exponential backoff from 200ms to 10s, factor 2, no jitter, no timeout', () => {
    expect(DEFAULT_RETRIES).toBe(3);
    const policy = valid({});
    expect(policy).toEqual({
      retries: 3,
      backoff: { type: 'exponential', minMs: 200, maxMs: 10_000, factor: 2, jitter: false },
      timeoutMs: undefined,
      retryIf: undefined,
    });
  });

  it('returns a frozen policy', () => {
    const policy = valid({ retries: 1 });
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(policy.backoff)).toBe(true);
  });

  it('accepts 0 retries and keeps retryIf', () => {
    const retryIf = (error: unknown): boolean => error instanceof TypeError;
    const policy = valid({ retries: 0, retryIf });
    expect(policy.retries).toBe(0);
    expect(policy.retryIf).toBe(retryIf);
  });
});

describe('resolveRetryPolicy: durations and backoff shapes', () => {
  it('reads a duration shorthand as a fixed backoff', () => {
    const policy = valid({ backoff: '1s' });
    expect(policy.backoff).toEqual({ type: 'fixed', minMs: 1000, maxMs: 1000, factor: 2, jitter: false });
    expect(valid({ backoff: 750 }).backoff).toMatchObject({ type: 'fixed', minMs: 750, maxMs: 750 });
  });

  it('accepts string durations and milliseconds', () => {
    const policy = valid({ backoff: { min: '30s', max: '5m' }, timeout: '30s' });
    expect(policy.backoff.minMs).toBe(30_000);
    expect(policy.backoff.maxMs).toBe(300_000);
    expect(policy.timeoutMs).toBe(30_000);
    expect(valid({ timeout: 1500 }).timeoutMs).toBe(1500);
    expect(valid({ backoff: { min: '200ms', max: '2d' } }).backoff.maxMs).toBe(2 * 24 * 3600 * 1000);
  });

  it('raises the default max to min when min is above 10s', () => {
    expect(valid({ backoff: { min: '30s' } }).backoff.maxMs).toBe(30_000);
  });

  it('takes explicit type, factor and jitter', () => {
    const policy = valid({ backoff: { type: 'exponential', min: 100, max: 5000, factor: 3, jitter: true } });
    expect(policy.backoff).toEqual({ type: 'exponential', minMs: 100, maxMs: 5000, factor: 3, jitter: true });
  });
});

describe('backoffDelay', () => {
  it('grows exponentially and caps at max (defaults)', () => {
    expect(delays(valid({}))).toEqual([200, 400, 800, 1600, 3200, 6400]);
    expect(backoffDelay(valid({}), 7)).toBe(10_000);
    expect(backoffDelay(valid({}), 50)).toBe(10_000);
  });

  it('caps at a custom max and uses a custom factor', () => {
    expect(delays(valid({ backoff: { min: '1s', max: '5s' } }))).toEqual([1000, 2000, 4000, 5000, 5000, 5000]);
    expect(delays(valid({ backoff: { min: 100, max: '10s', factor: 3 } }))).toEqual([100, 300, 900, 2700, 8100, 10_000]);
    expect(delays(valid({ backoff: { min: 100, factor: 1 } }))).toEqual([100, 100, 100, 100, 100, 100]);
  });

  it('stays at max for huge attempt numbers (no Infinity, no NaN)', () => {
    const policy = valid({ backoff: { min: 1, max: '1m', factor: 10 } });
    expect(backoffDelay(policy, 10_000)).toBe(60_000);
  });

  it('is constant for fixed backoff', () => {
    expect(delays(valid({ backoff: '1s' }))).toEqual([1000, 1000, 1000, 1000, 1000, 1000]);
    expect(delays(valid({ backoff: { type: 'fixed', min: 250 } }))).toEqual([250, 250, 250, 250, 250, 250]);
  });

  it('treats attempt 0 or below like the first attempt', () => {
    expect(backoffDelay(valid({}), 0)).toBe(200);
  });

  it('does not call random without jitter', () => {
    const random = jest.fn(() => 0.5);
    expect(delays(valid({}), random)).toEqual([200, 400, 800, 1600, 3200, 6400]);
    expect(random).not.toHaveBeenCalled();
  });

  it('spreads jitter over [delay/2, delay] using the injected random', () => {
    const policy = valid({ backoff: { min: '1s', max: '8s', jitter: true } });
    const plain = delays(valid({ backoff: { min: '1s', max: '8s' } }));
    expect(plain).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    const low = delays(policy, () => 0);
    const high = delays(policy, () => 0.999);
    expect(low).toEqual(plain.map((d) => d / 2));
    high.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(plain[i]! / 2);
      expect(d).toBeLessThanOrEqual(plain[i]!);
      expect(d).toBe(Math.round(plain[i]! / 2 + 0.999 * (plain[i]! / 2)));
    });
    const mid = delays(policy, () => 0.5);
    expect(mid).toEqual(plain.map((d) => d * 0.75));
  });

  it('applies jitter to fixed backoff too', () => {
    const policy = valid({ backoff: { type: 'fixed', min: 1000, jitter: true } });
    expect(backoffDelay(policy, 3, () => 0)).toBe(500);
    expect(backoffDelay(policy, 3, () => 0.999)).toBeLessThanOrEqual(1000);
    expect(backoffDelay(policy, 3, () => 0.999)).toBeGreaterThanOrEqual(500);
  });

  it('returns whole milliseconds', () => {
    const policy = valid({ backoff: { min: 3, factor: 1.5, jitter: true } });
    for (let a = 1; a <= 6; a += 1) expect(Number.isInteger(backoffDelay(policy, a, () => 0.333))).toBe(true);
  });

  it('uses Math.random by default and stays in range', () => {
    const policy = valid({ backoff: { min: 1000, jitter: true } });
    for (let i = 0; i < 50; i += 1) {
      const d = backoffDelay(policy, 1);
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000);
    }
  });
});

describe('resolveRetryPolicy: each invalid option yields a readable problem', () => {
  it.each([[-1], [1.5], [1001], [NaN], ['3']])('retries %p', (retries) => {
    const problems = problemsOf({ retries });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/retries must be an integer from 0 to 1000 \(got .+\)/);
  });

  it('keeps the default retries when the option is bad', () => {
    expect(resolve({ retries: -1 }).policy.retries).toBe(3);
  });

  it('a bad duration string', () => {
    const problems = problemsOf({ backoff: { min: 'soon' } });
    expect(problems).toEqual([`@Step charge: backoff.min must be a duration like '200ms', '30s' or '5m' (got 'soon')`]);
  });

  it('a bad backoff shorthand', () => {
    const problems = problemsOf({ backoff: 'later' });
    expect(problems).toEqual([`@Step charge: backoff.min must be a duration like '200ms', '30s' or '5m' (got 'later')`]);
  });

  it('a negative or non-finite duration', () => {
    expect(problemsOf({ backoff: { min: -5 } })[0]).toMatch(/backoff\.min must be a finite, non-negative number of milliseconds \(got -5\)/);
    expect(problemsOf({ backoff: { max: Infinity } })[0]).toMatch(/backoff\.max must be a finite, non-negative number .*Infinity/);
    expect(problemsOf({ backoff: { min: '-1s' } })[0]).toMatch(/backoff\.min must be a duration like/);
  });

  it('max smaller than min', () => {
    const problems = problemsOf({ backoff: { min: '5s', max: '1s' } });
    expect(problems).toEqual(['@Step charge: backoff.max (1000 ms) is smaller than backoff.min (5000 ms)']);
  });

  it('an unknown backoff type', () => {
    const problems = problemsOf({ backoff: { type: 'linear' } });
    expect(problems).toEqual([`@Step charge: backoff.type must be 'fixed' or 'exponential' (got 'linear')`]);
  });

  it('a factor below 1 or not a number', () => {
    expect(problemsOf({ backoff: { factor: 0.5 } })).toEqual(['@Step charge: backoff.factor must be a number ≥ 1 (got 0.5)']);
    expect(problemsOf({ backoff: { factor: 'x' } })[0]).toMatch(/backoff\.factor must be a number/);
    expect(problemsOf({ backoff: { factor: Infinity } })[0]).toMatch(/backoff\.factor must be a number/);
  });

  it('a jitter that is not a boolean', () => {
    expect(problemsOf({ backoff: { jitter: 'yes' } })).toEqual(['@Step charge: backoff.jitter must be true or false']);
  });

  it('a backoff that is neither an object nor a duration', () => {
    expect(problemsOf({ backoff: true }).join('\n')).toMatch(/backoff must be an object or a duration/);
  });

  it('a zero or bad timeout', () => {
    expect(problemsOf({ timeout: 0 })).toEqual(['@Step charge: timeout must be greater than zero']);
    expect(problemsOf({ timeout: 'forever' }).join('\n')).toMatch(/timeout must be a duration like .*'forever'/);
    expect(problemsOf({ timeout: {} }).join('\n')).toMatch(/timeout must be a number of milliseconds or a string like '30s' \(got object\)/);
  });

  it('a retryIf that is not a function', () => {
    expect(problemsOf({ retryIf: true })).toEqual(['@Step charge: retryIf must be a function']);
  });

  it('reports one problem per bad option: a bad timeout string is not also "not greater than zero"', () => {
    expect(problemsOf({ timeout: 'forever' })).toEqual([`@Step charge: timeout must be a duration like '200ms', '30s' or '5m' (got 'forever')`]);
  });

  it('reports one problem per bad option: a bad min does not invent a "max smaller than min" line', () => {
    // The user never gave a usable min, so comparing max against the fallback 200ms is misleading.
    expect(problemsOf({ backoff: { min: 'soon', max: '100ms' } })).toEqual([
      `@Step charge: backoff.min must be a duration like '200ms', '30s' or '5m' (got 'soon')`,
    ]);
  });

  it('reports every bad option at once', () => {
    const problems = problemsOf({ retries: -2, backoff: { type: 'linear', min: 'soon', factor: 0, jitter: 1 }, timeout: 0, retryIf: 'x' });
    const text = problems.join('\n');
    for (const pattern of [/retries must be/, /backoff\.type must be/, /backoff\.min must be a duration/, /backoff\.factor must be/, /backoff\.jitter must be/, /timeout must be greater than zero/, /retryIf must be a function/]) {
      expect(text).toMatch(pattern);
    }
  });

  it('appends to the problems it is given, leaving earlier ones', () => {
    const problems = ['earlier'];
    resolveRetryPolicy({ retries: -1 }, '@Step x', problems);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toBe('earlier');
    expect(problems[1]).toMatch(/^@Step x: retries/);
  });
});
