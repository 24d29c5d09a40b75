import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { SpawnFunction, SupervisedChild } from '@daemoneye/failover';
import { type CollectorClient, createCollectorClient } from '@daemoneye/ipc-transport';
import type { TaskAssignment } from '@daemoneye/proto';
import { FakeClock, type TempDir, tempDir, testEndpoint, until } from '@daemoneye/test-utils';
import {
  type CollectorSpec,
  type Coordinator,
  type CoordinatorOptions,
  createCoordinator,
} from '../../src/index.js';

/** How a fake collector behaves. */
/** `flood`: answers every task with 200 distinct results, never final. */
/** `forge`: answers like `answer`, but its `shared` result carries other attributes. */
export type PeerMode =
  | 'answer'
  | 'hold'
  | 'silent'
  | 'crash'
  | 'wrong-pid'
  | 'mute'
  | 'flood'
  | 'forge';

/** A fake child process: the "process" is an in-process CollectorClient with a made-up pid. */
export class FakeChild extends EventEmitter implements SupervisedChild {
  readonly stdout = null;
  readonly stderr = null;
  readonly signals: string[] = [];
  client: CollectorClient | undefined;
  exited = false;
  constructor(readonly pid: number) {
    super();
  }
  kill(signal?: NodeJS.Signals): boolean {
    if (this.exited) return false;
    this.signals.push(signal ?? 'SIGTERM');
    this.exit(null, signal ?? 'SIGTERM');
    return true;
  }
  /** The process ends: its connection drops, then the exit is seen. */
  exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    const client = this.client;
    void (client ? client.close('gone') : Promise.resolve()).then(() =>
      setImmediate(() => this.emit('exit', code, signal)),
    );
  }
}

/** Spawns fake collectors; `modes` says how each id behaves (default `answer`). */
export class FakePeers {
  readonly children = new Map<string, FakeChild[]>();
  readonly modes = new Map<string, PeerMode>();
  /** Tasks each collector received. */
  readonly tasks = new Map<string, TaskAssignment[]>();
  #nextPid = 100_000;
  constructor(readonly clock: FakeClock) {}

  readonly spawn: SpawnFunction = (_command, _args, options) => {
    const env = options.env ?? {};
    const id = env.DAEMONEYE_COLLECTOR_ID ?? '';
    const child = new FakeChild(this.#nextPid++);
    const list = this.children.get(id) ?? [];
    list.push(child);
    this.children.set(id, list);
    const mode = this.modes.get(id) ?? 'answer';
    if (mode === 'crash') {
      setImmediate(() => child.exit(1, null));
      return child;
    }
    if (mode === 'silent') return child;
    const client = createCollectorClient({
      endpoint: env.DAEMONEYE_ENDPOINT ?? '',
      token: readFileSync(env.DAEMONEYE_TOKEN_FILE ?? ''),
      collectorId: id,
      kind: 'procmond',
      pid: mode === 'wrong-pid' ? child.pid + 1 : child.pid,
      taskKinds: ['enumerate', 'integrity'],
      reconnect: false,
      // A mute peer's clock never moves: it stays connected and never heartbeats (a hung process).
      clock: mode === 'mute' ? new FakeClock(0) : this.clock,
      onTask: (task) => {
        const seen = this.tasks.get(id) ?? [];
        seen.push(task);
        this.tasks.set(id, seen);
        const at = BigInt(Date.now());
        if (this.modes.get(id) === 'flood') {
          const many = Array.from({ length: 200 }, (_, i) => ({
            fingerprint: `flood:${id}:${i}`,
            kind: 'process',
            subject: `${i}`,
            attributes: {},
            collectedAtUnixMs: at,
          }));
          client.sendResult(task, many, { final: false });
          return;
        }
        const forged = this.modes.get(id) === 'forge';
        if (!['answer', 'mute', 'forge'].includes(this.modes.get(id) ?? 'answer')) return;
        const shared = {
          fingerprint: 'shared',
          kind: 'process',
          subject: 's',
          attributes: forged ? { executable: '/tmp/evil' } : {},
          collectedAtUnixMs: at,
        };
        const own = {
          fingerprint: `own:${id}`,
          kind: 'process',
          subject: id,
          attributes: {},
          collectedAtUnixMs: at,
        };
        client.sendResult(task, [shared, own], { final: true });
      },
    });
    child.client = client;
    client.connect().catch(() => undefined);
    return child;
  };

  /** The live (last spawned, not exited) child of `id`. */
  child(id: string): FakeChild | undefined {
    const last = this.children.get(id)?.at(-1);
    return last?.exited ? undefined : last;
  }
}

/** One coordinator on fake time with fake collector processes, in a fresh temp dir. */
export function fakeContext() {
  let dir: TempDir | undefined;
  let coordinator: Coordinator | undefined;
  let clock = new FakeClock(1000);
  let peers = new FakePeers(clock);
  const specs = (ids: readonly string[]): CollectorSpec[] =>
    ids.map((id) => ({ id, kind: 'procmond', command: 'fake-collector' }));
  return {
    get clock(): FakeClock {
      return clock;
    },
    get peers(): FakePeers {
      return peers;
    },
    async setup(): Promise<void> {
      dir = await tempDir('de-coord-unit-');
      clock = new FakeClock(1000);
      peers = new FakePeers(clock);
    },
    make(ids: readonly string[], options: Partial<CoordinatorOptions> = {}): Coordinator {
      if (dir === undefined) throw new Error('setup() first');
      coordinator = createCoordinator({
        endpoint: testEndpoint(dir.dir),
        collectors: specs(ids),
        heartbeatIntervalMs: 1000,
        clock,
        spawn: peers.spawn,
        resourceSampler: async () => undefined,
        failover: { backoff: { initialDelayMs: 100, jitter: 0 } },
        ...options,
      });
      return coordinator;
    },
    /** Advances fake time in small steps, letting real socket I/O run in between. */
    async advance(ms: number, stepMs = 100): Promise<void> {
      for (let done = 0; done < ms; done += stepMs) {
        clock.advance(Math.min(stepMs, ms - done));
        await new Promise((r) => setImmediate(r));
        await new Promise((r) => setTimeout(r, 1));
      }
    },
    until,
    async teardown(): Promise<void> {
      const c = coordinator;
      coordinator = undefined;
      if (c) {
        const closing = c.close();
        // Stop grace timers run on fake time: move it along until the close is done.
        let done = false;
        void closing.then(() => {
          done = true;
        });
        for (let i = 0; i < 200 && !done; i++) {
          clock.advance(100);
          await new Promise((r) => setTimeout(r, 2));
        }
        await closing;
      }
      for (const list of peers.children.values())
        for (const child of list) await child.client?.close().catch(() => undefined);
      await dir?.cleanup();
    },
  };
}
