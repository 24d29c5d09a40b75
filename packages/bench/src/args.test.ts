import { describe, expect, it } from 'vitest';
import { parseArgs, selectScenarios, UsageError } from './args.js';

describe('parseArgs', () => {
  it('tolerates the leading -- that package managers pass through', () => {
    expect(parseArgs(['--', '--quick'])).toMatchObject({ quick: true, filters: [] });
  });

  it('reads --filter NAME, --filter=NAME and comma lists', () => {
    expect(parseArgs(['--filter', 'floor', '--filter=balancer,failover']).filters).toEqual([
      'floor',
      'balancer',
      'failover',
    ]);
  });

  it('reads --json, --markdown and --no-markdown', () => {
    expect(parseArgs(['--json'])).toMatchObject({ json: true, writeMarkdown: undefined });
    expect(parseArgs(['--markdown']).writeMarkdown).toBe(true);
    expect(parseArgs(['--no-markdown']).writeMarkdown).toBe(false);
  });

  it('refuses unknown flags and a --filter without a name', () => {
    expect(() => parseArgs(['--fast'])).toThrow(UsageError);
    expect(() => parseArgs(['--filter'])).toThrow(UsageError);
    expect(() => parseArgs(['--filter', '--quick'])).toThrow(UsageError);
  });
});

describe('selectScenarios', () => {
  const names = ['floor', 'aggregation', 'aggregator', 'balancer'];

  it('selects everything without a filter', () => {
    expect(selectScenarios(names, [])).toEqual(names);
  });

  it('matches an exact name alone and otherwise by prefix', () => {
    expect(selectScenarios(names, ['aggregation'])).toEqual(['aggregation']);
    expect(selectScenarios(names, ['aggreg'])).toEqual(['aggregation', 'aggregator']);
  });

  it('names a filter that matches nothing', () => {
    expect(() => selectScenarios(names, ['nope'])).toThrow(/nope/);
  });
});
