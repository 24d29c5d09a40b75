import { randomUUID } from 'node:crypto';
import { type AggregatedResult as RawResult, ResultAggregator } from '@daemoneye/aggregator';
import { FailoverManager, type PendingTask, PendingTaskRegistry } from '@daemoneye/failover';
import { isTransportError } from '@daemoneye/ipc-transport';
import type { DetectionResultView, TaskResultView } from '@daemoneye/proto';
import type { Clock } from './clock.js';
import { definedOnly, type FlowHost } from './host.js';
import type { ResolvedOptions } from './options.js';
import { checkRequest, RecentIds } from './requests.js';
import { eligible, placeTask, type TaskPayload } from './routing.js';
import { emptyResult, openRecord, placeholderOf, type SetRecord, toResult } from './sets.js';
import type { AggregatedResult, DispatchRequest, FanOutRequest } from './types.js';

export type { TaskPayload };

const EMPTY = new Uint8Array();

const weighView = (view: DetectionResultView): number => view.byteLength;
const contentKeyOfView = (view: DetectionResultView): string => view.contentKey();
const MAX_REMEMBERED_IDS = 10_000;

/**
 * The task and set bookkeeping of the coordinator: fan-out and dispatch requests, routing with
 * the balancer, failover's redistribution and parking, results into sets, sets into
 * `AggregatedResult`s. Owns the aggregator, the pending-task registry and the FailoverManager.
 */
export class Flows {
  readonly #owner: FlowHost;
  readonly #clock: Clock;
  readonly #aggregator: ResultAggregator<DetectionResultView>;
  readonly #registry: PendingTaskRegistry<TaskPayload>;
  readonly #failover: FailoverManager<TaskPayload>;
  readonly #sets = new Map<string, SetRecord>();
  readonly #taskStartedAt = new Map<string, number>();
  /** Dispatched tasks parked before any placement: task id -> their set's placeholder. */
  readonly #unplaced = new Map<string, string>();
  /** Correlation ids used lately (bounded): a caller's id is never reused while results may still come. */
  readonly #usedIds = new RecentIds(MAX_REMEMBERED_IDS);

  constructor(owner: FlowHost, o: ResolvedOptions) {
    this.#owner = owner;
    const clock = o.clock;
    this.#clock = clock;
    const f = o.failover;
    this.#aggregator = new ResultAggregator<DetectionResultView>({
      ...definedOnly(o.aggregation),
      clock,
      timeoutMs: o.taskTimeoutMs,
      // Byte budgets count what collectors sent (each view holds exactly its encoded bytes);
      // conflicts compare content, not collection time. The dedup key is the fingerprint.
      weigh: weighView,
      contentKey: contentKeyOfView,
      onComplete: (raw) => this.#onAggregated(raw),
      onCallbackError: (error) => this.#owner.callbackError('aggregator', error),
    });
    this.#registry = new PendingTaskRegistry<TaskPayload>({
      clock,
      ...(f.maxPendingTasks === undefined ? {} : { maxPendingTasks: f.maxPendingTasks }),
    });
    // Before the FailoverManager's own listener: a set that a failure completes sees the reason.
    this.#registry.on('task-failed', (task, reason) => this.#onTaskFailed(task, reason));
    this.#registry.on('task-completed', (task) => this.#taskStartedAt.delete(task.taskId));
    this.#failover = new FailoverManager<TaskPayload>({
      registry: this.#registry,
      router: { route: (task, exclude) => this.#route(task, exclude) },
      subscriptions: {
        removeSubscriptions: (id) => void this.#owner.broker.removeSubscriptions(id),
      },
      aggregator: {
        collectorFailed: (id) => void this.#aggregator.collectorFailed(id),
        reassign: (correlationId, from, to) => this.#reassign(correlationId, from, to),
      },
      ...(f.maxRetries === undefined ? {} : { maxRetries: f.maxRetries }),
      placementTimeoutMs: f.placementTimeoutMs ?? 10_000,
      ...(f.parkRetryIntervalMs === undefined
        ? {}
        : { parkRetryIntervalMs: f.parkRetryIntervalMs }),
      clock,
    });
    this.#failover.on('task-placed', (task, from, to) => {
      const placeholder = this.#unplaced.get(task.taskId);
      if (from !== undefined || placeholder === undefined) return;
      this.#unplaced.delete(task.taskId);
      this.#sets.get(task.correlationId)?.placeholders.set(placeholder, to);
      this.#aggregator.reassign(task.correlationId, placeholder, to);
    });
    this.#failover.on('task-parked', (task, from) => {
      const record = this.#sets.get(task.correlationId);
      if (record !== undefined && from !== undefined) {
        record.placeholders.set(placeholderOf(task.taskId), from);
      }
    });
  }

  get aggregator(): ResultAggregator<DetectionResultView> {
    return this.#aggregator;
  }

  get registry(): PendingTaskRegistry<TaskPayload> {
    return this.#registry;
  }

  get failover(): FailoverManager<TaskPayload> {
    return this.#failover;
  }

  /** Ends every pending set (`shutdown`) and task (`coordinator-closed`). */
  close(ids: Iterable<string>): void {
    this.#aggregator.close();
    this.#failover.close();
    for (const id of ids) {
      for (const taskId of this.#registry.taskIdsOf(id))
        this.#registry.fail(taskId, 'coordinator-closed');
    }
    for (const taskId of [...this.#unplaced.keys()])
      this.#registry.fail(taskId, 'coordinator-closed');
  }

  check<R extends FanOutRequest | DispatchRequest>(
    request: R,
    fanOut: boolean,
  ): { request: R; timeoutMs: number } {
    return checkRequest(request, fanOut, {
      closed: this.#owner.closed(),
      specs: this.#owner.specs,
      taskTimeoutMs: this.#owner.taskTimeoutMs,
      used: (id) => this.#usedIds.has(id),
    });
  }

  #record(
    kind: string,
    mode: 'fan-out' | 'dispatch',
    correlationId: string | undefined,
  ): SetRecord {
    const id = this.#usedIds.take(correlationId ?? `${kind}-${randomUUID()}`);
    return openRecord({
      correlationId: id,
      kind,
      mode,
      startedAt: this.#clock.now(),
      startedAtUnixMs: Date.now(),
    });
  }

  #now(): { clock: number; unixMs: number } {
    return { clock: this.#clock.now(), unixMs: Date.now() };
  }

  #begin(
    record: SetRecord,
    expected: string[],
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): boolean {
    if (this.#sets.has(record.correlationId)) return false;
    try {
      this.#aggregator.begin(record.correlationId, expected, { timeoutMs });
    } catch {
      return false;
    }
    this.#sets.set(record.correlationId, record);
    if (signal !== undefined) {
      const onAbort = (): void => void this.#aggregator.cancel(record.correlationId);
      signal.addEventListener('abort', onAbort, { once: true });
      record.cleanup = () => signal.removeEventListener('abort', onAbort);
    }
    return true;
  }

  fanOut(request: FanOutRequest, timeoutMs: number): Promise<AggregatedResult> {
    const record = this.#record(request.kind, 'fan-out', request.correlationId);
    if (request.signal?.aborted)
      return Promise.resolve(emptyResult(record, 'cancelled', this.#now()));
    const targets = request.targets ?? eligible(this.#owner, request.kind);
    const deadlineUnixMs = BigInt(Date.now() + timeoutMs);
    const payload: TaskPayload = {
      kind: request.kind,
      body: request.payload ?? EMPTY,
      deadlineUnixMs,
    };
    const sent: string[] = [];
    for (const id of targets) {
      if (!this.#owner.sessions.has(id) || !this.#owner.health.isAlive(id)) {
        record.notSent.set(id, 'not-connected');
        continue;
      }
      const taskId = `${record.correlationId}/${id}`;
      try {
        this.#registry.assign(
          {
            taskId,
            correlationId: record.correlationId,
            pinned: true,
            payload,
            deadline: this.#clock.now() + timeoutMs,
          },
          id,
        );
      } catch {
        record.notSent.set(id, 'overloaded');
        continue;
      }
      try {
        this.#owner.broker.assignTask(id, {
          taskId,
          correlationId: record.correlationId,
          taskKind: request.kind,
          payload: payload.body,
          deadlineUnixMs,
        });
        record.taskIds.push(taskId);
        sent.push(id);
      } catch (error) {
        record.notSent.set(
          id,
          `send-failed: ${isTransportError(error) ? error.code : String(error)}`,
        );
        this.#registry.fail(taskId, 'send-failed');
      }
    }
    if (sent.length === 0) {
      return Promise.resolve(
        this.#finishEarly(
          record,
          targets.length === 0 || record.notSent.size > 0 ? 'no-collector' : 'overloaded',
        ),
      );
    }
    // Results arrive on later ticks, so beginning after the sends loses nothing.
    if (!this.#begin(record, sent, timeoutMs, request.signal)) {
      for (const taskId of record.taskIds) this.#registry.fail(taskId, 'overloaded');
      return Promise.resolve(this.#finishEarly(record, 'overloaded'));
    }
    return record.promise;
  }

  dispatch(request: DispatchRequest, timeoutMs: number): Promise<AggregatedResult> {
    const record = this.#record(request.kind, 'dispatch', request.correlationId);
    if (request.signal?.aborted)
      return Promise.resolve(emptyResult(record, 'cancelled', this.#now()));
    const taskId = `${record.correlationId}/task`;
    const placeholder = placeholderOf(taskId);
    // The set first expects the placeholder; the placement (now or after parking) takes its slot.
    if (!this.#begin(record, [placeholder], timeoutMs, request.signal)) {
      return Promise.resolve(this.#finishEarly(record, 'overloaded'));
    }
    record.taskIds.push(taskId);
    record.placeholders.set(placeholder, undefined);
    this.#unplaced.set(taskId, placeholder);
    const payload: TaskPayload = {
      kind: request.kind,
      body: request.payload ?? EMPTY,
      deadlineUnixMs: BigInt(Date.now() + timeoutMs),
    };
    try {
      this.#failover.dispatch({
        taskId,
        correlationId: record.correlationId,
        payload,
        deadline: this.#clock.now() + timeoutMs,
      });
    } catch {
      this.#unplaced.delete(taskId);
      record.taskReasons.set(placeholder, 'overloaded');
      this.#aggregator.collectorFailed(placeholder);
    }
    return record.promise;
  }

  #finishEarly(record: SetRecord, reason: 'no-collector' | 'overloaded'): AggregatedResult {
    const result = emptyResult(record, reason, this.#now());
    this.#publishResult(result);
    return result;
  }

  /** Places a balanced task (the balancer picks, the broker sends); used by failover too. */
  #route(task: PendingTask<TaskPayload>, exclude: ReadonlySet<string>): string | undefined {
    const id = placeTask(this.#owner, task, exclude);
    if (id !== undefined) this.#taskStartedAt.set(task.taskId, this.#clock.now());
    return id;
  }

  /** Failover moved a task's expectation; a move to a placeholder is remembered for the result. */
  #reassign(correlationId: string, from: string, to: string): void {
    this.#aggregator.reassign(correlationId, from, to);
    const record = this.#sets.get(correlationId);
    if (record === undefined) return;
    const last = record.placeholders.get(from);
    if (to.startsWith('parked:'))
      record.placeholders.set(to, from.startsWith('parked:') ? last : from);
  }

  onTaskResult(id: string, result: TaskResultView): void {
    if (!this.#owner.sessions.has(id)) {
      this.#owner.counters.rejectedResults++;
      this.#owner.emit('result-refused', {
        collectorId: id,
        correlationId: result.correlationId,
        reason: 'not-admitted',
      });
      return;
    }
    if (result.results.length > 0)
      this.#owner.resultsBy.set(id, (this.#owner.resultsBy.get(id) ?? 0) + result.results.length);
    // The task's outcome first: completing the set below may fail the tasks still pending in it.
    if (result.final) this.#finishTask(id, result);
    const outcome = this.#aggregator.addResult(id, result.correlationId, result.results, {
      final: result.final,
    });
    if (outcome === 'unexpected-collector' || outcome === 'unknown-correlation') {
      this.#owner.counters.rejectedResults++;
      this.#owner.emit('result-refused', {
        collectorId: id,
        correlationId: result.correlationId,
        reason: outcome,
      });
    }
  }

  #finishTask(id: string, result: TaskResultView): void {
    const task = this.#registry.get(result.taskId);
    if (task === undefined || task.collectorId !== id) {
      this.#registry.complete(result.taskId, id); // counted as stale or unknown, and ignored
      return;
    }
    const started = this.#taskStartedAt.get(result.taskId);
    this.#taskStartedAt.delete(result.taskId);
    const success = result.error === '';
    if (!task.pinned)
      this.#owner.balancer.taskFinished(
        id,
        started === undefined ? 0 : this.#clock.now() - started,
        success,
      );
    if (success) this.#registry.complete(result.taskId, id);
    else this.#registry.fail(result.taskId, `collector-error: ${result.error.slice(0, 256)}`);
  }

  #onTaskFailed(task: PendingTask<TaskPayload>, reason: string): void {
    const started = this.#taskStartedAt.get(task.taskId);
    this.#taskStartedAt.delete(task.taskId);
    const holder = task.collectorId ?? task.lastCollectorId;
    // A balanced task that ends without its answer still leaves the collector's in-flight count.
    if (!task.pinned && started !== undefined && holder !== undefined) {
      this.#owner.balancer.taskFinished(holder, this.#clock.now() - started, false);
    }
    const record = this.#sets.get(task.correlationId);
    const placeholder = this.#unplaced.get(task.taskId);
    if (record !== undefined) {
      const failure = holder === undefined ? undefined : this.#owner.failures.get(holder);
      const why =
        reason === 'collector-failed' && failure !== undefined
          ? `collector-failed: ${failure}`
          : reason;
      record.failedTasks.push({ taskId: task.taskId, collectorId: holder, reason: why });
      // A set's own end (`set-timeout`...) says nothing new about why a collector is missing.
      if (!reason.startsWith('set-')) {
        if (holder !== undefined) record.taskReasons.set(holder, why);
        if (task.collectorId === undefined) record.taskReasons.set(placeholderOf(task.taskId), why);
      }
    }
    this.#owner.emit('task-failed', {
      taskId: task.taskId,
      correlationId: task.correlationId,
      collectorId: holder,
      reason,
    });
    if (placeholder !== undefined) {
      // Never placed: its set stops waiting for the placeholder.
      this.#unplaced.delete(task.taskId);
      this.#aggregator.collectorFailed(placeholder);
    }
  }

  #onAggregated(raw: RawResult<DetectionResultView>): void {
    const record = this.#sets.get(raw.correlationId);
    if (record === undefined) return;
    this.#sets.delete(raw.correlationId);
    record.cleanup?.();
    // Tasks of a set that ended without their answer are over too: fail them with the set's reason.
    for (const taskId of record.taskIds) {
      if (this.#registry.has(taskId)) this.#registry.fail(taskId, `set-${raw.reason}`);
    }
    const result = toResult(raw, record, (id) => this.#owner.failures.get(id), this.#now());
    this.#publishResult(result);
    record.resolve(result);
    this.#owner.setEnded();
  }

  #publishResult(result: AggregatedResult): void {
    this.#owner.emit('result', result);
    const topic = `results.${result.kind}`;
    this.#owner.deliver(topic, { type: 'result', topic, result });
  }
}
