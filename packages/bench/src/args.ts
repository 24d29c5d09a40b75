/** What the command line asked for. */
export interface BenchArgs {
  /** Scenario names (or prefixes) to run; empty means all. */
  readonly filters: readonly string[];
  /** Short runs for CI: the bench keeps working, its figures mean little. */
  readonly quick: boolean;
  /** Print the results as JSON on stdout instead of the table. */
  readonly json: boolean;
  /** Write `RESULTS.md` (default: on a full run of every scenario). */
  readonly writeMarkdown: boolean | undefined;
  readonly help: boolean;
}

/** Thrown for an unknown flag or a missing value; the CLI prints it with the usage. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The usage text. */
export const USAGE = `usage: pnpm bench [-- options]

  --filter NAME   run the scenarios whose name starts with NAME (repeatable, or comma-separated)
  --quick         short runs (CI); figures are indicative only
  --json          print every result as JSON on stdout
  --markdown      write RESULTS.md even for a filtered or quick run
  --no-markdown   do not write RESULTS.md
  --list          list scenario names
  -h, --help      this text`;

/**
 * Parses argv (without node and the script). A leading or stray `--` (as package managers pass
 * it through) is ignored. `--list` is reported as a filter of `'list'` through `list`.
 */
export function parseArgs(argv: readonly string[]): BenchArgs & { readonly list: boolean } {
  const filters: string[] = [];
  let quick = false;
  let json = false;
  let help = false;
  let list = false;
  let writeMarkdown: boolean | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') continue;
    if (arg === '--quick' || arg === '-q') quick = true;
    else if (arg === '--json') json = true;
    else if (arg === '--markdown') writeMarkdown = true;
    else if (arg === '--no-markdown') writeMarkdown = false;
    else if (arg === '--list') list = true;
    else if (arg === '-h' || arg === '--help') help = true;
    else if (arg === '--filter' || arg === '-f') {
      const value = argv[++i];
      if (value === undefined || value === '' || value.startsWith('-')) {
        throw new UsageError(`${arg} needs a scenario name`);
      }
      filters.push(...splitNames(value));
    } else if (arg.startsWith('--filter=')) {
      const value = arg.slice('--filter='.length);
      if (value === '') throw new UsageError('--filter needs a scenario name');
      filters.push(...splitNames(value));
    } else {
      throw new UsageError(`unknown argument: ${arg}`);
    }
  }
  return { filters, quick, json, writeMarkdown, help, list };
}

function splitNames(value: string): string[] {
  return value
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

/** The names among `available` that the filters select (all when there is no filter). */
export function selectScenarios(
  available: readonly string[],
  filters: readonly string[],
): string[] {
  if (filters.length === 0) return [...available];
  // An exact name selects only that scenario; anything else is a prefix.
  const matches = (name: string, filter: string): boolean =>
    available.includes(filter) ? name === filter : name.startsWith(filter);
  const chosen = available.filter((name) => filters.some((filter) => matches(name, filter)));
  const unmatched = filters.filter((filter) => !available.some((name) => name.startsWith(filter)));
  if (unmatched.length > 0) {
    throw new UsageError(
      `no scenario matches ${unmatched.join(', ')} (available: ${available.join(', ')})`,
    );
  }
  return chosen;
}
