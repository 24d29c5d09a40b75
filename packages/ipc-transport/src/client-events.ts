import type { Nack, TaskAssignment, Welcome } from '@daemoneye/proto';
import type { StateChange } from './lifecycle.js';

/** A topic message received by a collector. */
export interface ReceivedMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  /** Collector id of the publisher as stamped by the broker; `''` for the agent. */
  readonly sender: string;
}

/** Lifecycle of a collector client. */
export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed';

/** Counters of a collector client. */
export interface ClientStats {
  connects: number;
  reconnects: number;
  heartbeatsSent: number;
  tasksReceived: number;
  tasksRefused: number;
  resultsSent: number;
  messagesReceived: number;
  nacksReceived: number;
  backpressure: number;
  handlerErrors: number;
}

/** Typed events of a {@link CollectorClient}. */
export interface CollectorClientEvents {
  'state-change': [change: StateChange<ClientState>];
  welcome: [welcome: Welcome];
  task: [task: TaskAssignment];
  message: [message: ReceivedMessage];
  nack: [nack: Nack];
  disconnected: [reason: string];
  'reconnect-scheduled': [attempt: number, delayMs: number];
  'reconnect-failed': [error: unknown];
  /** Re-sending a subscription after a reconnect failed. */
  'resubscribe-failed': [pattern: string, error: unknown];
  'gave-up': [error: unknown];
  closed: [];
}

/** Fresh (zero) client counters. */
export function emptyClientStats(): ClientStats {
  return {
    connects: 0,
    reconnects: 0,
    heartbeatsSent: 0,
    tasksReceived: 0,
    tasksRefused: 0,
    resultsSent: 0,
    messagesReceived: 0,
    nacksReceived: 0,
    backpressure: 0,
    handlerErrors: 0,
  };
}
