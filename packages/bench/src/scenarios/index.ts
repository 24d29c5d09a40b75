import type { Scenario } from '../scenario.js';
import { aggregationScenario } from './aggregation.js';
import { aggregatorScenario } from './aggregator.js';
import { balancerScenario } from './balancer.js';
import { ceilingScenario } from './ceiling.js';
import { codecScenario } from './codec.js';
import { failoverScenario } from './failover.js';
import { floorScenario } from './floor.js';
import { journalScenario } from './journal.js';
import { memoryScenario } from './memory.js';
import { throughputScenario } from './throughput.js';

/** Every scenario, in run order. */
export const scenarios: readonly Scenario[] = [
  floorScenario,
  codecScenario,
  aggregationScenario,
  throughputScenario,
  aggregatorScenario,
  ceilingScenario,
  balancerScenario,
  failoverScenario,
  memoryScenario,
  journalScenario,
];

/** Scenarios of the issue that this build cannot run, and why (listed in RESULTS.md). */
export const missingScenarios: readonly string[] = [];
