import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { decodeEnvelope, type Envelope, type EnvelopeBody, encodeEnvelope } from '@daemoneye/proto';
import { TransportError } from './errors.js';
import { encodeFrame, FrameDecoder } from './frame.js';

/** Lifecycle of one connection. */
export type ConnectionState = 'open' | 'closing' | 'closed';

/** Bounds of one connection's outbound queue and frames. */
export interface ConnectionLimits {
  maxFrameBytes: number;
  maxQueueBytes: number;
  maxQueueFrames: number;
}

/** Events of a {@link FramedConnection}. */
export interface FramedConnectionEvents {
  envelope: [message: Envelope];
  /** A bad frame or undecodable envelope; the connection is being closed. */
  'protocol-error': [error: TransportError];
  close: [reason: string];
}

/**
 * One socket speaking length-prefixed Envelopes. Outbound frames go through a bounded queue
 * (bytes and frames not yet flushed to the kernel); a send past either bound throws
 * `ERR_BACKPRESSURE` and leaves the queue unchanged.
 */
export class FramedConnection extends EventEmitter<FramedConnectionEvents> {
  state: ConnectionState = 'open';
  framesIn = 0;
  framesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  private queuedFrames = 0;
  private readonly decoder: FrameDecoder;
  private closeReason = 'peer closed';

  constructor(
    readonly socket: Socket,
    private readonly limits: ConnectionLimits,
  ) {
    super();
    this.decoder = new FrameDecoder(limits.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: Error) => {
      if (this.state === 'open') this.closeReason = `socket error: ${error.message}`;
    });
    socket.on('close', () => {
      this.state = 'closed';
      this.emit('close', this.closeReason);
    });
  }

  /** Changes the largest accepted inbound frame (the broker keeps it small until the Hello). */
  setInboundLimit(maxFrameBytes: number): void {
    this.decoder.setMaxFrameBytes(maxFrameBytes);
  }

  /** Frames accepted by `send` and not yet handed to the kernel. */
  get queuedFrameCount(): number {
    return this.queuedFrames;
  }

  /** Bytes accepted by `send` and not yet handed to the kernel. */
  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  /** Encodes and queues one Envelope. Throws `ERR_BACKPRESSURE`, `ERR_FRAME_TOO_LARGE` or `ERR_CLOSED`. */
  send(message: Envelope): void {
    if (this.state !== 'open') {
      throw new TransportError('ERR_CLOSED', 'connection is closed');
    }
    const frame = encodeFrame(encodeEnvelope(message), this.limits.maxFrameBytes);
    if (
      this.queuedFrames >= this.limits.maxQueueFrames ||
      this.socket.writableLength + frame.length > this.limits.maxQueueBytes
    ) {
      throw new TransportError(
        'ERR_BACKPRESSURE',
        `outbound queue full (${this.queuedFrames} frames, ${this.socket.writableLength} bytes; limits ${this.limits.maxQueueFrames} frames, ${this.limits.maxQueueBytes} bytes)`,
      );
    }
    this.queuedFrames++;
    this.framesOut++;
    this.bytesOut += frame.length;
    this.socket.write(frame, () => {
      this.queuedFrames--;
    });
  }

  /** Sends a body, ignoring a closed or full connection (for best-effort replies). */
  trySend(body: EnvelopeBody, messageId = 0n): boolean {
    try {
      this.send({ messageId, body });
      return true;
    } catch {
      return false;
    }
  }

  /** Sends a best-effort Goodbye, then closes. Idempotent. */
  close(reason: string, graceMs = 200): void {
    if (this.state !== 'open') return;
    this.trySend({ $case: 'goodbye', value: { reason } });
    this.state = 'closing';
    this.closeReason = reason;
    this.socket.end();
    // A peer that does not read its end must not keep the socket alive.
    const timer = setTimeout(() => this.socket.destroy(), graceMs);
    timer.unref();
  }

  /** Closes at once without a Goodbye. */
  destroy(reason: string): void {
    if (this.state === 'closed') return;
    if (this.state === 'open') this.closeReason = reason;
    this.state = 'closing';
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.state !== 'open') return;
    this.bytesIn += chunk.length;
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      this.fail(error);
      return;
    }
    for (const frame of frames) {
      if (this.state !== 'open') return;
      let message: Envelope;
      try {
        message = decodeEnvelope(frame);
      } catch (error) {
        this.fail(error);
        return;
      }
      this.framesIn++;
      this.emit('envelope', message);
    }
  }

  private fail(error: unknown): void {
    const typed =
      error instanceof TransportError
        ? error
        : new TransportError(
            'ERR_PROTO_DECODE',
            error instanceof Error ? error.message : String(error),
            {
              cause: error,
            },
          );
    this.emit('protocol-error', typed);
    this.close(`${typed.code}: ${typed.message}`);
  }
}
