import { writeFileSync } from 'node:fs';
import { tempDir } from '@daemoneye/test-utils';
import { describe, expect, it } from 'vitest';
import { parseCollectors, parseRunArgs, parseStatusArgs, UsageError } from './args.js';
import { splitShellWords } from './shell-words.js';

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
      watchIntervalMs: 1000,
      onGiveUp: 'retry',
      output: undefined,
      logLevel: undefined,
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
    expect(args.collectors.map((c) => c.command)).toEqual([
      [process.execPath, '/a.js'],
      [process.execPath, '/b=c.js'],
    ]);
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

  it.each([
    ['procmond', '--collectors: expected KIND=COUNT[,KIND=COUNT], got "procmond"'],
    ['procmond=', '--collectors: expected KIND=COUNT[,KIND=COUNT], got "procmond="'],
    ['=2', '--collectors: expected KIND=COUNT[,KIND=COUNT], got "=2"'],
    ['procmond=1=2', '--collectors: expected KIND=COUNT[,KIND=COUNT], got "procmond=1=2"'],
    [
      'procmond=x',
      '--collectors: the count of procmond must be a whole number in 0..64, got "x"; expected KIND=COUNT[,KIND=COUNT], got "procmond=x"',
    ],
    [
      'procmond=-1',
      '--collectors: the count of procmond must be a whole number in 0..64, got "-1"; expected KIND=COUNT[,KIND=COUNT], got "procmond=-1"',
    ],
    [
      'Proc=1',
      '--collectors: kind must be 1..64 of [a-z0-9_-], got "Proc"; expected KIND=COUNT[,KIND=COUNT], got "Proc=1"',
    ],
    [
      'procmond=1,procmond=2',
      '--collectors: procmond given twice; expected KIND=COUNT[,KIND=COUNT], got "procmond=1,procmond=2"',
    ],
  ])('--collectors %j names the expected form', (text, message) => {
    expect(() => parseCollectors(text)).toThrow(new UsageError(message));
  });

  it.each([
    [['--interval', '-5'], '--interval must be a whole number >= 0, got -5'],
    [['--interval=-5'], '--interval must be a whole number >= 0, got -5'],
    [
      ['--heartbeat-interval', '-100'],
      '--heartbeat-interval must be a whole number >= 100, got -100',
    ],
    [['--heartbeat-interval', '99'], '--heartbeat-interval must be a whole number >= 100, got 99'],
    [['--interval', '5x'], '--interval must be a whole number >= 0, got "5x"'],
    [['--interval', '-1.5'], '--interval must be a whole number >= 0, got "-1.5"'],
    [['--interval', ''], '--interval must be a whole number >= 0, got ""'],
    [['--rounds', '1000000001'], '--rounds must be a whole number <= 1000000000, got 1000000001'],
    [['--collector-script', 'procmond'], '--collector-script: expected KIND=PATH, got "procmond"'],
    [['--collector-command', 'x'], '--collector-command: expected KIND=CMD, got "x"'],
    [['--bogus'], 'unknown option --bogus'],
    [['--intervall', '5'], 'unknown option --intervall (did you mean --interval?)'],
    [['--rounds'], '--rounds needs a value'],
    [['--rounds', '--interval', '5'], '--rounds needs a value'],
  ])('%j: the project own message, never Node "ambiguous"', (argv, message) => {
    expect(() => parseRunArgs(argv)).toThrow(new UsageError(message));
  });

  it('a negative value of --timeout of status is answered too', () => {
    expect(() => parseStatusArgs(['--timeout', '-3'])).toThrow(
      new UsageError('--timeout must be a whole number >= 1, got -3'),
    );
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

describe('--collector-command and --config', () => {
  it('splits a command line as a shell would, without running one', () => {
    expect(splitShellWords(`/usr/bin/procmond --x 'a b' "c \\"d\\"" e\\ f`)).toEqual([
      '/usr/bin/procmond',
      '--x',
      'a b',
      'c "d"',
      'e f',
    ]);
    expect(splitShellWords('\'$HOME\' "$HOME"')).toEqual(['$HOME', '$HOME']);
    expect(() => splitShellWords("'open")).toThrow(/unterminated/);
    const args = parseRunArgs([
      '--collectors',
      'procmond=1,netmond=1',
      '--collector-command',
      "netmond=/opt/n --flag 'x y'",
    ]);
    expect(args.collectors[1]).toMatchObject({
      kind: 'netmond',
      command: ['/opt/n', '--flag', 'x y'],
    });
    expect(() => parseRunArgs(['--collector-command', 'procmond=   '])).toThrow(UsageError);
    expect(() => parseRunArgs(['--collectors', 'pymond=1'])).toThrow(/unknown kind "pymond"/);
    expect(
      parseRunArgs([
        '--collectors',
        'pymond=1',
        '--collector-command',
        'pymond=/usr/bin/python3 c.py',
      ]).collectors,
    ).toEqual([{ kind: 'pymond', count: 1, command: ['/usr/bin/python3', 'c.py'] }]);
  });

  it('reads every setting from a JSON config; flags win; unknown keys refused with their path', async () => {
    const dir = await tempDir();
    const file = `${dir.dir}/agent.json`;
    writeFileSync(
      file,
      JSON.stringify({
        interval: 100,
        rounds: 3,
        timeout: 900,
        heartbeatInterval: 200,
        integrityPerRound: 1,
        watchInterval: 0,
        onGiveUp: 'exit',
        endpoint: '/e.sock',
        output: '/o.ndjson',
        logLevel: 'debug',
        collectors: [
          {
            kind: 'procmond',
            count: 2,
            command: '/bin/p',
            args: ['-v'],
            env: { A: '1' },
            maxRssBytes: 1 << 26,
            maxCpu: 0.5,
          },
        ],
      }),
    );
    const args = parseRunArgs(['--config', file, '--rounds', '5']);
    expect(args).toMatchObject({
      intervalMs: 100,
      rounds: 5,
      timeoutMs: 900,
      heartbeatIntervalMs: 200,
      integrityPerRound: 1,
      watchIntervalMs: 0,
      onGiveUp: 'exit',
      endpoint: '/e.sock',
      output: '/o.ndjson',
      logLevel: 'debug',
    });
    expect(args.collectors).toEqual([
      {
        kind: 'procmond',
        count: 2,
        command: ['/bin/p', '-v'],
        env: { A: '1' },
        maxRssBytes: 1 << 26,
        maxCpu: 0.5,
      },
    ]);
    writeFileSync(file, JSON.stringify({ collectors: [{ kind: 'procmond', comand: '/x' }] }));
    expect(() => parseRunArgs(['--config', file])).toThrow(
      '$.collectors[0].comand is not a known key',
    );
    writeFileSync(file, JSON.stringify({ intervall: 1 }));
    expect(() => parseRunArgs(['--config', file])).toThrow('$.intervall is not a known key');
    writeFileSync(file, '{ not json');
    expect(() => parseRunArgs(['--config', file])).toThrow(UsageError);
    await dir.cleanup();
  });

  it('parses --on-give-up and --watch-interval', () => {
    expect(parseRunArgs(['--on-give-up', 'exit', '--watch-interval', '0'])).toMatchObject({
      onGiveUp: 'exit',
      watchIntervalMs: 0,
    });
    expect(() => parseRunArgs(['--on-give-up', 'never'])).toThrow(UsageError);
  });
});

describe('collector commands are checked before start', () => {
  it('resolves paths and PATH names, refuses the missing', async () => {
    const { checkCommands, resolveCommand } = await import('./commands.js');
    expect(resolveCommand(process.execPath)).toBe(process.execPath);
    // A name found through PATH (PATHEXT on Windows): node need not be on Wine's PATH, cmd is.
    expect(resolveCommand(process.platform === 'win32' ? 'cmd' : 'node')).toBeDefined();
    expect(resolveCommand('/nonexistent/collector')).toBeUndefined();
    expect(() =>
      checkCommands([{ kind: 'procmond', count: 1, command: ['/nonexistent/collector'] }]),
    ).toThrow(UsageError);
    expect(() => checkCommands([{ kind: 'procmond', count: 1 }])).not.toThrow();
  });

  it('refuses a Node.js collector script that is not a file', async () => {
    const { checkCommands } = await import('./commands.js');
    const { dir, cleanup } = await tempDir();
    try {
      for (const script of ['/nonexistent/collector.js', dir]) {
        expect(() =>
          checkCommands([{ kind: 'procmond', count: 1, command: [process.execPath, script] }]),
        ).toThrow(
          `the procmond collector script ${JSON.stringify(script)} does not exist or is not a file`,
        );
      }
      const file = `${dir}/c.mjs`;
      writeFileSync(file, '');
      expect(() =>
        checkCommands([{ kind: 'procmond', count: 1, command: [process.execPath, file] }]),
      ).not.toThrow();
      expect(() =>
        checkCommands([
          { kind: 'procmond', count: 1, command: [process.execPath, '--inspect', file] },
        ]),
      ).not.toThrow();
    } finally {
      await cleanup();
    }
  });
});
