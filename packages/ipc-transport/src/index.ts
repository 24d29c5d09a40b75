export type {
  BrokerEvents,
  BrokerOptions,
  BrokerState,
  BrokerStats,
  CollectorInfo,
  PublishReport,
  TopicMessage,
} from './broker.js';
export { Broker, createBroker, TOKEN_BYTES } from './broker.js';
export type {
  ClientState,
  ClientStats,
  CollectorClientEvents,
  CollectorClientOptions,
  HeartbeatMetrics,
  ReceivedMessage,
} from './client.js';
export { CollectorClient, createCollectorClient } from './client.js';
export type { Clock } from './clock.js';
export { systemClock } from './clock.js';
export type { ConnectionLimits, ConnectionState } from './connection.js';
export type { Endpoint, EndpointEnvironment } from './endpoint.js';
export {
  checkPathLength,
  currentEnvironment,
  defaultEndpoint,
  isEndpointLive,
  maxSocketPathBytes,
  prepareEndpointDir,
  resolveEndpoint,
} from './endpoint.js';
export type { TransportErrorCode } from './errors.js';
export { isTransportError, RejectedError, TransportError } from './errors.js';
export { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from './frame.js';
export { MAX_TOPIC_LENGTH, normalizePattern, TopicTrie, validateTopic } from './topics.js';
