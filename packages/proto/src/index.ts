export type { EnvelopeBody, EnvelopeBodyCase, EnvelopeOf } from './envelope.js';
export {
  decodeEnvelope,
  encodeEnvelope,
  envelope,
  PROTOCOL_VERSION,
  ProtoDecodeError,
} from './envelope.js';
export {
  Ack,
  DetectionResult,
  Envelope,
  Goodbye,
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
