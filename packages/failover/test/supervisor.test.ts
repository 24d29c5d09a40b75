import { getPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Supervisor } from '../src/index.js';
import { FIXTURE, waitFor } from './helpers/harness.js';

const HOG = fileURLToPath(new URL('./fixtures/hog.mjs', import.meta.url));
const posix = process.platform !== 'win32';
let supervisor: Supervisor | undefined;

afterEach(async () => {
  await supervisor?.close();
  supervisor = undefined;
});

describe('Supervisor with real processes', () => {
  it('a crash-looping collector gives up, then is retried after the cool-down (issue 11)', async () => {
    supervisor = new Supervisor({
      maxRestarts: 2,
      restartWindowMs: 60_000,
      backoff: { initialDelayMs: 10, maxDelayMs: 10, jitter: 0 },
      giveUpCoolDownMs: 300,
      readyTimeoutMs: 0,
    });
    const s = supervisor;
    const spawns: number[] = [];
    s.on('spawn', (e) => spawns.push(e.pid));
    const gaveUp = waitFor(s, 'gave-up');
    s.start({
      id: 'crashy',
      command: process.execPath,
      args: [FIXTURE, 'unused', 'crashy', 'crash'],
    });
    const first = await gaveUp;
    expect(first).toMatchObject({ id: 'crashy', restarts: 2, giveUps: 1, retryInMs: 300 });
    expect(s.info('crashy')?.state).toBe('given-up');
    expect(spawns).toHaveLength(3);
    // Retried after the cool-down with a fresh intensity window: three more spawns, then given
    // up again with the cool-down doubled.
    const second = await waitFor(s, 'gave-up', () => true, 10_000);
    expect(second).toMatchObject({ giveUps: 2, retryInMs: 600 });
    expect(spawns).toHaveLength(6);
  });

  it('sets the niceness asked on the spawned child (os.getPriority)', async () => {
    // POSIX keeps any niceness; Windows has six priority classes, and libuv maps a niceness to one
    // (10..18 BELOW_NORMAL, 19 IDLE), which getPriority reports back as 10 and 19.
    const [first, second] = posix ? [7, 12] : [10, 19];
    supervisor = new Supervisor({ niceness: first, readyTimeoutMs: 0 });
    const s = supervisor;
    const spawned = waitFor(s, 'spawn');
    const errors: unknown[] = [];
    s.on('priority-error', (e) => errors.push(e.error));
    s.start({ id: 'idle', command: process.execPath, args: [HOG, '0'] });
    const { pid } = await spawned;
    expect(getPriority(pid)).toBe(first);
    const other = waitFor(s, 'spawn', (e) => e.id === 'nicer');
    s.start({ id: 'nicer', command: process.execPath, args: [HOG, '0'], niceness: second });
    expect(getPriority((await other).pid)).toBe(second);
    expect(errors).toEqual([]);
  });
});
