import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTransportError } from './errors.js';
import { normalizePattern, TopicTrie, validateTopic } from './topics.js';

function matches(pattern: string, topic: string): boolean {
  const trie = new TopicTrie<string>();
  trie.add(pattern, 's');
  return trie.match(topic).has('s');
}

describe('topic patterns', () => {
  it.each([
    ['events.process.*', 'events.process.lifecycle', true],
    ['events.process.+', 'events.process.lifecycle', true],
    ['events.process.+', 'events.process', false],
    ['events.process.+', 'events.process.lifecycle.start', false],
    ['events.process.#', 'events.process', true],
    ['events.process.#', 'events.process.lifecycle', true],
    ['events.process.#', 'events.process.lifecycle.start', true],
    ['events.#', 'events.network.connections', true],
    ['#', 'control.health.heartbeat', true],
    ['events.+.lifecycle', 'events.process.lifecycle', true],
    ['events.+.lifecycle', 'events.process.integrity', false],
    ['+.+', 'events.process', true],
    ['events.process.lifecycle', 'events.process.lifecycle', true],
    ['events.process.lifecycle', 'events.process.integrity', false],
    ['events.process', 'events.process.lifecycle', false],
    ['control.collector.task.+', 'control.collector.task.enumerate', true],
  ])('%s vs %s -> %s', (pattern, topic, expected) => {
    expect(matches(pattern, topic)).toBe(expected);
  });

  it.each([
    '',
    'events..x',
    'events.#.x',
    'Events.process',
    'events.pro cess',
    'a.b#',
    'a.+x',
    '.a',
    'a.',
  ])('rejects invalid pattern %j', (pattern) => {
    expect(() => normalizePattern(pattern)).toThrowError(
      expect.objectContaining({ code: 'ERR_INVALID_PATTERN' }),
    );
  });

  it.each(['', 'events.+', 'events.#', 'a..b', 'A.b', 'a b', 'x'.repeat(300)])(
    'rejects invalid topic %j',
    (topic) => {
      expect(() => validateTopic(topic)).toThrowError(
        expect.objectContaining({ code: 'ERR_INVALID_TOPIC' }),
      );
    },
  );

  it('treats * as an alias of +', () => {
    expect(normalizePattern('events.*.x')).toBe('events.+.x');
  });

  it('adds, removes and removes all', () => {
    const trie = new TopicTrie<string>();
    expect(trie.add('a.b', 'x')).toBe(true);
    expect(trie.add('a.b', 'x')).toBe(false);
    trie.add('a.#', 'x');
    trie.add('a.+', 'y');
    expect([...trie.match('a.b')].sort()).toEqual(['x', 'y']);
    expect(trie.remove('a.+', 'y')).toBe(true);
    expect([...trie.match('a.b')]).toEqual(['x']);
    expect(trie.removeAll('x')).toBe(2);
    expect(trie.match('a.b').size).toBe(0);
    expect(trie.size).toBe(0);
  });

  it('agrees with a reference matcher on random patterns (fast-check, fixed seed)', () => {
    const level = fc.constantFrom('a', 'b', 'c');
    const topicArb = fc.array(level, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
    const patternArb = fc
      .tuple(
        fc.array(fc.constantFrom('a', 'b', '+', '*'), { minLength: 0, maxLength: 4 }),
        fc.boolean(),
      )
      .filter(([levels, hash]) => levels.length > 0 || hash)
      .map(([levels, hash]) => [...levels, ...(hash ? ['#'] : [])].join('.'));
    const reference = (pattern: string, topic: string): boolean => {
      const p = pattern.split('.');
      const t = topic.split('.');
      for (let i = 0; i < p.length; i++) {
        if (p[i] === '#') return true;
        if (i >= t.length) return false;
        if (p[i] !== '+' && p[i] !== '*' && p[i] !== t[i]) return false;
      }
      return p.length === t.length;
    };
    fc.assert(
      fc.property(patternArb, topicArb, (pattern, topic) => {
        expect(matches(pattern, topic)).toBe(reference(pattern, topic));
      }),
      { seed: 99, numRuns: 2000 },
    );
  });

  it('only ever throws typed errors while parsing random strings (fixed seed)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        for (const parse of [validateTopic, normalizePattern]) {
          try {
            parse(text);
          } catch (error) {
            expect(isTransportError(error)).toBe(true);
          }
        }
      }),
      { seed: 5, numRuns: 2000 },
    );
  });
});

describe('TopicTrie match cache (precise invalidation)', () => {
  it('a subscribe or unsubscribe invalidates only the cached topics its pattern matches', () => {
    const trie = new TopicTrie<string>();
    trie.add('events.process.+', 'engine');
    const topics = ['events.process.lifecycle', 'events.network.connections', 'control.health.x'];
    for (const topic of topics) trie.match(topic);
    expect(trie.cachedTopics).toBe(3);
    // Churn on an unrelated pattern keeps every cached answer.
    for (let i = 0; i < 1000; i++) {
      trie.add(`churn.n${i}`, 'churner');
      trie.remove(`churn.n${i}`, 'churner');
    }
    expect(trie.stats().cacheInvalidations).toBe(0);
    for (const topic of topics) trie.match(topic);
    expect(trie.stats()).toMatchObject({ cacheHits: 3, cacheMisses: 3 });
    // A pattern that matches one cached topic drops exactly that one.
    trie.add('events.network.#', 'net');
    expect(trie.stats().cacheInvalidations).toBe(1);
    expect([...trie.match('events.network.connections')]).toEqual(['net']);
    expect(trie.match('events.process.lifecycle').has('engine')).toBe(true);
    expect(trie.stats()).toMatchObject({ cacheHits: 4, cacheMisses: 4 });
    // `+` and `#` reach every cached topic they match, and only those.
    trie.add('+.+.+', 'all-three-levels');
    expect(trie.stats().cacheInvalidations).toBe(4);
    trie.match('events');
    trie.add('#', 'everything');
    expect(trie.stats().cacheInvalidations).toBe(5); // only 'events' was cached again
  });

  it('stays correct through random subscribe/unsubscribe churn (fast-check, seed 11)', () => {
    const levels = ['a', 'b', 'c'];
    const level = fc.constantFrom(...levels);
    const pattern = fc
      .tuple(
        fc.array(fc.oneof(level, fc.constant('+')), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
      )
      .map(([parts, hash]) => (hash ? [...parts, '#'] : parts).join('.'));
    const topic = fc.array(level, { minLength: 1, maxLength: 4 }).map((p) => p.join('.'));
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), pattern, who: fc.constantFrom('x', 'y') }),
      fc.record({ kind: fc.constant('remove' as const), pattern, who: fc.constantFrom('x', 'y') }),
      fc.record({ kind: fc.constant('match' as const), topic }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const cached = new TopicTrie<string>(4);
        const held = new Map<string, Set<string>>([
          ['x', new Set()],
          ['y', new Set()],
        ]);
        for (const o of ops) {
          if (o.kind === 'add') {
            cached.add(o.pattern, o.who);
            held.get(o.who)?.add(o.pattern);
          } else if (o.kind === 'remove') {
            cached.remove(o.pattern, o.who);
            held.get(o.who)?.delete(o.pattern);
          } else {
            const fresh = new TopicTrie<string>(0);
            for (const [who, patterns] of held) for (const p of patterns) fresh.add(p, who);
            expect([...cached.match(o.topic)].sort()).toEqual([...fresh.match(o.topic)].sort());
          }
        }
        expect(cached.cachedTopics).toBeLessThanOrEqual(4);
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it('evicts the oldest cached topic when full (counted), never clears the cache wholesale', () => {
    const trie = new TopicTrie<string>(2);
    trie.add('#', 's');
    trie.match('a');
    trie.match('b');
    trie.match('c');
    expect(trie.cachedTopics).toBe(2);
    expect(trie.stats().cacheEvictions).toBe(1);
    trie.match('c');
    trie.match('b');
    expect(trie.stats().cacheHits).toBe(2);
  });

  it('counts patterns in O(1) per subscriber (size, countOf, has)', () => {
    const trie = new TopicTrie<string>();
    for (let i = 0; i < 100; i++) trie.add(`p.n${i}`, 'a');
    trie.add('p.n0', 'b');
    expect(trie.size).toBe(101);
    expect(trie.countOf('a')).toBe(100);
    expect(trie.has('p.n7', 'a')).toBe(true);
    expect(trie.has('p.n7', 'b')).toBe(false);
    trie.removeAll('a');
    expect(trie.size).toBe(1);
  });
});
