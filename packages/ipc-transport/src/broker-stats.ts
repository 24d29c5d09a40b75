import type { AdmissionGate } from './admission.js';
import type { FramedConnection } from './connection.js';
import type { Router } from './routing.js';

/** Counters (they only grow) and gauges of a broker. */
export interface BrokerStats {
  connectionsAccepted: number;
  connectionsRefused: number;
  handshakes: number;
  handshakeTimeouts: number;
  /** Pending handshakes closed to make room under `maxPendingHandshakes` / `maxConnections`. */
  handshakesEvicted: number;
  authFailures: number;
  versionMismatches: number;
  invalidHellos: number;
  /** Hellos an `authorize` hook refused (or failed on). */
  admissionsRefused: number;
  duplicateCollectors: number;
  protocolErrors: number;
  nacksSent: number;
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  backpressure: number;
  subscribes: number;
  unsubscribes: number;
  publishesRouted: number;
  deliveries: number;
  topicCacheHits: number;
  topicCacheMisses: number;
  /** Cached topic matches dropped because a matching subscription changed (precise, never wholesale). */
  topicCacheInvalidations: number;
  topicCacheEvictions: number;
  handlerErrors: number;
  callbackErrors: number;
  serverErrors: number;
  /** Socket or token file found deleted or replaced while listening. */
  endpointLost: number;
  /** Of those, put back by the broker. */
  endpointRecreated: number;
  inboundPauses: number;
  /** Every refusal at or before the handshake, by the code sent in the Reject. */
  refusedByCode: Record<string, number>;
  /** Every protocol error (bad frame, undecodable envelope), by code. */
  protocolErrorsByCode: Record<string, number>;
  /** Gauges. */
  openConnections: number;
  pendingHandshakes: number;
  collectors: number;
  subscriptions: number;
  inboundPaused: number;
}

/** The parts a broker's stats are made of. */
export interface StatsParts {
  readonly gate: AdmissionGate;
  readonly router: Router;
  readonly counters: Readonly<{
    protocolErrors: number;
    nacksSent: number;
    backpressure: number;
    callbackErrors: number;
    serverErrors: number;
    endpointLost: number;
    endpointRecreated: number;
    inboundPauses: number;
  }>;
  /** Frame and byte totals of the connections already closed. */
  readonly closed: Readonly<{
    framesIn: number;
    framesOut: number;
    bytesIn: number;
    bytesOut: number;
  }>;
  readonly connections: readonly FramedConnection[];
  readonly protocolErrorsByCode: Readonly<Record<string, number>>;
  readonly collectors: number;
}

/** One snapshot of every counter and gauge (copies: later changes do not show through). */
export function assembleStats(parts: StatsParts): BrokerStats {
  const totals = { ...parts.closed };
  let paused = 0;
  for (const connection of parts.connections) {
    totals.framesIn += connection.framesIn;
    totals.framesOut += connection.framesOut;
    totals.bytesIn += connection.bytesIn;
    totals.bytesOut += connection.bytesOut;
    if (connection.inboundPaused) paused++;
  }
  const r = parts.router.stats();
  return {
    ...parts.gate.counters,
    ...parts.counters,
    ...totals,
    subscribes: r.subscribes,
    unsubscribes: r.unsubscribes,
    publishesRouted: r.publishesRouted,
    deliveries: r.deliveries,
    topicCacheHits: r.cacheHits,
    topicCacheMisses: r.cacheMisses,
    topicCacheInvalidations: r.cacheInvalidations,
    topicCacheEvictions: r.cacheEvictions,
    handlerErrors: r.handlerErrors,
    refusedByCode: { ...parts.gate.refusedByCode },
    protocolErrorsByCode: { ...parts.protocolErrorsByCode },
    openConnections: parts.connections.length,
    pendingHandshakes: parts.gate.pending.size,
    collectors: parts.collectors,
    subscriptions: parts.router.size,
    inboundPaused: paused,
  };
}

/** Keeps a closing connection's traffic counters in the broker's totals. */
export function addClosed(
  closed: { framesIn: number; framesOut: number; bytesIn: number; bytesOut: number },
  connection: FramedConnection,
): void {
  closed.framesIn += connection.framesIn;
  closed.framesOut += connection.framesOut;
  closed.bytesIn += connection.bytesIn;
  closed.bytesOut += connection.bytesOut;
}
