/** Generic argv helpers of the CLI: node:util parseArgs with the project's own messages. */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { checkKind, UsageError } from './settings.js';

export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export function integer(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!/^[-+]?\d+$/.test(trimmed))
    throw new UsageError(`--${name} must be a whole number >= ${min}, got "${value}"`);
  const n = Number(trimmed);
  if (n < min) throw new UsageError(`--${name} must be a whole number >= ${min}, got ${n}`);
  if (n > max) throw new UsageError(`--${name} must be a whole number <= ${max}, got ${n}`);
  return n;
}

/**
 * `--interval -5` becomes `--interval=-5`: a value that looks like a negative number is the value of
 * the string option before it (Node's parser would call it ambiguous), so the range check answers.
 */
export function joinNegativeValues(
  argv: string[],
  options: NonNullable<ParseArgsConfig['options']>,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const next = argv[i + 1];
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : undefined;
    if (
      name !== undefined &&
      options[name]?.type === 'string' &&
      next !== undefined &&
      /^-[\d.]/.test(next)
    ) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

/** The known long option sharing the longest prefix (3 characters or more) with `name`, if any. */
function suggestion(name: string, known: readonly string[]): string {
  let best = '';
  let bestShared = 2;
  for (const candidate of known) {
    let shared = 0;
    while (shared < name.length && name[shared] === candidate[shared]) shared++;
    if (shared > bestShared) {
      best = candidate;
      bestShared = shared;
    }
  }
  return best === '' ? '' : ` (did you mean --${best}?)`;
}

/** Unknown options and missing values in the project's words, before Node's parser sees them. */
function checkOptions(argv: string[], options: NonNullable<ParseArgsConfig['options']>): void {
  const known = Object.keys(options);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--') || arg === '--') continue;
    const name = arg.slice(2).split('=')[0] ?? '';
    const option = options[name];
    if (option === undefined) {
      throw new UsageError(`unknown option --${name}${suggestion(name, known)}`);
    }
    const next = argv[i + 1];
    if (
      option.type === 'string' &&
      !arg.includes('=') &&
      (next === undefined || next.startsWith('--'))
    ) {
      throw new UsageError(`--${name} needs a value`);
    }
  }
}

export function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>): Values {
  checkOptions(argv, options);
  try {
    return parseArgs({
      args: joinNegativeValues(argv, options),
      options,
      allowPositionals: false,
      strict: true,
    }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

export function str(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function list(values: Values, name: string): string[] {
  const value = values[name];
  const entries = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return entries.filter((e): e is string => typeof e === 'string');
}

/** `KIND=VALUE` entries of a repeatable flag. */
export function pairs(flag: string, entries: string[], form: string): [string, string][] {
  return entries.map((entry) => {
    const at = entry.indexOf('=');
    const kind = entry.slice(0, at);
    const value = entry.slice(at + 1);
    if (at <= 0 || value.trim() === '')
      throw new UsageError(`--${flag}: expected ${form}, got "${entry}"`);
    try {
      return [checkKind(`--${flag}`, kind), value];
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new UsageError(`${message}; expected ${form}, got "${entry}"`);
    }
  });
}
