import type { LoadBalancer } from '@daemoneye/balancer';
import type { FailureReason, HealthTracker } from '@daemoneye/failover';
import type { Broker } from '@daemoneye/ipc-transport';
import type { CollectorSpec } from './options.js';
import type { Counters } from './status.js';
import type { CoordinatorEvents, CoordinatorMessage } from './types.js';

/** What the task flows read of the coordinator: its connections, counters and callbacks. */
export interface FlowHost {
  readonly broker: Broker;
  readonly balancer: LoadBalancer;
  readonly health: HealthTracker;
  readonly specs: ReadonlyMap<string, CollectorSpec>;
  /** Collector id -> broker session admitted for it. */
  readonly sessions: ReadonlyMap<string, string>;
  readonly failures: ReadonlyMap<string, FailureReason>;
  readonly counters: Counters;
  readonly resultsBy: Map<string, number>;
  readonly taskTimeoutMs: number;
  closed(): boolean;
  emit<K extends keyof CoordinatorEvents>(event: K, ...args: CoordinatorEvents[K]): void;
  deliver(topic: string, message: CoordinatorMessage): void;
  /** A set completed (the inbound backpressure resumes who it can). */
  setEnded(): void;
  callbackError(where: string, cause: unknown): void;
}

/** Copies the fields that are not undefined (the libraries read `undefined` as a bad value). */
export function definedOnly<T extends object>(
  value: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: { [K in keyof T]?: Exclude<T[K], undefined> } = {};
  for (const key of Object.keys(value)) {
    if (!isKey(value, key)) continue;
    const v = value[key];
    if (isDefined(v)) out[key] = v;
  }
  return out;
}

function isDefined<V>(v: V): v is Exclude<V, undefined> {
  return v !== undefined;
}

function isKey<T extends object>(value: T, key: PropertyKey): key is keyof T {
  return key in value;
}
