import type { Scenario } from '../scenario.js';
import { floorScenario } from './floor.js';

/** Every scenario, in run order. */
export const scenarios: readonly Scenario[] = [floorScenario];

/** Scenarios of the issue that this build cannot run, and why (listed in RESULTS.md). */
export const missingScenarios: readonly string[] = [];
