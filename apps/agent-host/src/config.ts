import { readFileSync } from 'node:fs';
import {
  type CollectorPlan,
  checkKind,
  LOG_LEVELS,
  NUMBERS,
  type Settings,
  UsageError,
} from './settings.js';

const TOP_KEYS = [
  'collectors',
  'endpoint',
  'interval',
  'rounds',
  'timeout',
  'heartbeatInterval',
  'integrityPerRound',
  'watchInterval',
  'onGiveUp',
  'output',
  'logLevel',
];
const COLLECTOR_KEYS = ['kind', 'count', 'command', 'args', 'env', 'maxRssBytes', 'maxCpu'];
const NUMBER_KEYS: Record<string, keyof typeof NUMBERS> = {
  interval: 'intervalMs',
  rounds: 'rounds',
  timeout: 'timeoutMs',
  heartbeatInterval: 'heartbeatIntervalMs',
  integrityPerRound: 'integrityPerRound',
  watchInterval: 'watchIntervalMs',
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(file: string, path: string, message: string): never {
  throw new UsageError(`--config ${file}: ${path} ${message}`);
}

function refuseUnknown(
  file: string,
  path: string,
  value: Record<string, unknown>,
  known: string[],
): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key))
      fail(file, `${path}.${key}`, `is not a known key (known: ${known.join(', ')})`);
  }
}

function whole(file: string, path: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    fail(file, path, `must be a whole number in ${min}..${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function str(file: string, path: string, value: unknown): string {
  if (typeof value !== 'string' || value === '')
    fail(file, path, `must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

function collector(file: string, path: string, value: unknown): CollectorPlan {
  if (!isRecord(value)) fail(file, path, 'must be an object');
  refuseUnknown(file, path, value, COLLECTOR_KEYS);
  const kind = str(file, `${path}.kind`, value.kind);
  try {
    checkKind(`${path}.kind`, kind);
  } catch (error) {
    fail(file, `${path}.kind`, error instanceof Error ? error.message : String(error));
  }
  const plan: CollectorPlan = {
    kind,
    count: value.count === undefined ? 1 : whole(file, `${path}.count`, value.count, 0, 64),
  };
  if (value.command !== undefined) {
    const args = value.args ?? [];
    if (!Array.isArray(args) || args.some((a) => typeof a !== 'string'))
      fail(file, `${path}.args`, 'must be an array of strings');
    plan.command = [str(file, `${path}.command`, value.command), ...args.map(String)];
  } else if (value.args !== undefined) fail(file, `${path}.args`, 'needs a command');
  if (value.env !== undefined) {
    if (!isRecord(value.env) || Object.values(value.env).some((v) => typeof v !== 'string')) {
      fail(file, `${path}.env`, 'must be an object of strings');
    }
    plan.env = Object.fromEntries(Object.entries(value.env).map(([k, v]) => [k, String(v)]));
  }
  if (value.maxRssBytes !== undefined)
    plan.maxRssBytes = whole(file, `${path}.maxRssBytes`, value.maxRssBytes, 1 << 20, 2 ** 50);
  if (value.maxCpu !== undefined) {
    if (typeof value.maxCpu !== 'number' || !(value.maxCpu > 0 && value.maxCpu <= 1))
      fail(file, `${path}.maxCpu`, 'must be a number in (0, 1]');
    plan.maxCpu = value.maxCpu;
  }
  return plan;
}

/** Reads a JSON config file; every key maps to a flag; unknown keys are refused with their JSON path. */
export function loadConfig(file: string): Settings {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(
      `--config ${file}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (!isRecord(parsed)) fail(file, '$', 'must be a JSON object');
  refuseUnknown(file, '$', parsed, TOP_KEYS);
  const settings: Settings = {};
  for (const [key, name] of Object.entries(NUMBER_KEYS)) {
    const value = parsed[key];
    if (value === undefined) continue;
    const [, min, max] = NUMBERS[name];
    settings[name] = whole(file, `$.${key}`, value, min, max);
  }
  if (parsed.endpoint !== undefined) settings.endpoint = str(file, '$.endpoint', parsed.endpoint);
  if (parsed.output !== undefined) settings.output = str(file, '$.output', parsed.output);
  if (parsed.logLevel !== undefined) {
    const level = LOG_LEVELS.find((l) => l === parsed.logLevel);
    if (level === undefined) fail(file, '$.logLevel', `must be one of ${LOG_LEVELS.join(', ')}`);
    settings.logLevel = level;
  }
  if (parsed.onGiveUp !== undefined) {
    if (parsed.onGiveUp !== 'retry' && parsed.onGiveUp !== 'exit')
      fail(file, '$.onGiveUp', 'must be "retry" or "exit"');
    settings.onGiveUp = parsed.onGiveUp;
  }
  if (parsed.collectors !== undefined) {
    if (!Array.isArray(parsed.collectors) || parsed.collectors.length === 0)
      fail(file, '$.collectors', 'must be a non-empty array');
    settings.collectors = parsed.collectors.map((c, i) => collector(file, `$.collectors[${i}]`, c));
    const kinds = settings.collectors.map((c) => c.kind);
    if (new Set(kinds).size !== kinds.length) fail(file, '$.collectors', 'lists a kind twice');
  }
  return settings;
}
