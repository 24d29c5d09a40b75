import type { ScenarioOutput } from './result.js';

/** What a scenario gets from the CLI. */
export interface ScenarioContext {
  /** Short runs (CI). */
  readonly quick: boolean;
  /** Reports progress (shown on a TTY only). */
  progress(text: string): void;
  /** Figures of earlier scenarios of this run, by `scenario/case`, for cross-scenario ratios. */
  readonly shared: Map<string, number>;
}

/** One benchmark scenario. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  run(context: ScenarioContext): Promise<ScenarioOutput>;
}

/** Iteration counts: `[warm-up, measured]` for full and quick runs. */
export function iterations(
  quick: boolean,
  full: [number, number],
  short: [number, number],
): {
  warmup: number;
  measured: number;
} {
  const [warmup, measured] = quick ? short : full;
  return { warmup, measured };
}
