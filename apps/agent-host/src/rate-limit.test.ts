import { describe, expect, it } from 'vitest';
import { RateLimitedLog } from './rate-limit.js';

describe('RateLimitedLog (regression: one WARN line per refused frame, 200 000 lines in 2.5 s)', () => {
  it('logs each key at most once per interval and says how many it held back', () => {
    let now = 0;
    const lines: string[] = [];
    const log = new RateLimitedLog(10_000, () => now);
    for (let i = 0; i < 200_000; i++)
      log.log('refused:pid-mismatch', 'refused', (l) => lines.push(l));
    log.log('transport:ERR_FRAME_TOO_LARGE', 'too large', (l) => lines.push(l));
    expect(lines).toEqual(['refused', 'too large']);
    now = 10_000;
    log.log('refused:pid-mismatch', 'refused', (l) => lines.push(l));
    expect(lines[2]).toBe('refused (199999 more like it since the last one)');
  });
});

describe('WindowLimit (one collector flooding events cannot fill the sink)', () => {
  it('lets `limit` items per key per window through', async () => {
    const { WindowLimit } = await import('./rate-limit.js');
    let now = 0;
    const limit = new WindowLimit(3, 1000, () => now);
    const taken = Array.from({ length: 5 }, () => limit.take('a'));
    expect(taken).toEqual([true, true, true, false, false]);
    expect(limit.take('b')).toBe(true);
    now = 1000;
    expect(limit.take('a')).toBe(true);
  });
});
