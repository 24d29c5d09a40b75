import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import {
  decodeEnvelopeLazy,
  type Envelope,
  type EnvelopeBody,
  encodeEnvelopeFrame,
  FRAME_PREFIX_BYTES,
  type LazyEnvelope,
} from '@daemoneye/proto';
import type { Clock } from './clock.js';
import { TransportError } from './errors.js';
import { FrameDecoder } from './frame.js';
import type { StateChange } from './lifecycle.js';

/** Lifecycle of one connection. */
export type ConnectionState = 'open' | 'closing' | 'closed';

/** Bounds of one connection's outbound queue and frames. */
export interface ConnectionLimits {
  readonly maxFrameBytes: number;
  readonly maxQueueBytes: number;
  readonly maxQueueFrames: number;
}

/** Events of a {@link FramedConnection}. */
export interface FramedConnectionEvents {
  /** One decoded Envelope; a TaskResult body is a lazy view with each result copied out on its own. */
  envelope: [message: LazyEnvelope];
  /** A bad frame or undecodable envelope; the connection is being closed. */
  'protocol-error': [error: TransportError];
  'state-change': [change: StateChange<ConnectionState>];
  close: [reason: string];
}

/**
 * One socket speaking length-prefixed Envelopes. Outbound frames go through a bounded queue
 * (bytes and frames not yet flushed to the kernel); a send past either bound throws
 * `ERR_BACKPRESSURE` and leaves the queue unchanged. Inbound can be paused: the socket stops
 * being read (the kernel buffer fills and the peer's writes back up) and frames already read stay
 * held, in order, until resumed.
 */
export class FramedConnection extends EventEmitter<FramedConnectionEvents> {
  framesIn = 0;
  framesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  #state: ConnectionState = 'open';
  #queuedFrames = 0;
  readonly #decoder: FrameDecoder;
  #closeReason = 'peer closed';
  #paused = false;
  #held: Buffer[] = [];
  #draining = false;
  #graceTimer: unknown;

  constructor(
    readonly socket: Socket,
    private readonly limits: ConnectionLimits,
    private readonly clock: Clock,
    private readonly graceMs: number,
  ) {
    super();
    this.#decoder = new FrameDecoder(limits.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (error: Error) => {
      if (this.#state === 'open') this.#closeReason = `socket error: ${error.message}`;
    });
    socket.on('close', () => {
      this.clock.clearTimeout(this.#graceTimer);
      this.#held = [];
      this.#setState('closed', this.#closeReason);
      this.emit('close', this.#closeReason);
    });
  }

  /** `open`, `closing` (Goodbye sent, waiting for the peer) or `closed`. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** Whether inbound delivery is paused. */
  get inboundPaused(): boolean {
    return this.#paused;
  }

  /** Frames read from the socket and held while paused. */
  get heldFrames(): number {
    return this.#held.length;
  }

  /** Changes the largest accepted inbound frame (the broker keeps it small until the Hello). */
  setInboundLimit(maxFrameBytes: number): void {
    this.#decoder.setMaxFrameBytes(maxFrameBytes);
  }

  /** Frames accepted by `send` and not yet handed to the kernel. */
  get queuedFrameCount(): number {
    return this.#queuedFrames;
  }

  /** Bytes accepted by `send` and not yet handed to the kernel. */
  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  /** Stops reading the socket and delivering frames already read. Idempotent. */
  pauseInbound(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.socket.pause();
  }

  /** Delivers the held frames (on a microtask, in order), then reads the socket again. Idempotent. */
  resumeInbound(): void {
    if (!this.#paused) return;
    this.#paused = false;
    queueMicrotask(() => {
      this.#drain();
      if (!this.#paused && this.#state === 'open') this.socket.resume();
    });
  }

  /** Encodes and queues one Envelope. Throws `ERR_BACKPRESSURE`, `ERR_FRAME_TOO_LARGE` or `ERR_TRANSPORT_CLOSED`. */
  send(message: Envelope): void {
    if (this.#state !== 'open') {
      throw new TransportError('ERR_TRANSPORT_CLOSED', 'connection is closed');
    }
    const frame = this.#encode(message);
    if (
      this.#queuedFrames >= this.limits.maxQueueFrames ||
      this.socket.writableLength + frame.length > this.limits.maxQueueBytes
    ) {
      throw new TransportError(
        'ERR_BACKPRESSURE',
        `outbound queue full (${this.#queuedFrames} frames, ${this.socket.writableLength} bytes; limits ${this.limits.maxQueueFrames} frames, ${this.limits.maxQueueBytes} bytes)`,
      );
    }
    this.#queuedFrames++;
    this.framesOut++;
    this.bytesOut += frame.length;
    this.socket.write(frame, () => {
      this.#queuedFrames--;
    });
  }

  /** One frame, prefix included, built in one buffer (TaskResult and Heartbeat hand-encoded). */
  #encode(message: Envelope): Buffer {
    const frame = encodeEnvelopeFrame(message);
    const length = frame.length - FRAME_PREFIX_BYTES;
    if (length === 0) {
      throw new TransportError('ERR_FRAME_EMPTY', 'a frame must carry at least one byte');
    }
    if (length > this.limits.maxFrameBytes) {
      throw new TransportError(
        'ERR_FRAME_TOO_LARGE',
        `frame of ${length} bytes exceeds maxFrameBytes ${this.limits.maxFrameBytes}`,
      );
    }
    return frame;
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

  /**
   * Sends a best-effort Goodbye, then closes; a peer that does not read its end is destroyed
   * after the grace period (on the clock). Idempotent.
   */
  close(reason: string): void {
    if (this.#state !== 'open') return;
    this.trySend({ $case: 'goodbye', value: { reason } });
    this.#closeReason = reason;
    this.#setState('closing', reason);
    this.socket.end();
    this.#graceTimer = this.clock.setTimeout(() => this.socket.destroy(), this.graceMs);
  }

  /** Closes at once without a Goodbye. */
  destroy(reason: string): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'open') {
      this.#closeReason = reason;
      this.#setState('closing', reason);
    }
    this.socket.destroy();
  }

  #setState(to: ConnectionState, reason: string): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.emit('state-change', { from, to, reason });
  }

  #onData(chunk: Buffer): void {
    if (this.#state !== 'open') return;
    this.bytesIn += chunk.length;
    let frames: Buffer[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (error) {
      this.#fail(error);
      return;
    }
    for (const frame of frames) this.#held.push(frame);
    this.#drain();
  }

  #drain(): void {
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (!this.#paused && this.#state === 'open') {
        const frame = this.#held.shift();
        if (frame === undefined) return;
        let message: LazyEnvelope;
        try {
          // Each result is copied out on its own: nothing keeps the socket's chunk alive.
          message = decodeEnvelopeLazy(frame, { copy: 'result' });
        } catch (error) {
          this.#fail(error);
          return;
        }
        this.framesIn++;
        this.emit('envelope', message);
      }
    } finally {
      this.#draining = false;
    }
  }

  #fail(error: unknown): void {
    this.#held = [];
    const typed =
      error instanceof TransportError
        ? error
        : new TransportError(
            'ERR_TRANSPORT_DECODE',
            error instanceof Error ? error.message : String(error),
            { cause: error },
          );
    this.emit('protocol-error', typed);
    this.close(`${typed.code}: ${typed.message}`);
  }
}
