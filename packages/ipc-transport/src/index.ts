export type {
  Ack,
  DetectionResult,
  DetectionResultView,
  Envelope,
  EnvelopeBody,
  Goodbye,
  Heartbeat,
  Hello,
  Nack,
  Publish,
  Reject,
  Subscribe,
  TaskAssignment,
  TaskResult,
  TaskResultView,
  Unsubscribe,
  Welcome,
} from '@daemoneye/proto';
export type { BackoffOptions, ResolvedBackoffOptions } from './backoff.js';
export type { BrokerEvents, BrokerState, BrokerStats, CollectorInfo } from './broker.js';
export { Broker, createBroker } from './broker.js';
export type { BrokerOptions, ResolvedBrokerOptions } from './broker-options.js';
export { BROKER_DEFAULTS } from './broker-options.js';
export type {
  ClientState,
  ClientStats,
  CollectorClientEvents,
  ReceivedMessage,
} from './client.js';
export { CollectorClient, createCollectorClient } from './client.js';
export type {
  CollectorClientOptions,
  HeartbeatMetrics,
  ResolvedClientOptions,
} from './client-options.js';
export { CLIENT_DEFAULTS } from './client-options.js';
export type { Clock } from './clock.js';
export { systemClock } from './clock.js';
export type { ConnectionLimits, ConnectionState } from './connection.js';
export type { Endpoint, EndpointEnvironment } from './endpoint.js';
export {
  currentEnvironment,
  defaultEndpoint,
  isEndpointLive,
  maxSocketPathBytes,
  prepareEndpointDir,
  resolveEndpoint,
} from './endpoint.js';
export type { CallbackErrorHandler, TransportErrorCode } from './errors.js';
export {
  isTransportError,
  RejectedError,
  TRANSPORT_ERROR_CODES,
  TransportError,
} from './errors.js';
export { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FRAME_HEADER_BYTES, FrameDecoder } from './frame.js';
export type { Admission, Authorize, HelloInfo, PeerCredentials } from './handshake.js';
export type { StateChange } from './lifecycle.js';
export type { EndpointLoss } from './listener.js';
export { MAX_DELAY_MS, MIN_FRAME_BYTES } from './options.js';
export type { PublishReport, TopicMessage } from './routing.js';
export { TOKEN_BYTES } from './token-file.js';
export {
  MAX_TOPIC_LENGTH,
  normalizePattern,
  TopicTrie,
  type TopicTrieStats,
  validateTopic,
} from './topics.js';
