import { mulberry32 } from '@daemoneye/test-utils';

/**
 * A seeded uniform random source in [0, 1): the same seed gives the same stream. The bench needs
 * it at run time (seeded scenarios), and takes the one mulberry32 of `@daemoneye/test-utils`
 * (private, like the bench) instead of a copy of it.
 */
export const seededRandom: (seed: number) => () => number = mulberry32;

/** An integer in [0, n) from a random source. */
export function randomInt(random: () => number, n: number): number {
  return Math.floor(random() * n);
}
