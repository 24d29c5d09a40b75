import { isTransportErrorCode, TransportError, type TransportErrorCode } from './errors.js';

/** A broker's refusal (a Nack or Reject), as opposed to a lost or closed connection. */
export function isRefusal(error: unknown): boolean {
  return (
    error instanceof TransportError &&
    error.code !== 'ERR_TRANSPORT_NOT_CONNECTED' &&
    error.code !== 'ERR_TRANSPORT_CLOSED'
  );
}

/** The typed code of a Nack's code (unknown codes become `ERR_TRANSPORT_PROTOCOL`). */
export function nackCode(code: string): TransportErrorCode {
  return isTransportErrorCode(code) ? code : 'ERR_TRANSPORT_PROTOCOL';
}

interface PendingAck {
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Requests waiting for the broker's Ack or Nack, by message id. */
export class AckTracker {
  readonly #pending = new Map<bigint, PendingAck>();

  /** Registers `messageId`, then sends; a throw from `send` rejects at once. */
  request(messageId: bigint, send: () => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(messageId, { resolve, reject });
      try {
        send();
      } catch (error) {
        this.#pending.delete(messageId);
        reject(error);
      }
    });
  }

  ack(messageId: bigint): void {
    const pending = this.#pending.get(messageId);
    this.#pending.delete(messageId);
    pending?.resolve();
  }

  /** Rejects one request; returns whether it was pending. */
  nack(messageId: bigint, error: TransportError): boolean {
    const pending = this.#pending.get(messageId);
    if (!pending) return false;
    this.#pending.delete(messageId);
    pending.reject(error);
    return true;
  }

  /** Rejects every pending request. */
  rejectAll(code: 'ERR_TRANSPORT_CLOSED' | 'ERR_TRANSPORT_NOT_CONNECTED', message: string): void {
    for (const pending of this.#pending.values()) pending.reject(new TransportError(code, message));
    this.#pending.clear();
  }
}
