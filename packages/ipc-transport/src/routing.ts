import type { Envelope } from '@daemoneye/proto';
import type { FramedConnection } from './connection.js';
import { TransportError } from './errors.js';
import { normalizePattern, TopicTrie, type TopicTrieStats } from './topics.js';

/** A message on a topic, as delivered to an in-process subscriber. */
export interface TopicMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  /** Collector id stamped by the broker from the session; `''` for the agent itself. */
  readonly sender: string;
  readonly messageId: bigint;
}

/** Outcome of a publish. */
export interface PublishReport {
  delivered: number;
  failed: { collectorId: string; error: TransportError }[];
}

/** A collector connection as a subscriber. */
export interface RemoteSubscriber {
  readonly type: 'session';
  readonly collectorId: string;
  readonly connection: FramedConnection;
}

interface LocalSubscription {
  readonly type: 'local';
  readonly handler: (message: TopicMessage) => void;
}

type Subscriber = RemoteSubscriber | LocalSubscription;

/** A refusal of a Subscribe / Unsubscribe / Publish, sent back as a Nack. */
export interface NackReason {
  readonly code: string;
  readonly message: string;
}

/** Counters of a {@link Router}; they only grow. */
export interface RouterStats extends TopicTrieStats {
  subscribes: number;
  unsubscribes: number;
  publishesRouted: number;
  deliveries: number;
  handlerErrors: number;
}

function nackOf(error: unknown): NackReason {
  // Only typed errors (a bad pattern) are expected here; anything else is a bug and is thrown.
  if (!(error instanceof TransportError)) throw error;
  return { code: error.code, message: error.message };
}

/**
 * Topic routing for the broker: subscriptions of collectors and in-process handlers in one trie,
 * publishes fanned out to every match except the sender. Subscribe and unsubscribe cost
 * O(pattern length) (plus the cached topics the pattern matches), never O(patterns held).
 */
export class Router {
  readonly #trie: TopicTrie<Subscriber>;
  readonly #maxPerConnection: number;
  readonly #send: (connection: FramedConnection, message: Envelope) => void;
  readonly #onHandlerError: (error: unknown, topic: string) => void;
  readonly #counters = {
    subscribes: 0,
    unsubscribes: 0,
    publishesRouted: 0,
    deliveries: 0,
    handlerErrors: 0,
  };

  constructor(options: {
    readonly maxSubscriptionsPerConnection: number;
    readonly maxTopicCacheEntries: number;
    /** Sends on a connection; throws a TransportError (backpressure, closed) to report a failure. */
    readonly send: (connection: FramedConnection, message: Envelope) => void;
    readonly onHandlerError: (error: unknown, topic: string) => void;
  }) {
    this.#trie = new TopicTrie(options.maxTopicCacheEntries);
    this.#maxPerConnection = options.maxSubscriptionsPerConnection;
    this.#send = options.send;
    this.#onHandlerError = options.onHandlerError;
  }

  /** Subscription pairs held (collectors and in-process). */
  get size(): number {
    return this.#trie.size;
  }

  stats(): RouterStats {
    return { ...this.#counters, ...this.#trie.stats() };
  }

  /** A collector's Subscribe; returns the Nack reason, or undefined to Ack. */
  subscribe(subscriber: RemoteSubscriber, pattern: string): NackReason | undefined {
    let canonical: string;
    try {
      canonical = normalizePattern(pattern);
    } catch (error) {
      return nackOf(error);
    }
    if (
      !this.#trie.has(canonical, subscriber) &&
      this.#trie.countOf(subscriber) >= this.#maxPerConnection
    ) {
      return {
        code: 'ERR_TOO_MANY_SUBSCRIPTIONS',
        message: `limit of ${this.#maxPerConnection} subscriptions per connection reached`,
      };
    }
    this.#counters.subscribes++;
    this.#trie.add(canonical, subscriber);
    return undefined;
  }

  /** A collector's Unsubscribe; returns the Nack reason, or undefined to Ack. */
  unsubscribe(subscriber: RemoteSubscriber, pattern: string): NackReason | undefined {
    try {
      this.#trie.remove(pattern, subscriber);
      this.#counters.unsubscribes++;
      return undefined;
    } catch (error) {
      return nackOf(error);
    }
  }

  /** Subscribes an in-process handler; returns the function that removes it. */
  local(pattern: string, handler: (message: TopicMessage) => void): () => void {
    const canonical = normalizePattern(pattern);
    const subscription: LocalSubscription = { type: 'local', handler };
    this.#counters.subscribes++;
    this.#trie.add(canonical, subscription);
    return () => {
      if (this.#trie.remove(canonical, subscription)) this.#counters.unsubscribes++;
    };
  }

  /** Drops every subscription of a collector; returns how many. */
  removeAll(subscriber: RemoteSubscriber): number {
    return this.#trie.removeAll(subscriber);
  }

  patternsOf(subscriber: RemoteSubscriber): string[] {
    return this.#trie.patternsOf(subscriber);
  }

  /** Delivers a (validated) topic message to every match except `from`. */
  route(
    topic: string,
    payload: Uint8Array,
    sender: string,
    from: RemoteSubscriber | undefined,
    messageId: bigint,
  ): PublishReport {
    this.#counters.publishesRouted++;
    const report: PublishReport = { delivered: 0, failed: [] };
    const subscribers = this.#trie.match(topic);
    if (subscribers.size === 0) return report;
    const envelope: Envelope = {
      messageId,
      body: { $case: 'publish', value: { topic, payload, sender } },
    };
    for (const subscriber of subscribers) {
      if (subscriber === from) continue;
      if (subscriber.type === 'local') {
        try {
          subscriber.handler({ topic, payload, sender, messageId });
          report.delivered++;
        } catch (error) {
          this.#counters.handlerErrors++;
          this.#onHandlerError(error, topic);
        }
        continue;
      }
      try {
        this.#send(subscriber.connection, envelope);
        report.delivered++;
      } catch (error) {
        if (!(error instanceof TransportError)) throw error;
        report.failed.push({ collectorId: subscriber.collectorId, error });
      }
    }
    this.#counters.deliveries += report.delivered;
    return report;
  }
}
