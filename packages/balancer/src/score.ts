import type { ScoreWeights } from './options.js';

/** The spec's full score of one load term: 1000 points at zero load. */
export const TERM_POINTS = 1000;

/** Bounds of the task-duration factor, so that one outlier EWMA cannot zero or flood a score. */
export const MIN_DURATION_FACTOR = 0.1;
export const MAX_DURATION_FACTOR = 10;

/**
 * A load term: `1000^2 / (1000 + cost * units)`. Equals the spec's `1000 - cost * units` in value
 * and slope at zero load, but decays towards 0 instead of going negative, so heavily loaded
 * collectors still rank among themselves. Never negative, never NaN for finite inputs >= 0.
 */
export function loadTerm(cost: number, units: number): number {
  const product = cost * units;
  if (!(product > 0)) return TERM_POINTS;
  return (TERM_POINTS * TERM_POINTS) / (TERM_POINTS + product);
}

/** Active tasks in reference-duration units, counting the task about to be placed. */
export function activeUnits(activeTasks: number, durationFactor: number): number {
  const units = (activeTasks + 1) * durationFactor - 1;
  return Math.max(units, 0);
}

/** `(ewma / fleetMean) ^ exponent`, clamped to [0.1, 10]; 1 when either is unknown. */
export function durationFactor(ewmaMs: number, fleetMeanMs: number, exponent: number): number {
  if (exponent === 0 || !(ewmaMs >= 0) || !(fleetMeanMs > 0)) return 1;
  const ratio = ewmaMs / fleetMeanMs;
  const factor = exponent === 1 ? ratio : ratio ** exponent;
  if (!(factor >= MIN_DURATION_FACTOR)) return MIN_DURATION_FACTOR;
  return Math.min(factor, MAX_DURATION_FACTOR);
}

/** The four additive terms of the weighted score, before collector weight and slow start. */
export interface ScoreTerms {
  /** `1000^2 / (1000 + w.active * activeUnits)`. */
  readonly active: number;
  /** `1000^2 / (1000 + w.queue * queueDepth * durationFactor)`. */
  readonly queue: number;
  /** `w.success * successRate`. */
  readonly success: number;
  /** `w.cpu * (1 - cpu)`. */
  readonly cpu: number;
}

/** Inputs of the weighted score once unknown values have been replaced by fleet means. */
export interface ScoreInputs {
  readonly activeTasks: number;
  readonly queueDepth: number;
  readonly cpu: number;
  readonly successRate: number;
  readonly durationFactor: number;
}

/** The terms of the weighted score for the given inputs. */
export function scoreTerms(w: ScoreWeights, inputs: ScoreInputs): ScoreTerms {
  return {
    active: loadTerm(w.active, activeUnits(inputs.activeTasks, inputs.durationFactor)),
    queue: loadTerm(w.queue, inputs.queueDepth * inputs.durationFactor),
    success: w.success * inputs.successRate,
    cpu: w.cpu * (1 - inputs.cpu),
  };
}
