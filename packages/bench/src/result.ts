import type { Summary } from './stats.js';

/** Units the report knows how to print. */
export type Unit = 'us' | 'ms' | 'results/s' | 'B' | 'MiB' | 'count' | '%';

/** A target from the issues: `max` means measured must be <= value, `min` means >= value. */
export interface Target {
  readonly kind: 'max' | 'min';
  readonly value: number;
  /** Which figure of the row the target applies to. */
  readonly on: 'p99' | 'median' | 'value';
}

/** A ratio between two figures of the same run, optionally with its own target. */
export interface Ratio {
  /** e.g. `p99 / raw one-way p99`. */
  readonly label: string;
  readonly value: number;
  readonly target?: { readonly kind: 'max' | 'min'; readonly value: number };
}

/** One line of the report. */
export interface Row {
  readonly case: string;
  readonly unit: Unit;
  /** Number of samples (or runs) behind the figures. */
  readonly n: number;
  readonly median: number | null;
  readonly p99: number | null;
  readonly p999: number | null;
  /** A single figure (throughput, memory) when there is no distribution. */
  readonly value: number | null;
  readonly target?: Target;
  readonly ratios: readonly Ratio[];
  /** True when the row is a baseline (no target of its own). */
  readonly baseline?: boolean;
  readonly note?: string;
}

/** What a scenario returns. */
export interface ScenarioOutput {
  readonly rows: readonly Row[];
  readonly notes: readonly string[];
}

/** What is written to `results/<scenario>.json`. */
export interface ScenarioResult extends ScenarioOutput {
  readonly scenario: string;
  readonly description: string;
  readonly quick: boolean;
  readonly startedAt: string;
  readonly durationMs: number;
  /** 1-minute load average when the scenario started (absent in results written before it existed). */
  readonly loadAverage1mStart?: number;
  readonly machine: MachineInfo;
}

/** The machine and runtime a result was measured on. */
export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly platform: string;
  readonly kernel: string;
  /** 1-minute load average when the scenario ended (read after its run; other work on the machine skews p99). */
  readonly loadAverage1m: number;
}

/** Options of {@link distributionRow}. */
export interface RowExtras {
  readonly target?: Target;
  readonly ratios?: readonly Ratio[];
  readonly baseline?: boolean;
  readonly note?: string;
}

/** A row from a summary of latency samples. */
export function distributionRow(
  name: string,
  unit: Unit,
  summary: Summary,
  extras: RowExtras = {},
): Row {
  return {
    case: name,
    unit,
    n: summary.n,
    median: finite(summary.p50),
    p99: finite(summary.p99),
    p999: finite(summary.p999),
    value: null,
    ratios: extras.ratios ?? [],
    ...(extras.target ? { target: extras.target } : {}),
    ...(extras.baseline ? { baseline: true } : {}),
    ...(extras.note ? { note: extras.note } : {}),
  };
}

/** A row holding one figure. */
export function valueRow(
  name: string,
  unit: Unit,
  value: number,
  n: number,
  extras: RowExtras = {},
): Row {
  return {
    case: name,
    unit,
    n,
    median: null,
    p99: null,
    p999: null,
    value: finite(value),
    ratios: extras.ratios ?? [],
    ...(extras.target ? { target: extras.target } : {}),
    ...(extras.baseline ? { baseline: true } : {}),
    ...(extras.note ? { note: extras.note } : {}),
  };
}

function finite(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** The figure of a row a target applies to. */
export function figure(row: Row, on: Target['on']): number | null {
  if (on === 'p99') return row.p99;
  if (on === 'median') return row.median;
  return row.value;
}

/** measured / target, or null when either is missing. */
export function targetRatio(row: Row): number | null {
  if (!row.target) return null;
  const measured = figure(row, row.target.on);
  return measured === null ? null : measured / row.target.value;
}

/** Whether a ratio or row meets its target; undefined when it has none. */
export function meets(
  kind: 'max' | 'min',
  measured: number | null,
  value: number,
): boolean | undefined {
  if (measured === null) return undefined;
  return kind === 'max' ? measured <= value : measured >= value;
}

/** Whether a row meets its own target and every ratio target. */
export function rowMeets(row: Row): boolean | undefined {
  const checks: (boolean | undefined)[] = [];
  if (row.target) checks.push(meets(row.target.kind, figure(row, row.target.on), row.target.value));
  for (const ratio of row.ratios) {
    if (ratio.target) checks.push(meets(ratio.target.kind, ratio.value, ratio.target.value));
  }
  const defined = checks.filter((check): check is boolean => check !== undefined);
  if (defined.length === 0) return undefined;
  return defined.every(Boolean);
}
