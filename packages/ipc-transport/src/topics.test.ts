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
