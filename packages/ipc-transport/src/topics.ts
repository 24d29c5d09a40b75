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

/** A trie of the concrete topics held in the match cache, so a pattern finds its entries. */
interface CacheNode {
  children: Map<string, CacheNode>;
  /** The cached topic that ends here, if any. */
  topic: string | undefined;
}

function cacheNode(): CacheNode {
  return { children: new Map(), topic: undefined };
}

/** Counters of a {@link TopicTrie}; they only grow. */
export interface TopicTrieStats {
  cacheHits: number;
  cacheMisses: number;
  /** Cached topics dropped because a subscription that matches them changed. */
  cacheInvalidations: number;
  /** Cached topics dropped because the cache was full (oldest first). */
  cacheEvictions: number;
}

/**
 * Subscriptions indexed by pattern levels. `match(topic)` walks the trie (cost grows with the
 * topic's depth and the wildcards on its path, not with the number of subscriptions) and caches
 * the answer per topic (at most `maxCacheEntries`, oldest evicted first). Adding or removing a
 * subscription costs O(pattern length) plus the cached topics that pattern matches, which are the
 * only entries it invalidates; it never scans the patterns held.
 */
export class TopicTrie<S> {
  private readonly root: TrieNode<S> = node();
  private readonly bySubscriber = new Map<S, Set<string>>();
  private readonly cache = new Map<string, ReadonlySet<S>>();
  private readonly cacheRoot: CacheNode = cacheNode();
  private readonly maxCacheEntries: number;
  private pairs = 0;
  private readonly counters: TopicTrieStats = {
    cacheHits: 0,
    cacheMisses: 0,
    cacheInvalidations: 0,
    cacheEvictions: 0,
  };

  constructor(maxCacheEntries = 4096) {
    this.maxCacheEntries = maxCacheEntries;
  }

  /** Number of (subscriber, pattern) pairs. */
  get size(): number {
    return this.pairs;
  }

  /** Topics currently cached. */
  get cachedTopics(): number {
    return this.cache.size;
  }

  /** Cache counters. */
  stats(): TopicTrieStats {
    return { ...this.counters };
  }

  /** Patterns (canonical) held by one subscriber. */
  patternsOf(subscriber: S): string[] {
    return [...(this.bySubscriber.get(subscriber) ?? [])];
  }

  /** How many patterns one subscriber holds (O(1)). */
  countOf(subscriber: S): number {
    return this.bySubscriber.get(subscriber)?.size ?? 0;
  }

  /** Whether `subscriber` holds the canonical `pattern` (O(1)). */
  has(canonical: string, subscriber: S): boolean {
    return this.bySubscriber.get(subscriber)?.has(canonical) ?? false;
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
    this.pairs++;
    const levels = canonical.split('.');
    let current = this.root;
    for (const level of levels) {
      if (level === '#') {
        current.hash.add(subscriber);
        this.invalidate(levels);
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
    this.invalidate(levels);
    return true;
  }

  /** Removes one subscription; returns false when it did not exist. */
  remove(pattern: string, subscriber: S): boolean {
    const canonical = normalizePattern(pattern);
    const patterns = this.bySubscriber.get(subscriber);
    if (!patterns?.delete(canonical)) return false;
    if (patterns.size === 0) this.bySubscriber.delete(subscriber);
    this.pairs--;
    const levels = canonical.split('.');
    this.removeFromTrie(this.root, levels, 0, subscriber);
    this.invalidate(levels);
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
    if (cached) {
      this.counters.cacheHits++;
      return cached;
    }
    this.counters.cacheMisses++;
    const found = new Set<S>();
    const levels = topic.split('.');
    this.collect(this.root, levels, 0, found);
    if (this.maxCacheEntries === 0) return found;
    if (this.cache.size >= this.maxCacheEntries) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) {
        this.dropCached(oldest.value);
        this.counters.cacheEvictions++;
      }
    }
    this.cache.set(topic, found);
    let at = this.cacheRoot;
    for (const level of levels) {
      let next = at.children.get(level);
      if (!next) {
        next = cacheNode();
        at.children.set(level, next);
      }
      at = next;
    }
    at.topic = topic;
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

  /** Drops the cached topics a pattern matches (and only those). */
  private invalidate(levels: readonly string[]): void {
    if (this.cache.size === 0) return;
    const doomed: string[] = [];
    this.cachedMatches(this.cacheRoot, levels, 0, doomed);
    for (const topic of doomed) {
      this.dropCached(topic);
      this.counters.cacheInvalidations++;
    }
  }

  private cachedMatches(
    at: CacheNode,
    levels: readonly string[],
    depth: number,
    out: string[],
  ): void {
    const level = levels[depth];
    if (level === undefined) {
      if (at.topic !== undefined) out.push(at.topic);
      return;
    }
    if (level === '#') {
      this.everyCached(at, out);
      return;
    }
    if (level === '+') {
      for (const child of at.children.values()) this.cachedMatches(child, levels, depth + 1, out);
      return;
    }
    const child = at.children.get(level);
    if (child) this.cachedMatches(child, levels, depth + 1, out);
  }

  private everyCached(at: CacheNode, out: string[]): void {
    if (at.topic !== undefined) out.push(at.topic);
    for (const child of at.children.values()) this.everyCached(child, out);
  }

  private dropCached(topic: string): void {
    this.cache.delete(topic);
    const path: CacheNode[] = [this.cacheRoot];
    const levels = topic.split('.');
    for (const level of levels) {
      const next = path[path.length - 1]?.children.get(level);
      if (!next) return;
      path.push(next);
    }
    const leaf = path[path.length - 1];
    if (leaf) leaf.topic = undefined;
    // Prune empty nodes bottom-up so the cache trie never outgrows the cache.
    for (let i = levels.length; i > 0; i--) {
      const child = path[i];
      const parent = path[i - 1];
      const level = levels[i - 1];
      if (!child || !parent || level === undefined) return;
      if (child.topic !== undefined || child.children.size > 0) return;
      parent.children.delete(level);
    }
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
