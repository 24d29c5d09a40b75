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
