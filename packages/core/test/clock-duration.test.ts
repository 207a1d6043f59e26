/**
 * Time: one injectable clock (a manual one moves only when told to, so a two-day wait is tested in
 * milliseconds), and durations given as milliseconds or strings ('30s', '5m').
 */
import { getEventListeners } from 'node:events';
import { ManualClock, systemClock } from '../src/time/clock';
import { parseDuration, type Duration } from '../src/time/duration';

/** Lets every already-settled promise callback run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i += 1) await Promise.resolve();
}

/** Tracks whether a promise has settled, and how. */
function track<T>(promise: Promise<T>): { state: () => 'pending' | 'resolved' | 'rejected'; reason: () => unknown } {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  let reason: unknown;
  promise.then(
    () => {
      state = 'resolved';
    },
    (error: unknown) => {
      state = 'rejected';
      reason = error;
    },
  );
  return { state: () => state, reason: () => reason };
}

const sleeperCount = (clock: ManualClock): number => (clock as unknown as { sleepers: unknown[] }).sleepers.length;

describe('ManualClock', () => {
  it('starts at the given time (default 0) and moves only when told', async () => {
    expect(new ManualClock().now()).toBe(0);
    const clock = new ManualClock(1_700_000_000_000);
    expect(clock.now()).toBe(1_700_000_000_000);
    await new Promise((r) => setTimeout(r, 5));
    expect(clock.now()).toBe(1_700_000_000_000);
    clock.advance(1500);
    expect(clock.now()).toBe(1_700_000_001_500);
    clock.set(42);
    expect(clock.now()).toBe(42);
  });

  it('resolves a sleep only when time has advanced past its end', async () => {
    const clock = new ManualClock(1000);
    const sleep = track(clock.sleep(500));
    await flush();
    expect(sleep.state()).toBe('pending');
    clock.advance(499);
    await flush();
    expect(sleep.state()).toBe('pending');
    clock.advance(1);
    await flush();
    expect(sleep.state()).toBe('resolved');
    expect(clock.now()).toBe(1500);
    expect(sleeperCount(clock)).toBe(0);
  });

  it('resolves a two-day sleep at once when time is set past it', async () => {
    const clock = new ManualClock(0);
    const twoDays = 2 * 24 * 3600 * 1000;
    const sleep = track(clock.sleep(twoDays));
    clock.set(twoDays - 1);
    await flush();
    expect(sleep.state()).toBe('pending');
    clock.set(twoDays + 10);
    await flush();
    expect(sleep.state()).toBe('resolved');
  });

  it('resolves a zero or negative sleep right away', async () => {
    const clock = new ManualClock(10);
    const zero = track(clock.sleep(0));
    const negative = track(clock.sleep(-50));
    await flush();
    expect(zero.state()).toBe('resolved');
    expect(negative.state()).toBe('resolved');
    expect(clock.now()).toBe(10);
  });

  it('wakes several sleepers in order of their end time, each only when due', async () => {
    const clock = new ManualClock(0);
    const woke: number[] = [];
    void clock.sleep(300).then(() => woke.push(300));
    void clock.sleep(100).then(() => woke.push(100));
    void clock.sleep(200).then(() => woke.push(200));
    clock.advance(150);
    await flush();
    expect(woke).toEqual([100]);
    clock.advance(100);
    await flush();
    expect(woke).toEqual([100, 200]);
    clock.advance(100);
    await flush();
    expect(woke).toEqual([100, 200, 300]);
  });

  it('wakes sleepers that fall due in one jump in order of their end time', async () => {
    const clock = new ManualClock(0);
    const woke: number[] = [];
    void clock.sleep(300).then(() => woke.push(300));
    void clock.sleep(100).then(() => woke.push(100));
    void clock.sleep(200).then(() => woke.push(200));
    clock.advance(1000);
    await flush();
    expect(woke).toEqual([100, 200, 300]);
  });

  it('measures a sleep from the time it was started', async () => {
    const clock = new ManualClock(0);
    clock.advance(1000);
    const sleep = track(clock.sleep(100));
    clock.set(1099);
    await flush();
    expect(sleep.state()).toBe('pending');
    clock.set(1100);
    await flush();
    expect(sleep.state()).toBe('resolved');
  });

  it('rejects with the signal reason on abort and forgets the sleeper', async () => {
    const clock = new ManualClock(0);
    const controller = new AbortController();
    const other = track(clock.sleep(100));
    const sleep = track(clock.sleep(100, controller.signal));
    expect(sleeperCount(clock)).toBe(2);
    const reason = new Error('stop');
    controller.abort(reason);
    await flush();
    expect(sleep.state()).toBe('rejected');
    expect(sleep.reason()).toBe(reason);
    expect(sleeperCount(clock)).toBe(1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    clock.advance(100);
    await flush();
    expect(sleep.state()).toBe('rejected');
    expect(other.state()).toBe('resolved');
    expect(sleeperCount(clock)).toBe(0);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const clock = new ManualClock(0);
    const sleep = track(clock.sleep(100, AbortSignal.abort('already')));
    await flush();
    expect(sleep.state()).toBe('rejected');
    expect(sleep.reason()).toBe('already');
    expect(sleeperCount(clock)).toBe(0);
  });

  it('ignores an abort after the sleep resolved and removes its listener', async () => {
    const clock = new ManualClock(0);
    const controller = new AbortController();
    const sleep = track(clock.sleep(10, controller.signal));
    clock.advance(10);
    await flush();
    expect(sleep.state()).toBe('resolved');
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    controller.abort();
    await flush();
    expect(sleep.state()).toBe('resolved');
  });

  it('leaves no abort listener behind for a sleep that is due at once', async () => {
    // A long-lived signal (the runner's) is passed to many short sleeps; listeners must not pile up.
    const clock = new ManualClock(0);
    const controller = new AbortController();
    for (let i = 0; i < 3; i += 1) await clock.sleep(0, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});

describe('systemClock', () => {
  it('reads the wall clock', () => {
    const before = Date.now();
    const now = systemClock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it('sleeps for about the given time', async () => {
    const start = performance.now();
    await systemClock.sleep(30);
    expect(performance.now() - start).toBeGreaterThanOrEqual(25);
  });

  it('rejects with the signal reason on abort, without waiting, and clears its timer', async () => {
    const clearSpy = jest.spyOn(global, 'clearTimeout');
    try {
      const controller = new AbortController();
      const start = performance.now();
      const sleep = systemClock.sleep(60_000, controller.signal);
      const reason = new Error('shutting down');
      setTimeout(() => controller.abort(reason), 5);
      await expect(sleep).rejects.toBe(reason);
      expect(performance.now() - start).toBeLessThan(5_000);
      expect(clearSpy).toHaveBeenCalled();
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    } finally {
      clearSpy.mockRestore();
    }
  });

  it('rejects at once for an already aborted signal', async () => {
    await expect(systemClock.sleep(60_000, AbortSignal.abort('gone'))).rejects.toBe('gone');
  });

  it('removes its abort listener once the sleep resolves', async () => {
    const controller = new AbortController();
    await systemClock.sleep(1, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('does not fire early for sleeps longer than setTimeout can hold (2^31-1 ms, about 24.8 days)', async () => {
    // A '30d' timeout or a far wake-up goes through clock.sleep; Node clamps such timers to 1 ms.
    const controller = new AbortController();
    const sleep = track(systemClock.sleep(30 * 24 * 3600 * 1000, controller.signal));
    await new Promise((r) => setTimeout(r, 50));
    const state = sleep.state();
    controller.abort(new Error('test over'));
    await flush();
    expect(state).toBe('pending');
  });
});

describe('parseDuration', () => {
  it.each<[Duration, number]>([
    [0, 0],
    [250, 250],
    [1.5, 1.5],
    ['200ms', 200],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['1.5s', 1500],
    ['10', 10],
    ['2 minutes', 120_000],
  ])('accepts %p as %p ms', (value, expected) => {
    expect(parseDuration(value, 'timeout')).toEqual({ ms: expected });
  });

  it.each<[unknown, RegExp]>([
    [-1, /timeout must be a finite, non-negative number of milliseconds \(got -1\)/],
    [NaN, /timeout must be a finite, non-negative number of milliseconds \(got NaN\)/],
    [Infinity, /timeout must be a finite, non-negative number of milliseconds \(got Infinity\)/],
    [-Infinity, /got -Infinity/],
    ['', /timeout must be a duration like '200ms', '30s' or '5m' \(got ''\)/],
    ['   ', /timeout must be a duration like .*\(got '   '\)/],
    ['soon', /timeout must be a duration like .*\(got 'soon'\)/],
    ['-5s', /timeout must be a duration like .*\(got '-5s'\)/],
    ['5 fortnights', /got '5 fortnights'/],
    ['1'.repeat(101), /timeout must be a duration like/],
    [null, /timeout must be a number of milliseconds or a string like '30s' \(got object\)/],
    [undefined, /\(got undefined\)/],
    [true, /\(got boolean\)/],
    [{ ms: 5 }, /\(got object\)/],
    [10n, /\(got bigint\)/],
  ])('rejects %p with a problem naming the option', (value, pattern) => {
    const result = parseDuration(value as Duration, 'timeout');
    expect(result).not.toHaveProperty('ms');
    expect(result).toHaveProperty('problem');
    expect((result as { problem: string }).problem).toMatch(pattern);
    expect((result as { problem: string }).problem.startsWith('timeout ')).toBe(true);
  });

  it('never throws, whatever it is given', () => {
    for (const value of [Symbol('s'), () => 1, [], '\u0000', 'x'.repeat(10_000)]) {
      expect(() => parseDuration(value as unknown as Duration, 'backoff.min')).not.toThrow();
      expect(parseDuration(value as unknown as Duration, 'backoff.min')).toHaveProperty('problem');
    }
  });
});
