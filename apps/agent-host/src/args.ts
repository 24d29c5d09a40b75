import type { FsyncPolicy } from '@daemoneye/coordinator';
import { integer, list, pairs, parse, str, type Values } from './argv.js';
import { loadConfig } from './config.js';
import {
  BUILT_IN_KINDS,
  type CollectorPlan,
  LOG_LEVELS,
  type LogLevel,
  NUMBERS,
  type OnGiveUp,
  parseCollectors,
  type Settings,
  UsageError,
} from './settings.js';
import { ShellWordsError, splitShellWords } from './shell-words.js';

export { type CollectorPlan, type LogLevel, parseCollectors, UsageError } from './settings.js';
export { MAIN_USAGE, RUN_USAGE, STATUS_USAGE, STOP_USAGE } from './usage.js';

export interface RunArgs {
  collectors: CollectorPlan[];
  endpoint: string | undefined;
  intervalMs: number;
  rounds: number;
  timeoutMs: number;
  heartbeatIntervalMs: number;
  integrityPerRound: number;
  watchIntervalMs: number;
  onGiveUp: OnGiveUp;
  /** A file path, `-` for stdout, or undefined for the default. */
  output: string | undefined;
  /** `--max-line-bytes`: longest output line; longer ones are written truncated. Default 16 MiB. */
  maxLineBytes?: number | undefined;
  logLevel: LogLevel | undefined;
  /** `--state-dir`: the coordinator's journal directory; undefined: no journal. */
  stateDir?: string | undefined;
  /** `--fsync`: the journal's fsync policy (only with `--state-dir`). Default `interval`. */
  fsync?: FsyncPolicy | undefined;
  help: boolean;
}

const FSYNC_POLICIES: readonly FsyncPolicy[] = ['always', 'interval', 'never'];

/** `--state-dir DIR` and `--fsync always|interval|never`. */
function journalFlags(values: Values): { stateDir?: string; fsync?: FsyncPolicy } {
  const stateDir = str(values, 'state-dir');
  const fsync = str(values, 'fsync');
  if (stateDir === '') throw new UsageError('--state-dir must be a directory path');
  const policy = FSYNC_POLICIES.find((p) => p === fsync);
  if (fsync !== undefined && policy === undefined)
    throw new UsageError(`--fsync must be one of ${FSYNC_POLICIES.join(', ')}, got "${fsync}"`);
  if (policy !== undefined && stateDir === undefined)
    throw new UsageError('--fsync needs --state-dir (the journal is off without it)');
  return {
    ...(stateDir === undefined ? {} : { stateDir }),
    ...(policy === undefined ? {} : { fsync: policy }),
  };
}

/** Flags of `status` and `stop`. */
export interface ClientArgs {
  endpoint: string | undefined;
  json: boolean;
  timeoutMs: number;
  help: boolean;
}

/** What the command line says, before the config file and the defaults. */
function flagSettings(values: Values): Settings {
  const s: Settings = {};
  const numbers: [string, keyof typeof NUMBERS][] = [
    ['interval', 'intervalMs'],
    ['rounds', 'rounds'],
    ['timeout', 'timeoutMs'],
    ['heartbeat-interval', 'heartbeatIntervalMs'],
    ['integrity-per-round', 'integrityPerRound'],
    ['watch-interval', 'watchIntervalMs'],
  ];
  for (const [flag, name] of numbers) {
    const [, min, max] = NUMBERS[name];
    const n = integer(flag, str(values, flag), min, max);
    if (n !== undefined) s[name] = n;
  }
  const collectors = str(values, 'collectors');
  if (collectors !== undefined) s.collectors = parseCollectors(collectors);
  s.endpoint = str(values, 'endpoint');
  const output = str(values, 'output');
  if (output === '') throw new UsageError('--output must be a file path or -');
  s.output = output;
  const level = str(values, 'log-level');
  if (level !== undefined) {
    s.logLevel = LOG_LEVELS.find((l) => l === level);
    if (s.logLevel === undefined)
      throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  }
  const onGiveUp = str(values, 'on-give-up');
  if (onGiveUp !== undefined) {
    if (onGiveUp !== 'retry' && onGiveUp !== 'exit')
      throw new UsageError(`--on-give-up must be retry or exit, got "${onGiveUp}"`);
    s.onGiveUp = onGiveUp;
  }
  return s;
}

/** Parses the flags of `run`; `--config FILE` fills in what the flags do not say. */
export function parseRunArgs(argv: string[]): RunArgs {
  const values = parse(argv, {
    collectors: { type: 'string' },
    'collector-command': { type: 'string', multiple: true },
    'collector-script': { type: 'string', multiple: true },
    config: { type: 'string' },
    endpoint: { type: 'string' },
    interval: { type: 'string' },
    rounds: { type: 'string' },
    timeout: { type: 'string' },
    'heartbeat-interval': { type: 'string' },
    'integrity-per-round': { type: 'string' },
    'watch-interval': { type: 'string' },
    'on-give-up': { type: 'string' },
    output: { type: 'string' },
    'max-line-bytes': { type: 'string' },
    'log-level': { type: 'string' },
    'state-dir': { type: 'string' },
    fsync: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  const flags = flagSettings(values);
  const journal = journalFlags(values);
  const maxLineBytes = integer('max-line-bytes', str(values, 'max-line-bytes'), 256, 2 ** 30);
  const configFile = str(values, 'config');
  const config: Settings = configFile === undefined ? {} : loadConfig(configFile);
  const pick = <K extends keyof Settings>(key: K): Settings[K] => flags[key] ?? config[key];
  const num = (key: keyof typeof NUMBERS): number => flags[key] ?? config[key] ?? NUMBERS[key][0];
  // Counts from --collectors win; what to run for a kind comes from the config unless a flag says.
  const fromConfig = new Map((config.collectors ?? []).map((c) => [c.kind, c]));
  const plans: CollectorPlan[] = (
    flags.collectors ??
    config.collectors ??
    parseCollectors('procmond=2,netmond=1')
  ).map((c) => ({
    ...fromConfig.get(c.kind),
    ...c,
    command: c.command ?? fromConfig.get(c.kind)?.command,
  }));
  const planOf = (flag: string, kind: string): CollectorPlan[] => {
    const found = plans.filter((p) => p.kind === kind);
    if (found.length === 0)
      throw new UsageError(
        `--${flag}: no collector of kind "${kind}" is run (add it to --collectors)`,
      );
    return found;
  };
  for (const [kind, path] of pairs(
    'collector-script',
    list(values, 'collector-script'),
    'KIND=PATH',
  )) {
    for (const plan of planOf('collector-script', kind)) plan.command = [process.execPath, path];
  }
  for (const [kind, line] of pairs(
    'collector-command',
    list(values, 'collector-command'),
    'KIND=CMD',
  )) {
    let words: string[];
    try {
      words = splitShellWords(line);
    } catch (error) {
      throw new UsageError(
        `--collector-command ${kind}: ${error instanceof ShellWordsError ? error.message : String(error)}`,
      );
    }
    if (words.length === 0)
      throw new UsageError(`--collector-command ${kind}: the command is empty`);
    for (const plan of planOf('collector-command', kind)) plan.command = words;
  }
  for (const plan of plans) {
    if (plan.command === undefined && !BUILT_IN_KINDS.some((k) => k === plan.kind)) {
      throw new UsageError(
        `unknown kind "${plan.kind}" (known: ${BUILT_IN_KINDS.join(', ')}; other kinds need --collector-command ${plan.kind}=CMD)`,
      );
    }
  }
  return {
    collectors: plans,
    endpoint: pick('endpoint'),
    intervalMs: num('intervalMs'),
    rounds: num('rounds'),
    timeoutMs: num('timeoutMs'),
    heartbeatIntervalMs: num('heartbeatIntervalMs'),
    integrityPerRound: num('integrityPerRound'),
    watchIntervalMs: num('watchIntervalMs'),
    onGiveUp: pick('onGiveUp') ?? 'retry',
    output: pick('output'),
    maxLineBytes,
    logLevel: pick('logLevel'),
    ...journal,
    help: values.help === true,
  };
}

/** Parses the flags of `status` (`json: true` allowed) or `stop`. */
export function parseClientArgs(argv: string[], allowJson: boolean): ClientArgs {
  const values = parse(argv, {
    endpoint: { type: 'string' },
    ...(allowJson ? { json: { type: 'boolean' } } : {}),
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  return {
    endpoint: str(values, 'endpoint'),
    json: values.json === true,
    timeoutMs: integer('timeout', str(values, 'timeout'), 1, 600_000) ?? 3000,
    help: values.help === true,
  };
}

/** Parses the flags of `status`. */
export function parseStatusArgs(argv: string[]): ClientArgs {
  return parseClientArgs(argv, true);
}
