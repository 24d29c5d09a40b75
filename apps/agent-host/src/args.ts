import { type ParseArgsConfig, parseArgs } from 'node:util';

/** Collector kinds the agent can run. */
export const COLLECTOR_KINDS = ['procmond', 'netmond'] as const;
export type CollectorKind = (typeof COLLECTOR_KINDS)[number];

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** Thrown for a bad command line; the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface RunArgs {
  collectors: { kind: CollectorKind; count: number }[];
  endpoint: string | undefined;
  intervalMs: number;
  rounds: number;
  timeoutMs: number;
  heartbeatIntervalMs: number;
  /** A file path, `-` for stdout, or undefined for the default. */
  output: string | undefined;
  logLevel: LogLevel | undefined;
  integrityPerRound: number;
  /** Node.js scripts replacing the built-in collector of a kind. */
  collectorScripts: Partial<Record<CollectorKind, string>>;
  help: boolean;
}

export interface StatusArgs {
  endpoint: string | undefined;
  json: boolean;
  timeoutMs: number;
  help: boolean;
}

export const RUN_USAGE = `Usage: daemoneye-agent run [options]

Runs the agent with real collector processes and writes one NDJSON line per aggregated result.

Options:
  --collectors LIST          kinds and counts, e.g. procmond=2,netmond=1 (default procmond=2,netmond=1)
  --endpoint PATH            socket path (default: $XDG_RUNTIME_DIR/daemoneye/agent.sock or
                             <tmpdir>/daemoneye-<uid>/agent.sock; Windows: \\\\.\\pipe\\daemoneye-<user>-agent)
  --interval MS              time between collection rounds (default 5000)
  --rounds N                 rounds to run, 0 = until SIGINT/SIGTERM (default 0)
  --timeout MS               timeout of each aggregation (default 2000)
  --heartbeat-interval MS    collector heartbeat interval, >= 100 (default 10000)
  --integrity-per-round N    integrity tasks for new processes per round (default 8)
  --collector-script K=PATH  run the Node.js script PATH as the collector of kind K instead of the
                             built-in one (repeatable; it must speak the collector protocol)
  --output FILE|-            NDJSON destination (default: stdout when it is not a TTY)
  --log-level LEVEL          error | warn | info | debug (default info; warn with the live table)
  -h, --help                 show this help
`;

export const STATUS_USAGE = `Usage: daemoneye-agent status [options]

Asks the running agent for its state over the local IPC endpoint (authenticated with its token file).

Options:
  --endpoint PATH   socket path of the agent (default as for 'run')
  --json            print JSON instead of a table
  --timeout MS      how long to wait for the answer (default 3000)
  -h, --help        show this help
`;

export const MAIN_USAGE = `Usage: daemoneye-agent <command> [options]

Commands:
  run      run the agent with real collector processes
  status   show the state of a running agent

Run 'daemoneye-agent <command> --help' for the options of a command.
`;

function integer(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value))
    throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${name} must be in ${min}..${max}, got ${n}`);
  return n;
}

/** Parses `procmond=2,netmond=1`. */
export function parseCollectors(text: string): { kind: CollectorKind; count: number }[] {
  const out: { kind: CollectorKind; count: number }[] = [];
  for (const part of text.split(',')) {
    const [kind = '', countText = ''] = part.trim().split('=');
    const known = COLLECTOR_KINDS.find((k) => k === kind);
    if (!known) {
      throw new UsageError(
        `--collectors: unknown kind "${kind}" (known: ${COLLECTOR_KINDS.join(', ')})`,
      );
    }
    if (out.some((c) => c.kind === known))
      throw new UsageError(`--collectors: ${known} given twice`);
    out.push({ kind: known, count: integer(`collectors ${known}`, countText, 1, 0, 64) });
  }
  if (out.every((c) => c.count === 0))
    throw new UsageError('--collectors: at least one collector is needed');
  return out;
}

function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function str(
  values: Record<string, string | boolean | (string | boolean)[] | undefined>,
  name: string,
): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** Parses the flags of `run`. */
export function parseRunArgs(argv: string[]): RunArgs {
  const { values } = parse(argv, {
    collectors: { type: 'string' },
    endpoint: { type: 'string' },
    interval: { type: 'string' },
    rounds: { type: 'string' },
    timeout: { type: 'string' },
    'heartbeat-interval': { type: 'string' },
    'integrity-per-round': { type: 'string' },
    'collector-script': { type: 'string', multiple: true },
    output: { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  const level = str(values, 'log-level');
  const logLevel = LOG_LEVELS.find((l) => l === level);
  if (level !== undefined && !logLevel) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  }
  const output = str(values, 'output');
  if (output === '') throw new UsageError('--output must be a file path or -');
  return {
    collectors: parseCollectors(str(values, 'collectors') ?? 'procmond=2,netmond=1'),
    endpoint: str(values, 'endpoint'),
    intervalMs: integer('interval', str(values, 'interval'), 5000, 0, 86_400_000),
    rounds: integer('rounds', str(values, 'rounds'), 0, 0, 1_000_000_000),
    timeoutMs: integer('timeout', str(values, 'timeout'), 2000, 1, 3_600_000),
    heartbeatIntervalMs: integer(
      'heartbeat-interval',
      str(values, 'heartbeat-interval'),
      10_000,
      100,
      3_600_000,
    ),
    integrityPerRound: integer(
      'integrity-per-round',
      str(values, 'integrity-per-round'),
      8,
      0,
      10_000,
    ),
    output,
    logLevel,
    collectorScripts: parseCollectorScripts(values['collector-script']),
    help: values.help === true,
  };
}

function parseCollectorScripts(
  value: string | boolean | (string | boolean)[] | undefined,
): Partial<Record<CollectorKind, string>> {
  const scripts: Partial<Record<CollectorKind, string>> = {};
  const entries = Array.isArray(value) ? value : value === undefined ? [] : [value];
  for (const entry of entries) {
    if (typeof entry !== 'string') continue;
    const at = entry.indexOf('=');
    const kind = COLLECTOR_KINDS.find((k) => k === entry.slice(0, at));
    const path = entry.slice(at + 1);
    if (at < 0 || !kind || path === '') {
      throw new UsageError(
        `--collector-script must be KIND=PATH with KIND one of ${COLLECTOR_KINDS.join(', ')}, got "${entry}"`,
      );
    }
    scripts[kind] = path;
  }
  return scripts;
}

/** Parses the flags of `status`. */
export function parseStatusArgs(argv: string[]): StatusArgs {
  const { values } = parse(argv, {
    endpoint: { type: 'string' },
    json: { type: 'boolean' },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  return {
    endpoint: str(values, 'endpoint'),
    json: values.json === true,
    timeoutMs: integer('timeout', str(values, 'timeout'), 3000, 1, 600_000),
    help: values.help === true,
  };
}
