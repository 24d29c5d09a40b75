import {
  type Broker,
  normalizePattern,
  type TopicMessage,
  TopicTrie,
} from '@daemoneye/ipc-transport';
import { CoordinatorError } from './errors.js';
import type { CoordinatorMessage } from './types.js';

/** A control request (from a client of `controlKind`) and the way to answer it. */
export interface ControlRequest {
  readonly topic: string;
  readonly clientId: string;
  readonly payload: Uint8Array;
}

interface Subscriber {
  readonly handler: (message: CoordinatorMessage) => void;
}

/**
 * In-process routing by topic: collectors' `events.#` Publishes and every aggregated result reach
 * subscribers by pattern; control clients (`status`, `stop`) get their answers on `<topic>.reply`.
 */
export class Topics {
  readonly #broker: Broker;
  readonly #callbackError: (where: string, cause: unknown) => void;
  readonly #subscribers = new TopicTrie<Subscriber>();
  /** Control client id -> its broker session. */
  readonly controls = new Map<string, string>();

  constructor(broker: Broker, callbackError: (where: string, cause: unknown) => void) {
    this.#broker = broker;
    this.#callbackError = callbackError;
  }

  subscribe(pattern: string, handler: (message: CoordinatorMessage) => void): () => void {
    if (typeof handler !== 'function') {
      throw new CoordinatorError('ERR_COORDINATOR_INVALID_REQUEST', 'handler must be a function');
    }
    let canonical: string;
    try {
      canonical = normalizePattern(pattern);
    } catch (cause) {
      throw new CoordinatorError(
        'ERR_COORDINATOR_INVALID_REQUEST',
        `invalid pattern ${JSON.stringify(pattern)}`,
        { cause },
      );
    }
    const subscriber: Subscriber = { handler };
    this.#subscribers.add(canonical, subscriber);
    return () => void this.#subscribers.remove(canonical, subscriber);
  }

  handleControl(topic: string, handler: (request: ControlRequest) => Uint8Array): () => void {
    return this.#broker.subscribe(topic, (message) => this.#onControl(message, handler));
  }

  /** A collector's Publish (only an admitted collector's reaches subscribers). */
  onEvent(message: TopicMessage, admitted: boolean): void {
    if (!admitted) return;
    this.deliver(message.topic, {
      type: 'event',
      topic: message.topic,
      collectorId: message.sender,
      payload: message.payload,
    });
  }

  deliver(topic: string, message: CoordinatorMessage): void {
    for (const subscriber of this.#subscribers.match(topic)) {
      try {
        subscriber.handler(message);
      } catch (error) {
        this.#callbackError(`subscriber of ${topic}`, error);
      }
    }
  }

  #onControl(message: TopicMessage, handler: (request: ControlRequest) => Uint8Array): void {
    const clientId = message.sender;
    if (!this.controls.has(clientId)) return;
    let answer: Uint8Array;
    try {
      answer = handler({ topic: message.topic, clientId, payload: message.payload });
    } catch (error) {
      this.#callbackError('control handler', error);
      return;
    }
    try {
      this.#broker.sendTo(clientId, {
        $case: 'publish',
        value: { topic: `${message.topic}.reply`, payload: answer, sender: '' },
      });
    } catch {
      // The client went away or its queue is full: it times out on its side.
    }
  }
}
