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

/** Parses `procmond=2,netmond=1`. */
export function parseCollectors(text: string): CollectorPlan[] {
  const out: CollectorPlan[] = [];
  for (const part of text.split(',')) {
    const [kind = '', countText = '', ...extra] = part.trim().split('=');
    if (kind === '' || countText === '' || extra.length > 0) {
      throw new UsageError(`--collectors must be KIND=COUNT[,KIND=COUNT], got "${text}"`);
    }
    checkKind('--collectors', kind);
    if (out.some((c) => c.kind === kind)) throw new UsageError(`--collectors: ${kind} given twice`);
    if (!/^\d+$/.test(countText)) {
      throw new UsageError(`--collectors ${kind} must be a whole number, got "${countText}"`);
    }
    const count = Number(countText);
    if (count > 64) throw new UsageError(`--collectors ${kind} must be in 0..64, got ${count}`);
    out.push({ kind, count });
  }
  if (out.every((c) => c.count === 0))
    throw new UsageError('--collectors: at least one collector is needed');
  return out;
}
