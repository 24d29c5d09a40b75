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
