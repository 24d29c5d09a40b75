import { ProtoDecodeError } from './errors.js';
import { Envelope } from './gen/daemoneye/v1/envelope.js';

/** Wire protocol version carried in Hello and Welcome. */
export const PROTOCOL_VERSION = 1;

/** The oneof body of an Envelope. */
export type EnvelopeBody = NonNullable<Envelope['body']>;
/** The name of one body case, e.g. `'hello'`. */
export type EnvelopeBodyCase = EnvelopeBody['$case'];
/** An Envelope whose body is known to be the given case. */
export type EnvelopeOf<C extends EnvelopeBodyCase> = Envelope & {
  body: Extract<EnvelopeBody, { $case: C }>;
};

/** Builds an Envelope from a body, with `messageId` 0 unless given. */
export function envelope(body: EnvelopeBody, messageId = 0n): Envelope {
  return { messageId, body };
}

/** Encodes an Envelope to its protobuf bytes. */
export function encodeEnvelope(message: Envelope): Uint8Array {
  return Envelope.encode(message).finish();
}

/**
 * Decodes protobuf bytes into an Envelope. Never crashes on garbage: every malformed input
 * (truncated varints, bad wire types, invalid UTF-8 lengths) becomes a {@link ProtoDecodeError}.
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  try {
    return Envelope.decode(bytes);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ProtoDecodeError(`invalid Envelope (${bytes.length} bytes): ${detail}`, {
      cause: error,
    });
  }
}
