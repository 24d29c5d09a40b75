import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import {
  type AggregationLimits,
  type Coordinator,
  type CoordinatorOptions,
  createCoordinator,
} from '@daemoneye/coordinator';
import { Broker, encodeFrame, FrameDecoder } from '@daemoneye/ipc-transport';

/** Absolute path of a compiled script next to this module in `dist/`. */
export function distScript(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

/** A private 0700 directory for sockets; removed by the returned function. */
export async function tempDir(
  prefix = 'de-bench-',
): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Node flags for every collector process (BENCH_CHILD_NODE_ARGS, e.g. for --cpu-prof). */
function childNodeArgs(): string[] {
  return (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
}

/** Spawns `dist/collector.js` in a mode, with `process.execPath`. */
export function spawnCollector(
  mode: 'transport' | 'ipc' | 'raw' | 'floor',
  config: { collectorId: string; endpoint?: string; frameBytes?: number },
): ChildProcess {
  const stdio: ('ignore' | 'inherit' | 'ipc')[] =
    mode === 'ipc' ? ['ignore', 'ignore', 'inherit', 'ipc'] : ['ignore', 'ignore', 'inherit'];
  // BENCH_CHILD_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the collectors.
  const args = [...childNodeArgs(), distScript('collector.js'), mode, JSON.stringify(config)];
  return spawn(process.execPath, args, {
    stdio,
    serialization: 'json',
  });
}

/** Kills children and waits for their exit (bounded). */
export async function killAll(
  children: readonly ChildProcess[],
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill(signal);
      await Promise.race([exited, delay(2000)]);
    }),
  );
}

/** Waits up to `ms` for every child to exit. */
async function exitedWithin(children: readonly ChildProcess[], ms: number): Promise<void> {
  const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
  await Promise.race([Promise.all(running.map((child) => once(child, 'exit'))), delay(ms)]);
}

/** Resolves after `ms`, without keeping the process alive. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Rejects when `promise` has not settled within `ms` (names `what` in the error). */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A Broker on a fresh endpoint with K transport collectors connected to it. */
export interface TransportFleet {
  readonly broker: Broker;
  readonly ids: readonly string[];
  readonly children: ChildProcess[];
  readonly endpoint: string;
  close(): Promise<void>;
}

/** Starts a broker and K collector processes; resolves when all have said Hello. */
export async function startTransportFleet(
  k: number,
  options: { heartbeatIntervalMs?: number; prefix?: string } = {},
): Promise<TransportFleet> {
  const temp = await tempDir();
  const endpoint = join(temp.dir, 'agent.sock');
  const broker = new Broker({
    endpoint,
    ...(options.heartbeatIntervalMs === undefined
      ? {}
      : { heartbeatIntervalMs: options.heartbeatIntervalMs }),
  });
  await broker.listen();
  const ids = Array.from({ length: k }, (_, i) => `${options.prefix ?? 'bench'}-${i + 1}`);
  const pending = new Set(ids);
  const connected = new Promise<void>((resolve) => {
    const onConnected = (info: { collectorId: string }): void => {
      pending.delete(info.collectorId);
      if (pending.size === 0) {
        broker.off('collector-connected', onConnected);
        resolve();
      }
    };
    broker.on('collector-connected', onConnected);
  });
  const children = ids.map((collectorId) => spawnCollector('transport', { collectorId, endpoint }));
  const fleet: TransportFleet = {
    broker,
    ids,
    children,
    endpoint,
    async close() {
      // Closing the broker lets collectors exit on their own (and write a --cpu-prof profile).
      await broker.close();
      await exitedWithin(children, 1000);
      await killAll(children);
      await temp.remove();
    },
  };
  try {
    await within(connected, 20_000, `${k} transport collectors connecting`);
  } catch (error) {
    await fleet.close();
    throw error;
  }
  return fleet;
}

/** K baseline children speaking JSON over the child_process IPC channel. */
export interface IpcFleet {
  readonly ids: readonly string[];
  readonly children: ChildProcess[];
  close(): Promise<void>;
}

/** Spawns K baseline children; resolves when each has sent `ready`. */
export async function startIpcFleet(k: number): Promise<IpcFleet> {
  const ids = Array.from({ length: k }, (_, i) => `ipc-${i + 1}`);
  const children = ids.map((collectorId) => spawnCollector('ipc', { collectorId }));
  const fleet: IpcFleet = {
    ids,
    children,
    async close() {
      for (const child of children) if (child.connected) child.disconnect();
      await exitedWithin(children, 1000);
      await killAll(children);
    },
  };
  try {
    await within(
      Promise.all(children.map((child) => once(child, 'message'))),
      20_000,
      `${k} child_process collectors starting`,
    );
  } catch (error) {
    await fleet.close();
    throw error;
  }
  return fleet;
}

/** One raw-socket peer process: echo and one-way probes with the transport's framing. */
export class RawPeer {
  private readonly decoder = new FrameDecoder();
  private waiter: ((received: { frame: Buffer; at: bigint }) => void) | undefined;

  private constructor(
    private readonly server: Server,
    private readonly socket: Socket,
    private readonly child: ChildProcess,
    private readonly removeDir: () => Promise<void>,
  ) {
    socket.setNoDelay?.(true);
    socket.on('data', (chunk: Buffer) => {
      const at = process.hrtime.bigint();
      for (const frame of this.decoder.push(chunk)) {
        const waiter = this.waiter;
        this.waiter = undefined;
        waiter?.({ frame, at });
      }
    });
  }

  /** Listens on a fresh socket and spawns the peer process. */
  static async start(): Promise<RawPeer> {
    const temp = await tempDir();
    const path = join(temp.dir, 'raw.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const accepted = once(server, 'connection');
    const child = spawnCollector('raw', { collectorId: 'raw', endpoint: path });
    const [socket] = await within(accepted, 20_000, 'raw peer connecting');
    if (!isSocket(socket)) throw new Error('raw peer: no socket');
    return new RawPeer(server, socket, child, temp.remove);
  }

  private next(): Promise<{ frame: Buffer; at: bigint }> {
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** One echo round trip of `payload` (which must not start with 'O'); nanoseconds. */
  async roundTrip(payload: Uint8Array): Promise<bigint> {
    const reply = this.next();
    const start = process.hrtime.bigint();
    this.socket.write(encodeFrame(payload));
    const { at } = await reply;
    return at - start;
  }

  /** Asks the peer to write its clock; returns peer write -> frame decoded here, in nanoseconds. */
  async oneWay(): Promise<bigint> {
    const reply = this.next();
    this.socket.write(encodeFrame(PROBE));
    const { frame, at } = await reply;
    return at - frame.readBigUInt64BE(1);
  }

  async close(): Promise<void> {
    this.socket.destroy();
    await killAll([this.child]);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.removeDir();
  }
}

const PROBE = Uint8Array.of(0x4f);

function isSocket(value: unknown): value is Socket {
  return typeof value === 'object' && value !== null && 'write' in value && 'destroy' in value;
}

/** The agent's own path: a coordinator that spawned K transport collectors of kind `bench`. */
export interface CoordinatorFleet {
  readonly coordinator: Coordinator;
  readonly ids: readonly string[];
  close(): Promise<void>;
}

/**
 * `createCoordinator` with K collectors (`dist/collector.js transport`, spawned by the coordinator
 * itself with the collector contract's environment); resolves when every one was admitted.
 */
export async function startCoordinatorFleet(
  k: number,
  options: {
    prefix?: string;
    heartbeatIntervalMs?: number;
    aggregation?: AggregationLimits;
    extra?: Partial<CoordinatorOptions>;
  } = {},
): Promise<CoordinatorFleet> {
  const temp = await tempDir();
  const ids = Array.from({ length: k }, (_, i) => `${options.prefix ?? 'bench'}-${i + 1}`);
  const coordinator = createCoordinator({
    endpoint: join(temp.dir, 'agent.sock'),
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 1000,
    startTimeoutMs: 30_000,
    stopGraceMs: 1000,
    collectors: ids.map((id) => ({
      id,
      kind: 'bench',
      command: process.execPath,
      args: [...childNodeArgs(), distScript('collector.js'), 'transport'],
    })),
    ...(options.aggregation === undefined ? {} : { aggregation: options.aggregation }),
    ...options.extra,
  });
  // start() adds a few listeners per collector to the coordinator itself (40 collectors in the
  // failover scenario); bench rounds add their own. Not a leak: silence Node's warning at 10.
  coordinator.setMaxListeners(0);
  const fleet: CoordinatorFleet = {
    coordinator,
    ids,
    async close() {
      // Graceful: SIGTERM, the collectors exit on their own (and write a --cpu-prof profile).
      await coordinator.close();
      await temp.remove();
    },
  };
  try {
    const { missing } = await within(coordinator.start(), 40_000, `${k} collectors starting`);
    if (missing.length > 0) throw new Error(`collectors not admitted: ${missing.join(', ')}`);
  } catch (error) {
    await fleet.close();
    throw error;
  }
  return fleet;
}

/**
 * The raw floor at K: K raw child processes on their own sockets, each writing one pre-encoded
 * frame of `frameBytes` on a trigger. One round: trigger all, then wait until all K frames are
 * read; the sample is the latest child write stamp -> the moment the K-th frame was read.
 */
export class FloorFleet {
  private readonly decoders: FrameDecoder[];
  private waiting = 0;
  private lastWriteNs = 0n;
  private done: ((at: bigint) => void) | undefined;

  private constructor(
    private readonly server: Server,
    private readonly sockets: Socket[],
    private readonly children: ChildProcess[],
    private readonly removeDir: () => Promise<void>,
  ) {
    this.decoders = sockets.map(() => new FrameDecoder());
    sockets.forEach((socket, index) => {
      socket.setNoDelay?.(true);
      const decoder = this.decoders[index];
      socket.on('data', (chunk: Buffer) => {
        if (!decoder) return;
        for (const frame of decoder.push(chunk)) {
          const at = process.hrtime.bigint();
          const sent = frame.readBigUInt64BE(1);
          if (sent > this.lastWriteNs) this.lastWriteNs = sent;
          if (--this.waiting === 0) this.done?.(at);
        }
      });
    });
  }

  static async start(k: number, frameBytes: number): Promise<FloorFleet> {
    const temp = await tempDir();
    const path = join(temp.dir, 'floor.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const sockets: Socket[] = [];
    const accepted = new Promise<void>((resolve) => {
      server.on('connection', (socket: Socket) => {
        sockets.push(socket);
        if (sockets.length === k) resolve();
      });
    });
    const children = Array.from({ length: k }, (_, i) =>
      spawnCollector('floor', { collectorId: `floor-${i + 1}`, endpoint: path, frameBytes }),
    );
    await within(accepted, 20_000, `${k} floor peers connecting`);
    return new FloorFleet(server, sockets, children, temp.remove);
  }

  /** One round; nanoseconds from the latest write to all K read. */
  round(): Promise<bigint> {
    this.lastWriteNs = 0n;
    this.waiting = this.sockets.length;
    const finished = new Promise<bigint>((resolve) => {
      this.done = (at) => resolve(at - this.lastWriteNs);
    });
    for (const socket of this.sockets) socket.write(TRIGGER);
    return finished;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await killAll(this.children);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.removeDir();
  }
}

const TRIGGER = encodeFrame(Uint8Array.of(0x47));

/** CPU time and GC time of this process over one measured stretch. */
export interface ProcessCost {
  /** User + system CPU of this process, microseconds. */
  readonly cpuUs: number;
  /** Time in GC (sum of `gc` performance entries), milliseconds. */
  readonly gcMs: number;
  /** Wall time, milliseconds. */
  readonly wallMs: number;
}

/** Starts measuring this process's CPU (`process.cpuUsage`) and GC (`PerformanceObserver`). */
export function measureCost(): { stop(): ProcessCost } {
  let gcMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries() as PerformanceEntry[]) gcMs += entry.duration;
  });
  observer.observe({ entryTypes: ['gc'] });
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  return {
    stop() {
      const used = process.cpuUsage(cpu);
      const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
      // Entries are delivered asynchronously; take what was delivered, then stop.
      for (const entry of observer.takeRecords?.() ?? []) gcMs += entry.duration;
      observer.disconnect();
      return { cpuUs: used.user + used.system, gcMs, wallMs };
    },
  };
}
