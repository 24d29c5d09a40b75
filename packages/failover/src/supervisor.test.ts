import { EventEmitter } from 'node:events';
import { getPriority } from 'node:os';
import { FakeClock } from '@daemoneye/test-utils';
import { describe, expect, it } from 'vitest';
import {
  type CollectorProcessState,
  type SpawnFunction,
  type SupervisedChild,
  Supervisor,
  type SupervisorOptions,
} from './index.js';
import { terminateSignals } from './platform.js';

class FakeChild extends EventEmitter implements SupervisedChild {
  readonly pid: number | undefined;
  readonly stdout = null;
  readonly stderr = null;
  readonly signals: string[] = [];
  exited = false;
  /** When false, SIGTERM is ignored (a collector that does not stop politely). */
  honoursTerm = true;
  constructor(pid: number | undefined) {
    super();
    this.pid = pid;
  }
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.signals.push(signal);
    if (this.exited) return false;
    if (signal === 'SIGKILL' || (signal === 'SIGTERM' && this.honoursTerm)) {
      queueMicrotask(() => this.exit(null, signal));
    }
    return true;
  }
  exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    this.emit('exit', code, signal);
  }
}

function setup(options: SupervisorOptions = {}) {
  const clock = new FakeClock();
  const children: FakeChild[] = [];
  let nextPid = 1000;
  const spawn: SpawnFunction = () => {
    const child = new FakeChild(nextPid++);
    children.push(child);
    return child;
  };
  // Fake pids must never reach os.setPriority (they may be someone else's process).
  const supervisor = new Supervisor({
    clock,
    spawn,
    random: () => 0.5,
    setPriority: () => undefined,
    ...options,
  });
  const events: string[] = [];
  const delays: number[] = [];
  supervisor.on('collector-state-change', (e) => events.push(`${e.id}:${e.to}`));
  supervisor.on('restart-scheduled', (e) => delays.push(e.delayMs));
  supervisor.on('gave-up', (e) => events.push(`${e.id}:gave-up:${e.restarts}`));
  const last = () => {
    const child = children.at(-1);
    if (child === undefined) throw new Error('no child');
    return child;
  };
  return { clock, children, supervisor, events, delays, last };
}

const spec = { id: 'c1', command: 'collector' };
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Supervisor (fake processes, fake time)', () => {
  it('restarts with exponential backoff: 100, 200, 400, 800 ... capped at 30 s', () => {
    const { clock, supervisor, delays, last } = setup({ maxRestarts: 100 });
    supervisor.start(spec);
    for (let i = 0; i < 12; i++) {
      last().exit(1, null);
      const delay = delays.at(-1) ?? 0;
      clock.advance(delay - 1);
      expect(supervisor.info('c1')?.state).toBe('restarting');
      clock.advance(1);
      expect(supervisor.info('c1')?.state).toBe('starting');
    }
    expect(delays).toEqual([
      100, 200, 400, 800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000, 30_000,
    ]);
    expect(supervisor.info('c1')?.restarts).toBe(12);
  });

  it('resets the backoff after 30 s of stable (ready) running', () => {
    const { clock, supervisor, delays, last } = setup();
    supervisor.start(spec);
    last().exit(1, null);
    clock.advance(100);
    last().exit(1, null);
    clock.advance(200);
    expect(supervisor.markReady('c1')).toBe(true);
    clock.advance(30_000);
    last().exit(1, null);
    expect(delays).toEqual([100, 200, 100]);
    expect(supervisor.info('c1')?.consecutiveFailures).toBe(1);
  });

  it('with readiness disabled, 30 s of running counts as stable', () => {
    const { clock, supervisor, delays, last } = setup({ readyTimeoutMs: 0 });
    supervisor.start(spec);
    last().exit(1, null);
    clock.advance(100);
    clock.advance(30_000);
    expect(supervisor.info('c1')?.state).toBe('starting');
    last().exit(1, null);
    expect(delays).toEqual([100, 100]);
  });

  it('gives up after the restart intensity (5 in 60 s): state given-up and gave-up event; with giveUpCoolDownMs 0 it stays given up', () => {
    const { clock, children, supervisor, events, delays, last } = setup({ giveUpCoolDownMs: 0 });
    supervisor.start(spec);
    for (let i = 0; i < 5; i++) {
      last().exit(1, null);
      clock.advance(delays.at(-1) ?? 0);
    }
    expect(children).toHaveLength(6);
    last().exit(1, null);
    expect(supervisor.info('c1')).toMatchObject({
      state: 'given-up',
      giveUps: 1,
      retryAt: undefined,
    });
    expect(events.at(-1)).toBe('c1:gave-up:5');
    clock.advance(3_600_000);
    expect(children).toHaveLength(6);
    expect(clock.timerCount).toBe(0);
  });

  it('only counts restarts inside the intensity window', () => {
    const { clock, supervisor, delays, last } = setup({
      maxRestarts: 2,
      restartWindowMs: 1000,
      backoff: { initialDelayMs: 10, maxDelayMs: 10 },
    });
    supervisor.start(spec);
    for (let i = 0; i < 10; i++) {
      last().exit(1, null);
      clock.advance(delays.at(-1) ?? 0);
      clock.advance(600);
    }
    expect(supervisor.info('c1')?.state).toBe('starting');
    expect(supervisor.info('c1')?.restarts).toBe(10);
  });

  it('applies restart policies: transient stops on exit 0, temporary never restarts', () => {
    const { supervisor, children } = setup();
    supervisor.start({ ...spec, id: 't', restart: 'transient' });
    children[0]?.exit(0, null);
    expect(supervisor.info('t')?.state).toBe('stopped');
    supervisor.start({ ...spec, id: 't2', restart: 'transient' });
    children[1]?.exit(null, 'SIGSEGV');
    expect(supervisor.info('t2')?.state).toBe('restarting');
    supervisor.start({ ...spec, id: 'tmp', restart: 'temporary' });
    children[2]?.exit(3, null);
    expect(supervisor.info('tmp')?.state).toBe('stopped');
    supervisor.start({ ...spec, id: 'p' });
    children[3]?.exit(0, null);
    expect(supervisor.info('p')?.state).toBe('restarting');
  });

  it('kills a child that is not ready within readyTimeoutMs and counts a failed start', () => {
    const { clock, supervisor, last, children } = setup({ readyTimeoutMs: 1000 });
    const timeouts: string[] = [];
    supervisor.on('start-timeout', (e) => timeouts.push(e.error.code));
    supervisor.start({ ...spec, restart: 'transient' });
    clock.advance(999);
    expect(last().signals).toEqual([]);
    clock.advance(1);
    expect(last().signals).toEqual(['SIGKILL']);
    expect(timeouts).toEqual(['ERR_FAILOVER_START_TIMEOUT']);
    last().exit(0, null);
    // Even a clean exit after a failed start is abnormal: transient restarts it.
    expect(supervisor.info('c1')).toMatchObject({ state: 'restarting', failedStarts: 1 });
    clock.advance(100);
    expect(children).toHaveLength(2);
    expect(supervisor.markReady('c1', 12345)).toBe(false);
    expect(supervisor.markReady('c1', last().pid)).toBe(true);
    clock.advance(5000);
    expect(last().signals).toEqual([]);
  });

  // Regression: this took the host's platform, so on Windows it saw an immediate SIGKILL.
  it('POSIX stop(): SIGTERM, then SIGKILL after stopGraceMs; no restart', async () => {
    const { clock, supervisor, last, events } = setup({ stopGraceMs: 2000, platform: 'linux' });
    supervisor.start(spec);
    supervisor.markReady('c1');
    last().honoursTerm = false;
    const stopped = supervisor.stop('c1');
    expect(last().signals).toEqual(['SIGTERM']);
    expect(supervisor.info('c1')?.state).toBe('stopping');
    clock.advance(1999);
    expect(last().signals).toEqual(['SIGTERM']);
    clock.advance(1);
    expect(last().signals).toEqual(['SIGTERM', 'SIGKILL']);
    await stopped;
    const states: CollectorProcessState[] = ['starting', 'running', 'stopping', 'stopped'];
    expect(events).toEqual(states.map((s) => `c1:${s}`));
    expect(clock.timerCount).toBe(0);
  });

  it('win32: stop() terminates at once (no graceful signal)', async () => {
    const { supervisor, last } = setup({ platform: 'win32' });
    supervisor.start(spec);
    await supervisor.stop('c1');
    expect(last().signals).toEqual(['SIGKILL']);
  });

  it('kill() force-kills a hung child and restarts it like a crash', async () => {
    const { clock, supervisor, children } = setup();
    const exits: string[] = [];
    supervisor.on('exit', (e) => exits.push(`${e.pid}:${e.signal}:${e.expected}`));
    supervisor.start(spec);
    supervisor.markReady('c1');
    expect(supervisor.kill('c1')).toBe(true);
    await flush();
    expect(exits).toEqual(['1000:SIGKILL:false']);
    expect(supervisor.info('c1')?.state).toBe('restarting');
    clock.advance(100);
    expect(children).toHaveLength(2);
    expect(supervisor.kill('c1')).toBe(true);
    expect(() => supervisor.kill('x')).toThrow(
      expect.objectContaining({ code: 'ERR_FAILOVER_UNKNOWN_COLLECTOR' }),
    );
  });

  it('close() stops every child, cancels pending restarts and refuses new starts', async () => {
    const { clock, supervisor, children } = setup({ stopGraceMs: 50 });
    supervisor.start({ ...spec, id: 'a' });
    supervisor.start({ ...spec, id: 'b' });
    supervisor.start({ ...spec, id: 'c' });
    children[1]?.exit(1, null);
    const stubborn = children[2];
    if (stubborn) stubborn.honoursTerm = false;
    const closing = supervisor.close();
    expect(supervisor.close()).toBe(closing);
    clock.advance(50);
    await closing;
    expect(children.every((c) => c.exited)).toBe(true);
    expect(supervisor.list().map((i) => i.state)).toEqual(['stopped', 'stopped', 'stopped']);
    clock.advance(60_000);
    expect(children).toHaveLength(3);
    expect(() => supervisor.start({ ...spec, id: 'd' })).toThrow(
      expect.objectContaining({ code: 'ERR_FAILOVER_CLOSED' }),
    );
    await expect(supervisor.stop('zzz')).rejects.toMatchObject({
      code: 'ERR_FAILOVER_UNKNOWN_COLLECTOR',
    });
  });

  it('reports spawn failures as failed starts and restarts per policy', () => {
    const clock = new FakeClock();
    let calls = 0;
    const supervisor = new Supervisor({
      clock,
      random: () => 0.5,
      niceness: null,
      spawn: () => {
        calls++;
        if (calls === 1) throw new Error('EACCES');
        const child = new FakeChild(undefined);
        queueMicrotask(() => child.emit('error', new Error('spawn x ENOENT')));
        return child;
      },
    });
    const errors: string[] = [];
    supervisor.on('spawn-error', (e) => errors.push(e.error.code));
    supervisor.start(spec);
    expect(supervisor.info('c1')).toMatchObject({ state: 'restarting', failedStarts: 1 });
    expect(errors).toEqual(['ERR_FAILOVER_SPAWN_FAILED']);
  });

  it('rejects duplicates, replaces stopped collectors, validates options', async () => {
    const { supervisor } = setup();
    supervisor.start(spec);
    expect(() => supervisor.start(spec)).toThrow(
      expect.objectContaining({ code: 'ERR_FAILOVER_DUPLICATE_COLLECTOR' }),
    );
    await supervisor.stop('c1');
    supervisor.start(spec);
    expect(supervisor.info('c1')?.state).toBe('starting');
    expect(() => supervisor.markReady('nope')).toThrow(
      expect.objectContaining({ code: 'ERR_FAILOVER_UNKNOWN_COLLECTOR' }),
    );
    // @ts-expect-error bad args on purpose
    expect(() => supervisor.start({ id: 'x', command: 'y', args: [1] })).toThrow(TypeError);
  });
});

describe('Supervisor re-entrancy (regressions found in review)', () => {
  it('start() from a listener during close() is refused: no child outlives close()', async () => {
    const { supervisor, children } = setup();
    supervisor.start(spec);
    const refused: string[] = [];
    supervisor.on('collector-state-change', (e) => {
      if (e.to !== 'stopping') return;
      try {
        supervisor.start({ id: 'c2', command: 'collector' });
      } catch (error) {
        refused.push(error instanceof Error && 'code' in error ? String(error.code) : 'other');
      }
    });
    await supervisor.close();
    expect(refused).toEqual(['ERR_FAILOVER_CLOSED']);
    expect(children).toHaveLength(1);
    expect(children.every((c) => c.exited)).toBe(true);
  });

  it('a listener that stops the slot as it enters starting prevents the spawn', async () => {
    const { clock, supervisor, children } = setup();
    supervisor.start(spec);
    const first = children[0];
    supervisor.on('collector-state-change', (e) => {
      if (e.to === 'starting') void supervisor.stop(e.id);
    });
    first?.exit(1, null); // crash: a restart is scheduled
    clock.advance(60_000);
    await flush();
    expect(children).toHaveLength(1);
    expect(supervisor.info('c1')?.state).toBe('stopped');
  });

  it('a Hello that arrives after the start timeout does not make the dying child ready', () => {
    const { clock, supervisor, last } = setup({ readyTimeoutMs: 1000 });
    supervisor.start(spec);
    const child = last();
    child.honoursTerm = false;
    clock.advance(1000); // start timeout: the child is being killed
    expect(supervisor.markReady('c1', child.pid)).toBe(false);
  });
});

describe('Supervisor give-up and cool-down (issue 11)', () => {
  function crashLoop(ctx: ReturnType<typeof setup>, crashes: number): void {
    for (let i = 0; i < crashes; i++) {
      ctx.last().exit(1, null);
      ctx.clock.advance(ctx.delays.at(-1) ?? 0);
    }
  }

  it('retries a given-up collector after 60 s, doubling to 10 min, with fresh intensity each time', () => {
    const ctx = setup();
    const { clock, supervisor, children, last } = ctx;
    const gaveUp: Array<number | undefined> = [];
    const retries: number[] = [];
    supervisor.on('gave-up', (e) => gaveUp.push(e.retryInMs));
    supervisor.on('give-up-retry', (e) => retries.push(e.coolDownMs));
    const transitions: string[] = [];
    supervisor.on('collector-state-change', (e) => {
      if (e.to === 'given-up' || e.from === 'given-up')
        transitions.push(`${e.from}->${e.to}:${e.reason}`);
    });
    supervisor.start(spec);
    const expected = [60_000, 120_000, 240_000, 480_000, 600_000, 600_000];
    for (const coolDown of expected) {
      crashLoop(ctx, 5);
      last().exit(1, null); // the 6th crash in the window: intensity reached
      expect(supervisor.info('c1')?.state).toBe('given-up');
      expect(supervisor.info('c1')?.retryAt).toBe(clock.now() + coolDown);
      const spawned = children.length;
      clock.advance(coolDown - 1);
      expect(children).toHaveLength(spawned);
      clock.advance(1);
      expect(children).toHaveLength(spawned + 1);
      expect(supervisor.info('c1')).toMatchObject({ state: 'starting', consecutiveFailures: 0 });
    }
    expect(gaveUp).toEqual(expected);
    expect(retries).toEqual(expected);
    expect(transitions.slice(0, 2)).toEqual([
      'starting->given-up:intensity-reached',
      'given-up->starting:cool-down-elapsed',
    ]);
  });

  it('a stable run after a retry resets the cool-down to 60 s', () => {
    const ctx = setup();
    const { clock, supervisor, last } = ctx;
    supervisor.start(spec);
    crashLoop(ctx, 5);
    last().exit(1, null);
    clock.advance(60_000);
    crashLoop(ctx, 5);
    last().exit(1, null);
    expect(supervisor.info('c1')?.giveUps).toBe(2);
    clock.advance(120_000);
    expect(supervisor.markReady('c1')).toBe(true);
    clock.advance(30_000); // resetAfterMs of stable running
    crashLoop(ctx, 5);
    last().exit(1, null);
    expect(supervisor.info('c1')).toMatchObject({ state: 'given-up', giveUps: 1 });
    expect(supervisor.info('c1')?.retryAt).toBe(clock.now() + 60_000);
  });

  it('stop() and close() cancel a planned retry; start() replaces a given-up collector', async () => {
    const ctx = setup({ giveUpCoolDownMs: 1000 });
    const { clock, supervisor, children, last } = ctx;
    supervisor.start(spec);
    crashLoop(ctx, 5);
    last().exit(1, null);
    await supervisor.stop('c1');
    expect(supervisor.info('c1')).toMatchObject({ state: 'stopped', retryAt: undefined });
    const spawned = children.length;
    clock.advance(10_000);
    expect(children).toHaveLength(spawned);
    supervisor.start(spec);
    crashLoop(ctx, 5);
    last().exit(1, null);
    expect(supervisor.info('c1')?.state).toBe('given-up');
    supervisor.start(spec); // replaced with fresh counters
    expect(supervisor.info('c1')).toMatchObject({ state: 'starting', giveUps: 0, restarts: 0 });
    await supervisor.close();
    expect(clock.timerCount).toBe(0);
  });
});

describe('Supervisor lifecycle, priority and kill reasons', () => {
  it('has a read-only state with state-change {from, to, reason} and one close promise', async () => {
    const { supervisor } = setup();
    const changes: string[] = [];
    supervisor.on('state-change', (e) => changes.push(`${e.from}->${e.to}:${e.reason}`));
    expect(supervisor.state).toBe('open');
    supervisor.start(spec);
    const closing = supervisor.close();
    expect(supervisor.state).toBe('closing');
    expect(supervisor.close()).toBe(closing);
    await closing;
    expect(supervisor.state).toBe('closed');
    expect(changes).toEqual(['open->closing:close', 'closing->closed:close']);
  });

  it('stop({ signal }): aborting force-kills at once and rejects ERR_FAILOVER_ABORTED', async () => {
    const { supervisor, last } = setup({ stopGraceMs: 60_000 });
    supervisor.start(spec);
    last().honoursTerm = false;
    const controller = new AbortController();
    const stopping = supervisor.stop('c1', { signal: controller.signal });
    controller.abort(new Error('hurry'));
    await expect(stopping).rejects.toMatchObject({ code: 'ERR_FAILOVER_ABORTED' });
    // Windows has no graceful signal from outside (SIGTERM is TerminateProcess): SIGKILL first.
    expect(last().signals).toEqual([
      terminateSignals(process.platform).graceful ?? 'SIGKILL',
      'SIGKILL',
    ]);
    await flush();
    expect(supervisor.info('c1')?.state).toBe('stopped');
    await expect(supervisor.stop('c1', { signal: controller.signal })).rejects.toMatchObject({
      code: 'ERR_FAILOVER_ABORTED',
    });
  });

  it('sets the niceness asked (spec over option) and reports setPriority errors as events', () => {
    const calls: string[] = [];
    const errors: string[] = [];
    const { supervisor } = setup({
      niceness: 10,
      setPriority: (pid, n) => {
        calls.push(`${pid}:${n}`);
        if (n < 0) throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
      },
    });
    supervisor.on('priority-error', (e) => errors.push(`${e.id}:${e.niceness}:${e.error.code}`));
    supervisor.start(spec);
    supervisor.start({ ...spec, id: 'c2', niceness: -5 });
    expect(calls).toEqual(['1000:10', '1001:-5']);
    expect(errors).toEqual(['c2:-5:ERR_FAILOVER_SET_PRIORITY_FAILED']);
    expect(supervisor.info('c2')?.state).toBe('starting');
  });

  it('defaults to niceness 10 (or the agent’s own if higher); null leaves the priority alone', () => {
    const calls: string[] = [];
    const setPriority = (pid: number, n: number) => calls.push(`${pid}:${n}`);
    const { supervisor } = setup({ setPriority });
    supervisor.start(spec);
    supervisor.start({ ...spec, id: 'c2', niceness: null });
    expect(calls).toEqual([`1000:${Math.max(10, getPriority())}`]);
    const inherit = setup({ setPriority, niceness: null }).supervisor;
    inherit.start(spec);
    expect(calls).toHaveLength(1);
  });

  it('kill(id, reason) carries the reason on the exit event and lastExit', async () => {
    const { supervisor } = setup();
    const exits: Array<string | undefined> = [];
    supervisor.on('exit', (e) => exits.push(e.killedFor));
    supervisor.start(spec);
    supervisor.markReady('c1');
    supervisor.kill('c1', 'over-memory');
    await flush();
    expect(exits).toEqual(['over-memory']);
    expect(supervisor.info('c1')?.lastExit?.killedFor).toBe('over-memory');
  });

  it('a throwing listener is handed to onCallbackError and the restart still happens', () => {
    const seen: string[] = [];
    const { supervisor, clock, children, last } = setup({
      onCallbackError: (e) => seen.push(e.code),
    });
    supervisor.on('exit', () => {
      throw new Error('listener bug');
    });
    supervisor.start(spec);
    last().exit(1, null);
    expect(seen).toEqual(['ERR_FAILOVER_CALLBACK_FAILED']);
    clock.advance(100);
    expect(children).toHaveLength(2);
  });
});

describe('Supervisor start timeout against the agent’s own loop stalls', () => {
  it('a ready timer that fires over 1 s late waits 1 s more for the Hello queued behind the stall', () => {
    const fake = new FakeClock();
    let pinned: number | undefined;
    const clock = {
      now: () => pinned ?? fake.now(),
      setTimeout: (cb: () => void, ms: number) =>
        fake.setTimeout(cb, ms + (pinned === undefined ? 0 : pinned - fake.now())),
      clearTimeout: (h: unknown) => fake.clearTimeout(h),
    };
    const { supervisor, last } = setup({ clock, readyTimeoutMs: 1000 });
    const timeouts: string[] = [];
    supervisor.on('start-timeout', (e) => timeouts.push(e.id));
    supervisor.start(spec);
    supervisor.start({ ...spec, id: 'c2' });
    // The loop blocks 3 s: the ready timers (due at 1000) fire at 3000.
    pinned = 3000;
    fake.advance(3000);
    pinned = undefined;
    expect(timeouts).toEqual([]);
    expect(supervisor.markReady('c1', 1000)).toBe(true); // its Hello, read after the stall
    fake.advance(1000);
    expect(timeouts).toEqual(['c2']); // really silent: timed out one grace later
    expect(last().signals).toEqual(['SIGKILL']);
  });
});
