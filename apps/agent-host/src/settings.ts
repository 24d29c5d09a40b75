/** Collector kinds the agent ships a built-in collector for. */
export const BUILT_IN_KINDS = ['procmond', 'netmond'] as const;

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];
export type OnGiveUp = 'retry' | 'exit';

/** Thrown for a bad command line or config file; the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** One collector kind to run: how many, and what. */
export interface CollectorPlan {
  kind: string;
  count: number;
  /** Executable and arguments; undefined = the built-in collector of `kind`. */
  command?: string[] | undefined;
  env?: Record<string, string> | undefined;
  maxRssBytes?: number | undefined;
  maxCpu?: number | undefined;
}

/** Everything `run` is told, by flags or the config file; undefined = not said. */
export interface Settings {
  collectors?: CollectorPlan[] | undefined;
  endpoint?: string | undefined;
  intervalMs?: number | undefined;
  rounds?: number | undefined;
  timeoutMs?: number | undefined;
  heartbeatIntervalMs?: number | undefined;
  integrityPerRound?: number | undefined;
  watchIntervalMs?: number | undefined;
  onGiveUp?: OnGiveUp | undefined;
  output?: string | undefined;
  logLevel?: LogLevel | undefined;
}

/** Range of each numeric setting: [default, min, max]. */
export const NUMBERS = {
  intervalMs: [5000, 0, 86_400_000],
  rounds: [0, 0, 1_000_000_000],
  timeoutMs: [2000, 1, 3_600_000],
  heartbeatIntervalMs: [10_000, 100, 3_600_000],
  integrityPerRound: [8, 0, 10_000],
  watchIntervalMs: [1000, 0, 3_600_000],
} as const;

const KIND = /^[a-z0-9_-]{1,64}$/;

/** Checks a kind name (it becomes a topic level and an id prefix). */
export function checkKind(where: string, kind: string): string {
  if (!KIND.test(kind))
    throw new UsageError(`${where}: kind must be 1..64 of [a-z0-9_-], got "${kind}"`);
  return kind;
}

/** The form `--collectors` takes, quoted in each of its errors. */
export const COLLECTORS_FORM = 'KIND=COUNT[,KIND=COUNT]';

/** Parses `procmond=2,netmond=1`; every error names the expected form and the text given. */
export function parseCollectors(text: string): CollectorPlan[] {
  const fail = (what: string): never => {
    throw new UsageError(`--collectors: ${what}expected ${COLLECTORS_FORM}, got "${text}"`);
  };
  const out: CollectorPlan[] = [];
  for (const part of text.split(',')) {
    const [kind = '', countText = '', ...extra] = part.trim().split('=');
    if (kind === '' || countText === '' || extra.length > 0) fail('');
    if (!KIND.test(kind)) fail(`kind must be 1..64 of [a-z0-9_-], got "${kind}"; `);
    if (out.some((c) => c.kind === kind)) fail(`${kind} given twice; `);
    const count = Number(countText);
    if (!/^\d+$/.test(countText) || count > 64)
      fail(`the count of ${kind} must be a whole number in 0..64, got "${countText}"; `);
    out.push({ kind, count });
  }
  if (out.every((c) => c.count === 0)) fail('at least one collector is needed (a COUNT >= 1); ');
  return out;
}
