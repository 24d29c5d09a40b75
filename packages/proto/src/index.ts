export { VOLATILE_ATTRIBUTE_PREFIX } from './content-key.js';
export type { EnvelopeBody, EnvelopeBodyCase, EnvelopeOf } from './envelope.js';
export { decodeEnvelope, encodeEnvelope, envelope, PROTOCOL_VERSION } from './envelope.js';
export type { ProtoErrorCode } from './errors.js';
export {
  isProtoError,
  PROTO_ERROR_CODES,
  ProtoDecodeError,
  ProtoEncodeError,
  ProtoError,
} from './errors.js';
export {
  encodeEnvelopeFrame,
  encodeHeartbeatFrame,
  encodeTaskResultFrame,
  FRAME_PREFIX_BYTES,
} from './frame-encode.js';
export {
  Ack,
  DetectionResult,
  Envelope,
  Goodbye,
  HealthState,
  Heartbeat,
  Hello,
  Nack,
  Publish,
  Reject,
  Subscribe,
  TaskAssignment,
  TaskResult,
  Unsubscribe,
  Welcome,
} from './gen/daemoneye/v1/envelope.js';
export { detectionResultJson } from './json.js';
export type {
  LazyCopyMode,
  LazyDecodeOptions,
  LazyEnvelope,
  LazyEnvelopeBody,
  TaskResultView,
} from './lazy.js';
export { decodeEnvelopeLazy, decodeTaskResultView, detectionResultView } from './lazy.js';
export { DetectionResultView } from './result-view.js';
