import { describe, expect, it } from 'vitest';
import { parseCollectors, parseRunArgs, parseStatusArgs, UsageError } from './args.js';

describe('run flags', () => {
  it('has the documented defaults', () => {
    expect(parseRunArgs([])).toEqual({
      collectors: [
        { kind: 'procmond', count: 2 },
        { kind: 'netmond', count: 1 },
      ],
      endpoint: undefined,
      intervalMs: 5000,
      rounds: 0,
      timeoutMs: 2000,
      heartbeatIntervalMs: 10_000,
      integrityPerRound: 8,
      output: undefined,
      logLevel: undefined,
      collectorScripts: {},
      help: false,
    });
  });
  it('parses every flag', () => {
    const args = parseRunArgs([
      '--collectors',
      'netmond=3',
      '--endpoint',
      '/x.sock',
      '--interval',
      '10',
      '--rounds',
      '2',
      '--timeout',
      '7',
      '--heartbeat-interval',
      '100',
      '--output',
      '-',
      '--log-level',
      'debug',
    ]);
    expect(args).toMatchObject({
      collectors: [{ kind: 'netmond', count: 3 }],
      endpoint: '/x.sock',
      intervalMs: 10,
      rounds: 2,
      timeoutMs: 7,
      heartbeatIntervalMs: 100,
      output: '-',
      logLevel: 'debug',
    });
  });
  it.each([
    [['--rounds', '-1']],
    [['--interval', '1e3']],
    [['--timeout', '0']],
    [['--log-level', 'loud']],
    [['--output', '']],
    [['--what']],
    [['positional']],
  ])('refuses %j', (argv) => {
    expect(() => parseRunArgs(argv)).toThrow(UsageError);
  });
  it('parses --collector-script KIND=PATH, repeatable', () => {
    const args = parseRunArgs([
      '--collector-script',
      'procmond=/a.js',
      '--collector-script',
      'netmond=/b=c.js',
    ]);
    expect(args.collectorScripts).toEqual({ procmond: '/a.js', netmond: '/b=c.js' });
    expect(() => parseRunArgs(['--collector-script', 'foo=/a.js'])).toThrow(UsageError);
    expect(() => parseRunArgs(['--collector-script', 'procmond'])).toThrow(UsageError);
    expect(() => parseRunArgs(['--collector-script', 'procmond='])).toThrow(UsageError);
  });

  it('parses and checks --collectors', () => {
    expect(parseCollectors('procmond=1')).toEqual([{ kind: 'procmond', count: 1 }]);
    expect(() => parseCollectors('procmond=0')).toThrow(/at least one/);
    expect(() => parseCollectors('procmond=1,procmond=2')).toThrow(/twice/);
    expect(() => parseCollectors('procmond=65')).toThrow(/0\.\.64/);
  });
});

describe('status flags', () => {
  it('parses --json, --endpoint and --timeout', () => {
    expect(parseStatusArgs(['--json', '--endpoint', '/a.sock'])).toEqual({
      endpoint: '/a.sock',
      json: true,
      timeoutMs: 3000,
      help: false,
    });
    expect(() => parseStatusArgs(['--timeout', 'x'])).toThrow(UsageError);
  });
});
