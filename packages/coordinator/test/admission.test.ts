import { readFileSync } from 'node:fs';
import { createCollectorClient, RejectedError } from '@daemoneye/ipc-transport';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { realContext, spec } from './helpers/context.js';

const ctx = realContext();
beforeEach(() => ctx.setup());
afterEach(() => ctx.teardown());

describe('admission in the handshake (real collector, real sockets)', () => {
  it('an impostor holding the token gets RejectedError with the code and is never admitted', async () => {
    const c = ctx.make({ collectors: [spec('p1')], heartbeatIntervalMs: 200 });
    const ready: string[] = [];
    const refused: string[] = [];
    c.on('collector-ready', (e) => ready.push(`${e.id} ${e.pid}`));
    c.on('collector-refused', (e) => refused.push(e.reason));
    expect((await c.start()).ready).toEqual(['p1']);
    const token = readFileSync(c.tokenFile);
    const attempt = async (collectorId: string, kind: string): Promise<unknown> => {
      const client = createCollectorClient({
        endpoint: c.endpoint,
        token,
        collectorId,
        kind,
        // This test process: not a pid the coordinator started.
        pid: process.pid,
        taskKinds: ['enumerate'],
        reconnect: false,
      });
      try {
        await client.connect();
        return 'welcomed';
      } catch (error) {
        return error;
      } finally {
        await client.close().catch(() => undefined);
      }
    };
    const codes: string[] = [];
    for (const [id, kind] of [
      ['p1', 'procmond'],
      ['ghost', 'procmond'],
      ['p1', 'netmond'],
    ] as const) {
      const error = await attempt(id, kind);
      expect(error).toBeInstanceOf(RejectedError);
      if (error instanceof RejectedError) codes.push(error.rejectCode);
    }
    expect(codes).toEqual(['ERR_PID_MISMATCH', 'ERR_UNKNOWN_COLLECTOR', 'ERR_WRONG_KIND']);
    expect(refused).toEqual(['pid-mismatch', 'unknown-collector', 'wrong-kind']);
    // Never admitted: only the real p1 was ready, it stays connected and the refusals are counted.
    expect(ready).toHaveLength(1);
    const s = c.status();
    expect(s.refusedCollectors).toBe(3);
    expect(s.collectors[0]?.state).toBe('healthy');
    expect(s.transportErrors.ERR_ADMISSION_REFUSED).toBeUndefined();
    expect((await c.fanOut({ kind: 'enumerate' })).complete).toBe(true);
  });
});
