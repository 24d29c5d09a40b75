import { describe, expect, it } from 'vitest';
import { DEADLINE_ERROR, withDeadline } from './runtime.js';

describe('task deadlines (TaskAssignment.deadlineUnixMs)', () => {
  it('0 means no deadline', async () => {
    expect(await withDeadline(0n, async () => 'done')).toBe('done');
  });
  it('a task past its deadline is not started, one that runs over it is stopped, both say so', async () => {
    await expect(withDeadline(BigInt(Date.now() - 1), async () => 'late')).rejects.toThrow(
      DEADLINE_ERROR,
    );
    const slow = new Promise<string>((resolve) => setTimeout(() => resolve('slow'), 5000).unref());
    await expect(withDeadline(BigInt(Date.now() + 30), () => slow)).rejects.toThrow(DEADLINE_ERROR);
    expect(await withDeadline(BigInt(Date.now() + 5000), async () => 'in time')).toBe('in time');
  });
});
