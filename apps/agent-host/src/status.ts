import type { CoordinatorStatus } from '@daemoneye/coordinator';
import { ControlError, requestAgent, STATUS_TOPIC } from './control.js';
import type { SinkStats } from './output.js';

export { ControlError as StatusError } from './control.js';

/** The answer of `status --json`: the coordinator's snapshot plus the round counters. */
export type AgentStatus = CoordinatorStatus & {
  /** Rounds that ran (with at least one collector). */
  rounds: number;
  /** Rounds skipped because no collector was connected. */
  skippedRounds: number;
  lastLatencyMs: number | null;
  /** The agent's own memory (`process.memoryUsage()`): resident set, V8 heap in use, Buffers. */
  memory: { rssBytes: number; heapUsedBytes: number; arrayBuffersBytes: number };
  /** The sink's counters: lines written, truncated (and bytes cut), unserialisable, dropped. */
  output: SinkStats;
};

/** What the agent prints on stderr when it stops. */
export interface AgentSummary {
  rounds: number;
  skippedRounds: number;
  tasks: AgentStatus['tasks'];
  aggregation: AgentStatus['aggregation'];
  rejectedResults: number;
  refusedCollectors: number;
  refusals: AgentStatus['refusals'];
  transportErrors: AgentStatus['transportErrors'];
  restarts: number;
  results: number;
  events: number;
  /** Events over the per-collector rate, counted and not written. */
  eventsDropped: number;
  output: SinkStats;
}

function isAgentStatus(value: unknown): value is AgentStatus {
  return (
    typeof value === 'object' &&
    value !== null &&
    'collectors' in value &&
    Array.isArray(value.collectors) &&
    'tasks' in value &&
    'aggregation' in value
  );
}

/** Asks the running agent for its status over its IPC endpoint, authenticated with its token file. */
export async function fetchStatus(
  endpoint: string | undefined,
  timeoutMs: number,
): Promise<AgentStatus> {
  const answer = await requestAgent(endpoint, STATUS_TOPIC, timeoutMs);
  if (!isAgentStatus(answer)) throw new ControlError('the agent sent a malformed status');
  return answer;
}

function cell(value: string | number | null, width: number): string {
  const text = value === null ? '-' : String(value);
  return text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width);
}

/** Widest line {@link formatStatus} writes for ordinary values: the table fits 80 columns. */
export const STATUS_WIDTH = 79;

/** The legend printed under the table (one line). */
export const STATUS_LEGEND =
  'SCORE*: higher gets more tasks · HB: age of the last heartbeat · *: as reported';

/** A heartbeat age as `0.4s`, `12s`, `5m`. */
function age(ms: number | null): string | null {
  if (ms === null) return null;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 600_000) return `${Math.round(ms / 1000)}s`;
  return `${Math.round(ms / 60_000)}m`;
}

const COLUMNS: [string, number][] = [
  ['ID', 11],
  ['PID', 7],
  ['STATE', 10],
  ['ACTIVE', 6],
  ['QUEUE*', 6],
  ['SCORE*', 6],
  ['RESTARTS', 8],
  ['RESULTS', 7],
  ['HB', 5],
];

/**
 * Renders the collectors and counters as a plain-text table, at most {@link STATUS_WIDTH} columns.
 * ACTIVE is the agent's own count of tasks on the collector; QUEUE* and SCORE* come from (or are
 * derived from) its last heartbeat. `states` overrides the STATE shown (a recent failure).
 */
export function formatStatus(
  status: AgentStatus,
  states: ReadonlyMap<string, string> = new Map(),
): string {
  const lines = [
    COLUMNS.map(([h, w]) => cell(h, w))
      .join(' ')
      .trimEnd(),
  ];
  for (const c of status.collectors) {
    const state =
      states.get(c.id) ?? (c.health === 'degraded' && c.state === 'healthy' ? 'degraded' : c.state);
    const row = [
      c.id,
      c.pid,
      state,
      c.inFlight,
      c.queueDepth,
      c.score,
      c.restarts,
      c.results,
      age(c.lastHeartbeatAgoMs),
    ];
    lines.push(
      row
        .map((v, i) => cell(v, COLUMNS[i]?.[1] ?? 8))
        .join(' ')
        .trimEnd(),
    );
  }
  const t = status.tasks;
  const a = status.aggregation;
  lines.push('');
  lines.push(
    `rounds ${status.rounds} (skipped ${status.skippedRounds ?? 0})  pending sets ${status.pendingSets}  last aggregation ${status.lastLatencyMs ?? '-'} ms`,
  );
  lines.push(
    `tasks: accepted ${t.accepted}, completed ${t.completed}, failed ${t.failed}, in flight ${t.inFlight}`,
  );
  lines.push(
    `aggregation: completed ${a.completed}, partial ${a.partial}, late ${a.late}, duplicates ${a.duplicates}`,
  );
  const j = status.journal;
  if (j !== undefined) {
    lines.push(
      `journal: ${j.state}, fsync ${j.fsync}, ${j.segmentBytes} B, unjournaled ${j.unjournaled}, compactions ${j.compactions}`,
    );
  }
  lines.push(STATUS_LEGEND);
  return `${lines.join('\n')}\n`;
}
