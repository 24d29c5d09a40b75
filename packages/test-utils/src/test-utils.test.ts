import { stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { FakeClock, mulberry32, tempDir, until } from './index.js';

describe('FakeClock', () => {
  it('fires timers at their own due time, earliest first, ties in set order', () => {
    const clock = new FakeClock(100);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => fired.push(`c@${clock.now()}`), 20);
    const cancelled = clock.setTimeout(() => fired.push('never'), 5);
    clock.clearTimeout(cancelled);
    clock.advance(30);
    expect(fired).toEqual(['a@110', 'b@120', 'c@120']);
    expect(clock.now()).toBe(130);
    expect(clock.cleared).toBe(1);
    expect(clock.timerCount).toBe(0);
  });

  it('fires a timer set by a firing timer when it falls inside the same advance', () => {
    const clock = new FakeClock();
    const fired: number[] = [];
    clock.setTimeout(() => clock.setTimeout(() => fired.push(clock.now()), 5), 5);
    clock.advance(10);
    expect(fired).toEqual([10]);
  });
});

describe('until', () => {
  it('resolves with the first defined value', async () => {
    let n = 0;
    await expect(until(() => (++n >= 3 ? n : undefined), { everyMs: 1 })).resolves.toBe(3);
  });

  it('rejects at its deadline naming what it waited for', async () => {
    await expect(until(() => false, { timeoutMs: 30, everyMs: 5, what: 'a sign' })).rejects.toThrow(
      /a sign not met within 30 ms/,
    );
  });
});

describe('tempDir and mulberry32', () => {
  it('makes a private directory and removes it', async () => {
    const { dir, cleanup } = await tempDir();
    if (process.platform !== 'win32') expect((await stat(dir)).mode & 0o777).toBe(0o700);
    await cleanup();
    await expect(stat(dir)).rejects.toThrow();
  });

  it('repeats the same stream for the same seed', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const xs = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });
});
