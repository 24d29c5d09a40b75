import type { ReceivedMessage } from './client-events.js';
import { TopicTrie } from './topics.js';

type Handler = (message: ReceivedMessage) => void;

/** The collector's own subscriptions: use counts per pattern (re-sent after reconnects) and handlers. */
export class SubscriptionSet {
  readonly #counts = new Map<string, number>();
  readonly #handlers = new TopicTrie<Handler>();

  /** One more use of a canonical pattern (and its handler). */
  add(canonical: string, handler: Handler | undefined): void {
    if (handler) this.#handlers.add(canonical, handler);
    this.#counts.set(canonical, (this.#counts.get(canonical) ?? 0) + 1);
  }

  /** One use less; true when it was the last one (the broker must be told). */
  release(canonical: string, handler: Handler | undefined): boolean {
    if (handler) this.#handlers.remove(canonical, handler);
    const left = (this.#counts.get(canonical) ?? 0) - 1;
    if (left > 0) {
      this.#counts.set(canonical, left);
      return false;
    }
    this.#counts.delete(canonical);
    return true;
  }

  /** Forgets a pattern the broker refused, so no reconnect re-sends it. */
  drop(canonical: string): void {
    this.#counts.delete(canonical);
  }

  patterns(): string[] {
    return [...this.#counts.keys()];
  }

  handlersFor(topic: string): ReadonlySet<Handler> {
    return this.#handlers.match(topic);
  }
}
