import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type AggregatedResult, ResultAggregator } from '@daemoneye/aggregator';
import { LoadBalancer } from '@daemoneye/balancer';
import {
  FailoverManager,
  HealthTracker,
  type PendingTask,
  PendingTaskRegistry,
  Supervisor,
} from '@daemoneye/failover';
import {
  Broker,
  type CollectorInfo,
  systemClock,
  type TopicMessage,
} from '@daemoneye/ipc-transport';
import type { DetectionResult, TaskResult } from '@daemoneye/proto';
import type { CollectorKind, RunArgs } from './args.js';
import { ENV_COLLECTOR_ID, ENV_ENDPOINT } from './collectors/runtime.js';
import type { Logger } from './log.js';
import type { Sink } from './output.js';

/** Topic the `status` command publishes on; the answer comes back on {@link STATUS_REPLY_TOPIC}. */
export const STATUS_TOPIC = 'control.agent.status';
export const STATUS_REPLY_TOPIC = 'control.agent.status.reply';
/** Collector kind the `status` command says in its Hello; never given tasks. */
export const CLI_KIND = 'cli';

/** What a task carries through the registry and failover. */
export interface TaskPayload {
  kind: 'enumerate' | 'integrity';
  body: Uint8Array;
}

/** Everything `run` needs: the parsed flags that shape the agent, where results go, the logger. */
export type AgentOptions = Omit<RunArgs, 'output' | 'logLevel' | 'help'> & {
  sink: Sink;
  log: Logger;
};

/** What the agent prints on stderr when it stops. */
export interface AgentSummary {
  rounds: number;
  tasks: AgentStatus['tasks'];
  aggregation: AgentStatus['aggregation'];
  rejectedResults: number;
  refusedCollectors: number;
  restarts: number;
  results: number;
}

/** One line of `status --json`. */
export interface CollectorStatus {
  id: string;
  kind: string;
  pid: number | null;
  state: string;
  activeTasks: number | null;
  queueDepth: number | null;
  score: number | null;
  restarts: number;
  results: number;
  lastHeartbeatAgoMs: number | null;
}

/** The answer of `status --json`. */
export interface AgentStatus {
  collectors: CollectorStatus[];
  pendingSets: number;
  tasks: { accepted: number; completed: number; failed: number; inFlight: number };
  aggregation: {
    begun: number;
    completed: number;
    partial: number;
    late: number;
    duplicates: number;
  };
  /** Results refused: from clients that are not collectors of this agent, or for sets they were not asked for. */
  rejectedResults: number;
  /** Connections refused by the agent: wrong kind, unknown id, or a pid it did not start. */
  refusedCollectors: number;
  rounds: number;
  lastLatencyMs: number | null;
}

/** One NDJSON output line. */
export interface OutputLine {
  correlationId: string;
  kind: string;
  complete: boolean;
  reason: string;
  expected: readonly string[];
  responded: readonly string[];
  missing: readonly string[];
  resultCount: number;
  results: {
    fingerprint: string;
    kind: string;
    subject: string;
    attributes: Record<string, string>;
    collectedAtUnixMs: string;
    sources: readonly string[];
  }[];
  startedAt: string;
  completedAt: string;
  latencyMs: number;
}

interface SetInfo {
  kind: TaskPayload['kind'];
  startedWall: number;
  done: (result: AggregatedResult<DetectionResult>) => void;
  promise: Promise<AggregatedResult<DetectionResult>>;
}

/** The one clock the agent gives every library: monotonic ms, timers that never hold the process. */
const agentClock = systemClock;

function collectorScript(kind: CollectorKind): string {
  return fileURLToPath(new URL(`./collectors/${kind}.js`, import.meta.url));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * The reference agent: broker + aggregator + balancer + failover + supervisor wired together,
 * running collection rounds over real collector processes.
 */
export class Agent {
  readonly broker: Broker;
  readonly aggregator: ResultAggregator<DetectionResult>;
  readonly balancer: LoadBalancer;
  readonly health: HealthTracker;
  readonly registry: PendingTaskRegistry<TaskPayload>;
  readonly failover: FailoverManager<TaskPayload>;
  readonly supervisor: Supervisor;
  private readonly options: AgentOptions;
  private readonly log: Logger;
  private readonly kinds = new Map<string, CollectorKind>();
  private readonly sets = new Map<string, SetInfo>();
  private readonly resultsBy = new Map<string, number>();
  private readonly seenProcesses = new Set<string>();
  private readonly stopping = new AbortController();
  private roundsDone = 0;
  private rejectedResults = 0;
  private refusedCollectors = 0;
  /** Collector id -> the broker session accepted for it. */
  private readonly sessions = new Map<string, string>();
  private lastLatencyMs: number | undefined;
  private shuttingDown = false;
  private closing: Promise<void> | undefined;
  private readonly taskStartedAt = new Map<string, number>();
  private readonly everConnected = new Set<string>();

  constructor(options: AgentOptions) {
    this.options = options;
    this.log = options.log;
    this.broker = new Broker({
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      clock: agentClock,
    });
    this.aggregator = new ResultAggregator<DetectionResult>({
      clock: agentClock,
      timeoutMs: options.timeoutMs,
      onComplete: (result) => this.onAggregated(result),
      onCallbackError: (error) => this.log.error(`aggregator callback failed: ${error.message}`),
    });
    this.balancer = new LoadBalancer({ clock: agentClock });
    this.health = new HealthTracker({
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      staleAfterIntervals: 3,
      clock: agentClock,
    });
    this.registry = new PendingTaskRegistry<TaskPayload>({ clock: agentClock });
    this.failover = new FailoverManager<TaskPayload>({
      registry: this.registry,
      health: this.health,
      router: { route: (task, exclude) => this.route(task, exclude) },
      subscriptions: { removeSubscriptions: (id) => void this.broker.removeSubscriptions(id) },
      aggregator: {
        collectorFailed: (id) => void this.aggregator.collectorFailed(id),
        reassign: (correlationId, from, to) =>
          void this.aggregator.reassign(correlationId, from, to),
      },
      placementTimeoutMs: Math.max(options.timeoutMs, 1000),
      clock: agentClock,
    });
    this.supervisor = new Supervisor({
      stdio: ['ignore', 'ignore', 'pipe'],
      stopGraceMs: 3000,
      readyTimeoutMs: 30_000,
    });
    this.wire();
  }

  /** Listens, starts the collectors and waits until each said Hello (or `readyTimeoutMs`). */
  async start(): Promise<void> {
    await this.broker.listen();
    this.log.info(`listening on ${this.broker.endpoint.path}`);
    this.broker.subscribe(STATUS_TOPIC, (message) => this.answerStatus(message));
    const ready: Promise<void>[] = [];
    for (const { kind, count } of this.options.collectors) {
      for (let i = 1; i <= count; i++) {
        const id = `${kind}-${i}`;
        this.kinds.set(id, kind);
        ready.push(this.waitConnected(id, 30_000, this.stopping.signal));
        this.supervisor.start({
          id,
          command: process.execPath,
          args: [this.options.collectorScripts[kind] ?? collectorScript(kind)],
          env: { [ENV_ENDPOINT]: this.broker.endpoint.path, [ENV_COLLECTOR_ID]: id },
        });
      }
    }
    const results = await Promise.allSettled(ready);
    const missing = results.filter((r) => r.status === 'rejected').length;
    if (missing > 0)
      this.log.warn(`${missing} collector(s) did not connect in time; going on without them`);
  }

  /** Runs rounds until `rounds` are done or {@link requestStop} is called. */
  async run(): Promise<void> {
    const { rounds, intervalMs } = this.options;
    const signal = this.stopping.signal;
    for (let n = 1; rounds === 0 || n <= rounds; n++) {
      if (signal.aborted) break;
      await this.round(n);
      this.roundsDone = n;
      if (rounds !== 0 && n === rounds) break;
      await sleep(intervalMs, signal);
    }
  }

  /** Stops scheduling new rounds; the round in flight still finishes or times out. */
  requestStop(): void {
    this.stopping.abort();
  }

  /**
   * Completes what is pending (`shutdown`), stops the collectors and removes the endpoint files.
   * Every call returns the same promise, so a second caller waits for the first to finish.
   */
  shutdown(): Promise<void> {
    this.closing ??= this.close();
    return this.closing;
  }

  private async close(): Promise<void> {
    this.shuttingDown = true;
    this.stopping.abort();
    this.aggregator.close();
    this.failover.close();
    for (const task of this.pendingTasks()) this.registry.fail(task, 'agent-shutdown');
    await this.supervisor.close();
    this.health.close();
    await this.broker.close();
  }

  /** SIGKILLs every collector process now (second signal), whatever state its slot is in. */
  forceKill(): void {
    for (const info of this.supervisor.list()) {
      if (info.pid === undefined) continue;
      try {
        process.kill(info.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  /** The state shown by `status`. */
  status(): AgentStatus {
    const snapshot = this.balancer.snapshot();
    const byId = new Map(snapshot.collectors.map((c) => [c.id, c]));
    const now = agentClock.now();
    const collectors: CollectorStatus[] = [...this.kinds].map(([id, kind]) => {
      const proc = this.supervisor.info(id);
      const health = this.health.get(id);
      const balance = byId.get(id);
      const state =
        proc === undefined
          ? 'unknown'
          : proc.state === 'running'
            ? (health?.state ?? 'starting')
            : proc.state;
      return {
        id,
        kind,
        pid: proc?.pid ?? null,
        state,
        activeTasks: balance?.activeTasks ?? null,
        queueDepth: balance?.queueDepth ?? null,
        score: balance ? Math.round(balance.score * 10) / 10 : null,
        restarts: proc?.restarts ?? 0,
        results: this.resultsBy.get(id) ?? 0,
        lastHeartbeatAgoMs:
          health && health.heartbeats > 0
            ? Math.max(0, Math.round(now - health.lastHeartbeatAt))
            : null,
      };
    });
    const registry = this.registry.stats();
    const aggregation = this.aggregator.stats();
    const completed = Object.values(aggregation.completed).reduce((a, b) => a + b, 0);
    return {
      collectors,
      pendingSets: aggregation.pendingSets,
      tasks: {
        accepted: registry.accepted,
        completed: registry.completed,
        failed: registry.failed,
        inFlight: registry.pending,
      },
      aggregation: {
        begun: aggregation.begun,
        completed,
        partial: completed - aggregation.completed['all-received'],
        late: aggregation.outcomes.late,
        duplicates: aggregation.duplicatesDropped,
      },
      rejectedResults: this.rejectedResults,
      refusedCollectors: this.refusedCollectors,
      rounds: this.roundsDone,
      lastLatencyMs: this.lastLatencyMs ?? null,
    };
  }

  /** The counters of {@link status}, folded for the exit summary. */
  summary(): AgentSummary {
    const status = this.status();
    return {
      rounds: status.rounds,
      tasks: status.tasks,
      aggregation: status.aggregation,
      rejectedResults: status.rejectedResults,
      refusedCollectors: status.refusedCollectors,
      restarts: status.collectors.reduce((n, c) => n + c.restarts, 0),
      results: status.collectors.reduce((n, c) => n + c.results, 0),
    };
  }

  private *pendingTasks(): Iterable<string> {
    for (const id of this.kinds.keys()) yield* this.registry.taskIdsOf(id);
  }

  private wire(): void {
    const { broker, health, balancer, supervisor, registry, log } = this;
    broker.on('collector-connected', (info) => this.onConnected(info));
    broker.on('collector-disconnected', (info, reason) => {
      // Only the session we accepted counts: a refused impostor's exit says nothing of ours.
      if (this.sessions.get(info.collectorId) !== info.sessionId) return;
      this.sessions.delete(info.collectorId);
      if (this.shuttingDown) return;
      log.info(`${info.collectorId} disconnected: ${reason}`);
      health.connectionLost(info.collectorId);
    });
    broker.on('heartbeat', (id, beat) => {
      if (!this.sessions.has(id)) return;
      health.heartbeat(id);
      balancer.updateMetrics(id, {
        activeTasks: beat.activeTasks,
        queueDepth: beat.queueDepth,
        cpu: beat.cpu,
        memoryBytes: beat.memoryBytes,
      });
    });
    broker.on('task-result', (id, result) => this.onTaskResult(id, result));
    broker.on('protocol-error', (error, id) =>
      log.warn(`protocol error from ${id ?? 'a client'}: ${error.code}: ${error.message}`),
    );
    broker.on('connection-refused', (error) =>
      log.warn(`connection refused: ${error.code}: ${error.message}`),
    );
    health.on('failed', (failure) => {
      log.warn(`${failure.id} failed (${failure.reason})`);
      balancer.remove(failure.id);
      // A hung collector (no heartbeats, socket still open) is killed so the supervisor restarts it.
      if (failure.reason === 'stale' || failure.reason === 'phi') supervisor.kill(failure.id);
      broker.disconnect(failure.id, `declared failed: ${failure.reason}`);
    });
    this.failover.on('failover', (r) =>
      log.info(
        `failover of ${r.collectorId}: ${r.taken} task(s) taken, ${r.moved} moved, ${r.parked} parked, ${r.failed} failed`,
      ),
    );
    this.failover.on('task-placed', (task, from, to) => {
      if (from === undefined && !task.pinned && task.payload)
        void this.ensureSet(task.correlationId, task.payload.kind, [to]);
    });
    this.failover.on('route-failed', (f) =>
      log.warn(`failover could not route task ${f.task.taskId}: ${String(f.error)}`),
    );
    registry.on('task-failed', (task, reason) => {
      log.debug(`task ${task.taskId} failed: ${reason}`);
      const started = this.taskStartedAt.get(task.taskId);
      this.taskStartedAt.delete(task.taskId);
      const holder = task.collectorId ?? task.lastCollectorId;
      // A balanced task that ends without its answer still leaves the collector's in-flight count.
      if (!task.pinned && started !== undefined && holder !== undefined) {
        balancer.taskFinished(holder, agentClock.now() - started, false);
      }
      if (!this.sets.has(task.correlationId)) this.tasksOfSet.delete(task.correlationId);
    });
    registry.on('task-completed', (task) => {
      if (!this.sets.has(task.correlationId)) this.tasksOfSet.delete(task.correlationId);
    });
    supervisor.on('spawn', (e) => {
      log.info(`started ${e.id} (pid ${e.pid}${e.restarts > 0 ? `, restart ${e.restarts}` : ''})`);
      e.stderr?.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n'))
          if (line.trim()) log.info(`[${e.id}] ${line}`);
      });
    });
    supervisor.on('exit', (e) => {
      if (e.expected || this.shuttingDown) return;
      log.warn(`${e.id} exited (code ${String(e.code)}, signal ${String(e.signal)})`);
      health.processExited(e.id, e.code, e.signal);
    });
    supervisor.on('restart-scheduled', (e) =>
      log.info(`restarting ${e.id} in ${e.delayMs} ms (attempt ${e.attempt})`),
    );
    supervisor.on('gave-up', (e) =>
      log.error(`${e.id} crashed ${e.restarts} times in ${e.windowMs} ms; giving up on it`),
    );
    supervisor.on('start-timeout', (e) =>
      log.warn(`${e.id} did not connect in time: ${e.error.message}`),
    );
    supervisor.on('spawn-error', (e) => log.error(`cannot start ${e.id}: ${e.error.message}`));
  }

  private onConnected(info: CollectorInfo): void {
    const id = info.collectorId;
    const expectedKind = this.kinds.get(id);
    if (info.kind === CLI_KIND) {
      // Status clients are welcome, but not under a collector's id (that would lock it out).
      if (expectedKind !== undefined)
        this.refuse(info, 'a collector id is not for a status client');
      return;
    }
    if (expectedKind === undefined || expectedKind !== info.kind) {
      this.refuse(info, `unexpected collector ${id} (kind ${info.kind})`);
      return;
    }
    // Only the process the supervisor started may speak for this id.
    const proc = this.supervisor.info(id);
    if (proc?.pid === undefined || proc.pid !== info.pid) {
      this.refuse(
        info,
        `${id} said it is pid ${info.pid}, but the agent started pid ${String(proc?.pid)}`,
      );
      return;
    }
    try {
      this.balancer.register(id, { taskKinds: info.taskKinds });
    } catch (error) {
      // A malformed Hello (e.g. an empty task kind) refuses that collector, never the agent.
      this.refuse(
        info,
        `${id} declared unusable task kinds (${error instanceof Error ? error.message : String(error)})`,
      );
      return;
    }
    this.sessions.set(id, info.sessionId);
    this.log.info(`${id} connected (pid ${info.pid})`);
    this.supervisor.markReady(id, info.pid);
    // A collector seen before is a restart: slow start ramps its share back up.
    if (this.everConnected.has(id)) this.balancer.restarted(id);
    this.everConnected.add(id);
    this.health.register(id);
  }

  private refuse(info: CollectorInfo, why: string): void {
    this.refusedCollectors++;
    this.log.warn(`${why}: disconnecting it`);
    this.broker.disconnect(info.collectorId, 'not a collector of this agent');
  }

  /** Resolves when `id` connects; rejects at the timeout; gives up at once when `signal` aborts. */
  private waitConnected(id: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer);
        this.broker.off('collector-connected', on);
        signal.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(
        () => done(new Error(`${id} did not connect within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const on = (info: CollectorInfo): void => {
        if (info.collectorId === id) done();
      };
      const onAbort = (): void => done(new Error('stopping'));
      this.broker.on('collector-connected', on);
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) onAbort();
    });
  }

  /** Places a balanced task: the balancer picks, the broker sends. Used by failover too. */
  private route(task: PendingTask<TaskPayload>, exclude: ReadonlySet<string>): string | undefined {
    const payload = task.payload;
    if (!payload) return undefined;
    const excluded = new Set(exclude);
    for (;;) {
      const id = this.balancer.trySelect({ taskKind: payload.kind, exclude: excluded });
      if (id === undefined) return undefined;
      if (this.health.isAlive(id) && this.sessions.has(id)) {
        this.broker.assignTask(id, {
          taskId: task.taskId,
          correlationId: task.correlationId,
          taskKind: payload.kind,
          payload: payload.body,
          deadlineUnixMs: 0n,
        });
        this.balancer.taskStarted(id);
        this.taskStartedAt.set(task.taskId, agentClock.now());
        return id;
      }
      excluded.add(id);
    }
  }

  private onTaskResult(id: string, result: TaskResult): void {
    if (!this.sessions.has(id)) {
      this.rejectedResults++;
      this.log.warn(`result from ${id}, which is not a collector of this agent: refused`);
      return;
    }
    if (result.results.length > 0)
      this.resultsBy.set(id, (this.resultsBy.get(id) ?? 0) + result.results.length);
    // The task's outcome first: completing the set below may fail the tasks still pending in it.
    if (result.final) this.finishTask(id, result);
    const outcome = this.aggregator.addResult(id, result.correlationId, result.results, {
      final: result.final,
    });
    if (outcome === 'unexpected-collector' || outcome === 'unknown-correlation') {
      this.rejectedResults++;
      this.log.debug(`result from ${id} for ${result.correlationId}: ${outcome}`);
    }
  }

  private finishTask(id: string, result: TaskResult): void {
    const task = this.registry.get(result.taskId);
    if (!task || task.collectorId !== id) {
      this.registry.complete(result.taskId, id); // counted as stale or unknown, and ignored
      return;
    }
    const started = this.taskStartedAt.get(result.taskId);
    this.taskStartedAt.delete(result.taskId);
    const success = result.error === '';
    if (!task.pinned) {
      this.balancer.taskFinished(
        id,
        started === undefined ? 0 : agentClock.now() - started,
        success,
      );
    }
    if (success) this.registry.complete(result.taskId, id);
    else this.registry.fail(result.taskId, `collector-error: ${result.error}`);
  }

  private onAggregated(result: AggregatedResult<DetectionResult>): void {
    const info = this.sets.get(result.correlationId);
    this.sets.delete(result.correlationId);
    try {
      this.emitLine(result, info);
    } finally {
      // Whatever happened above, the round waiting on this set must go on.
      info?.done(result);
    }
  }

  private emitLine(result: AggregatedResult<DetectionResult>, info: SetInfo | undefined): void {
    const latencyMs = Math.round((result.completedAt - result.startedAt) * 1000) / 1000;
    this.lastLatencyMs = latencyMs;
    const line: OutputLine = {
      correlationId: result.correlationId,
      kind: info?.kind ?? 'unknown',
      complete: result.complete,
      reason: result.reason,
      expected: result.expected,
      responded: result.responded,
      missing: result.missing,
      resultCount: result.results.length,
      results: result.results.map((item) => ({
        fingerprint: item.result.fingerprint,
        kind: item.result.kind,
        subject: item.result.subject,
        attributes: item.result.attributes,
        collectedAtUnixMs: item.result.collectedAtUnixMs.toString(),
        sources: item.sources,
      })),
      startedAt: new Date(info?.startedWall ?? Date.now()).toISOString(),
      completedAt: new Date().toISOString(),
      latencyMs,
    };
    this.options.sink.write(line);
    // Tasks of a set that ended without their answer are over too: fail them with the set's reason.
    for (const collectorId of result.missing) {
      const taskId = `${result.correlationId}/${collectorId}`;
      if (this.registry.has(taskId)) this.registry.fail(taskId, `set-${result.reason}`);
    }
    for (const task of this.tasksOfSet.get(result.correlationId) ?? []) {
      if (this.registry.has(task)) this.registry.fail(task, `set-${result.reason}`);
    }
    this.tasksOfSet.delete(result.correlationId);
  }

  private readonly tasksOfSet = new Map<string, string[]>();

  /** Begins a set once; later calls for the same id return the same promise. */
  private ensureSet(
    correlationId: string,
    kind: TaskPayload['kind'],
    expected: string[],
  ): Promise<AggregatedResult<DetectionResult>> {
    const existing = this.sets.get(correlationId);
    if (existing) return existing.promise;
    let done: (result: AggregatedResult<DetectionResult>) => void = () => undefined;
    const promise = new Promise<AggregatedResult<DetectionResult>>((resolve) => {
      done = resolve;
    });
    this.sets.set(correlationId, { kind, startedWall: Date.now(), done, promise });
    this.aggregator.begin(correlationId, expected, { timeoutMs: this.options.timeoutMs });
    return promise;
  }

  private connectedOf(kinds: readonly CollectorKind[]): string[] {
    return [...this.kinds]
      .filter(
        ([id, kind]) => kinds.includes(kind) && this.sessions.has(id) && this.health.isAlive(id),
      )
      .map(([id]) => id);
  }

  private async round(n: number): Promise<void> {
    const enumerateId = `r${n}-enumerate-${randomUUID().slice(0, 8)}`;
    const targets = this.connectedOf(['procmond', 'netmond']);
    if (targets.length === 0) {
      this.log.warn(`round ${n}: no collector is connected; skipping`);
      return;
    }
    const done = this.ensureSet(enumerateId, 'enumerate', targets);
    for (const id of targets) {
      const taskId = `${enumerateId}/${id}`;
      this.registry.assign(
        {
          taskId,
          correlationId: enumerateId,
          pinned: true,
          payload: { kind: 'enumerate', body: new Uint8Array() },
        },
        id,
      );
      try {
        this.broker.assignTask(id, {
          taskId,
          correlationId: enumerateId,
          taskKind: 'enumerate',
          payload: new Uint8Array(),
          deadlineUnixMs: 0n,
        });
      } catch (error) {
        this.log.warn(
          `cannot send ${taskId}: ${error instanceof Error ? error.message : String(error)}`,
        );
        this.registry.fail(taskId, 'send-failed');
      }
    }
    const enumerated = await done;
    this.log.info(
      `round ${n}: enumerate ${enumerated.reason}, ${enumerated.results.length} distinct results from ${enumerated.responded.length}/${enumerated.expected.length} collectors`,
    );
    await this.integrityTasks(n, enumerated);
  }

  /** Balanced integrity checks of processes first seen in this round. */
  private async integrityTasks(
    n: number,
    enumerated: AggregatedResult<DetectionResult>,
  ): Promise<void> {
    const fresh: { pid: number; executable: string }[] = [];
    const alive = new Set<string>();
    for (const item of enumerated.results) {
      const r = item.result;
      if (r.kind !== 'process') continue;
      alive.add(item.key);
      if (this.seenProcesses.has(item.key) || fresh.length >= this.options.integrityPerRound)
        continue;
      const executable = r.attributes.executable ?? '';
      const pid = Number(r.attributes.pid);
      // A process counts as seen once it is checked (or cannot be): the rest wait for later rounds.
      this.seenProcesses.add(item.key);
      if (executable && Number.isInteger(pid)) fresh.push({ pid, executable });
    }
    // Forget processes that are gone, so the set stays as large as the process table.
    if (enumerated.complete) {
      for (const key of this.seenProcesses) if (!alive.has(key)) this.seenProcesses.delete(key);
    }
    const waits: Promise<unknown>[] = [];
    for (const [i, target] of fresh.entries()) {
      const correlationId = `r${n}-integrity-${i}-${randomUUID().slice(0, 8)}`;
      const taskId = `${correlationId}/task`;
      const body = Buffer.from(JSON.stringify(target));
      let placed: string | undefined;
      try {
        placed = this.failover.dispatch({
          taskId,
          correlationId,
          payload: { kind: 'integrity', body },
        }).collectorId;
      } catch (error) {
        this.log.warn(
          `cannot dispatch ${taskId}: ${error instanceof Error ? error.message : String(error)}`,
        );
        continue;
      }
      this.tasksOfSet.set(correlationId, [taskId]);
      // Parked (no collector can take it now): its set begins when failover places it, and the
      // task ends `failed` at the placement timeout if that never happens.
      if (placed !== undefined) waits.push(this.ensureSet(correlationId, 'integrity', [placed]));
    }
    await Promise.all(waits);
  }

  private answerStatus(message: TopicMessage): void {
    if (!message.sender) return;
    const payload = Buffer.from(JSON.stringify(this.status()));
    try {
      this.broker.sendTo(message.sender, {
        $case: 'publish',
        value: { topic: STATUS_REPLY_TOPIC, payload, sender: '' },
      });
    } catch (error) {
      this.log.warn(
        `cannot answer status to ${message.sender}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}
