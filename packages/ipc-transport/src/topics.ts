import { TransportError } from './errors.js';

const LEVEL = /^[a-z0-9_-]+$/;
/** Longest accepted topic or pattern, in characters. */
export const MAX_TOPIC_LENGTH = 256;

/** Throws `ERR_INVALID_TOPIC` unless `topic` is dot-separated levels of `[a-z0-9_-]`. */
export function validateTopic(topic: string): void {
  if (topic.length === 0 || topic.length > MAX_TOPIC_LENGTH) {
    throw new TransportError(
      'ERR_INVALID_TOPIC',
      `topic must be 1..${MAX_TOPIC_LENGTH} characters`,
    );
  }
  for (const level of topic.split('.')) {
    if (!LEVEL.test(level)) {
      throw new TransportError(
        'ERR_INVALID_TOPIC',
        `invalid topic "${topic}": each level must match [a-z0-9_-]+`,
      );
    }
  }
}

/**
 * Validates a subscription pattern and returns its canonical form: `*` becomes `+`.
 * `+` matches exactly one level; `#` matches zero or more trailing levels and must be last.
 */
export function normalizePattern(pattern: string): string {
  if (pattern.length === 0 || pattern.length > MAX_TOPIC_LENGTH) {
    throw new TransportError(
      'ERR_INVALID_PATTERN',
      `pattern must be 1..${MAX_TOPIC_LENGTH} characters`,
    );
  }
  const levels = pattern.split('.');
  const out: string[] = [];
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] ?? '';
    if (level === '#') {
      if (i !== levels.length - 1) {
        throw new TransportError(
          'ERR_INVALID_PATTERN',
          `invalid pattern "${pattern}": '#' must be the last level`,
        );
      }
      out.push('#');
    } else if (level === '+' || level === '*') {
      out.push('+');
    } else if (LEVEL.test(level)) {
      out.push(level);
    } else {
      throw new TransportError(
        'ERR_INVALID_PATTERN',
        `invalid pattern "${pattern}": each level must be [a-z0-9_-]+, '+', '*' or a final '#'`,
      );
    }
  }
  return out.join('.');
}

interface TrieNode<S> {
  children: Map<string, TrieNode<S>>;
  /** Subscribers whose pattern ends exactly here. */
  exact: Set<S>;
  /** Subscribers whose pattern ends with `#` right below this node. */
  hash: Set<S>;
}

function node<S>(): TrieNode<S> {
  return { children: new Map(), exact: new Set(), hash: new Set() };
}

/**
 * Subscriptions indexed by pattern levels. `match(topic)` walks the trie (cost grows with the
 * topic's depth and the wildcards on its path, not with the number of subscriptions) and caches
 * the answer per topic until the subscriptions change.
 */
export class TopicTrie<S> {
  private readonly root: TrieNode<S> = node();
  private readonly bySubscriber = new Map<S, Set<string>>();
  private readonly cache = new Map<string, ReadonlySet<S>>();
  private readonly maxCacheEntries: number;

  constructor(maxCacheEntries = 4096) {
    this.maxCacheEntries = maxCacheEntries;
  }

  /** Number of (subscriber, pattern) pairs. */
  get size(): number {
    let n = 0;
    for (const patterns of this.bySubscriber.values()) n += patterns.size;
    return n;
  }

  /** Patterns (canonical) held by one subscriber. */
  patternsOf(subscriber: S): string[] {
    return [...(this.bySubscriber.get(subscriber) ?? [])];
  }

  /** Adds a subscription; returns false when it already existed. Throws on an invalid pattern. */
  add(pattern: string, subscriber: S): boolean {
    const canonical = normalizePattern(pattern);
    let patterns = this.bySubscriber.get(subscriber);
    if (patterns?.has(canonical)) return false;
    if (!patterns) {
      patterns = new Set();
      this.bySubscriber.set(subscriber, patterns);
    }
    patterns.add(canonical);
    let current = this.root;
    const levels = canonical.split('.');
    for (const level of levels) {
      if (level === '#') {
        current.hash.add(subscriber);
        this.cache.clear();
        return true;
      }
      let next = current.children.get(level);
      if (!next) {
        next = node();
        current.children.set(level, next);
      }
      current = next;
    }
    current.exact.add(subscriber);
    this.cache.clear();
    return true;
  }

  /** Removes one subscription; returns false when it did not exist. */
  remove(pattern: string, subscriber: S): boolean {
    const canonical = normalizePattern(pattern);
    const patterns = this.bySubscriber.get(subscriber);
    if (!patterns?.delete(canonical)) return false;
    if (patterns.size === 0) this.bySubscriber.delete(subscriber);
    this.removeFromTrie(this.root, canonical.split('.'), 0, subscriber);
    this.cache.clear();
    return true;
  }

  /** Removes every subscription of a subscriber; returns how many there were. */
  removeAll(subscriber: S): number {
    const patterns = this.bySubscriber.get(subscriber);
    if (!patterns) return 0;
    const count = patterns.size;
    for (const pattern of [...patterns]) this.remove(pattern, subscriber);
    return count;
  }

  /** Subscribers whose pattern matches `topic` (which must be valid). */
  match(topic: string): ReadonlySet<S> {
    const cached = this.cache.get(topic);
    if (cached) return cached;
    const found = new Set<S>();
    this.collect(this.root, topic.split('.'), 0, found);
    if (this.cache.size >= this.maxCacheEntries) this.cache.clear();
    this.cache.set(topic, found);
    return found;
  }

  private collect(at: TrieNode<S>, levels: string[], depth: number, found: Set<S>): void {
    // `#` matches zero or more trailing levels, so it applies at every depth it is reached.
    for (const s of at.hash) found.add(s);
    if (depth === levels.length) {
      for (const s of at.exact) found.add(s);
      return;
    }
    const level = levels[depth] ?? '';
    const exact = at.children.get(level);
    if (exact) this.collect(exact, levels, depth + 1, found);
    const plus = at.children.get('+');
    if (plus) this.collect(plus, levels, depth + 1, found);
  }

  private removeFromTrie(at: TrieNode<S>, levels: string[], depth: number, subscriber: S): boolean {
    const level = levels[depth];
    if (level === '#') {
      at.hash.delete(subscriber);
    } else if (level === undefined) {
      at.exact.delete(subscriber);
    } else {
      const child = at.children.get(level);
      if (child && this.removeFromTrie(child, levels, depth + 1, subscriber)) {
        at.children.delete(level);
      }
    }
    return at.children.size === 0 && at.exact.size === 0 && at.hash.size === 0;
  }
}
