import type { CoordinatorStatus } from '@daemoneye/coordinator';
import { ControlError, requestAgent, STATUS_TOPIC } from './control.js';

export { ControlError as StatusError } from './control.js';

/** The answer of `status --json`: the coordinator's snapshot plus the round counters. */
export type AgentStatus = CoordinatorStatus & {
  /** Rounds that ran (with at least one collector). */
  rounds: number;
  /** Rounds skipped because no collector was connected. */
  skippedRounds: number;
  lastLatencyMs: number | null;
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

/** Renders the collectors and counters as a plain-text table. */
export function formatStatus(status: AgentStatus): string {
  const header = [
    'ID',
    'KIND',
    'PID',
    'STATE',
    'ACTIVE',
    'QUEUE',
    'SCORE',
    'RESTARTS',
    'RESULTS',
    'HEARTBEAT',
  ];
  const widths = [12, 9, 8, 12, 7, 6, 8, 9, 9, 10];
  const lines = [header.map((h, i) => cell(h, widths[i] ?? 8)).join(' ')];
  for (const c of status.collectors) {
    const beat = c.lastHeartbeatAgoMs === null ? null : `${c.lastHeartbeatAgoMs} ms`;
    const state = c.health === 'degraded' && c.state === 'healthy' ? 'degraded' : c.state;
    const row = [
      c.id,
      c.kind,
      c.pid,
      state,
      c.inFlight ?? c.activeTasks,
      c.queueDepth,
      c.score,
      c.restarts,
      c.results,
      beat,
    ];
    lines.push(row.map((v, i) => cell(v, widths[i] ?? 8)).join(' '));
  }
  const t = status.tasks;
  const a = status.aggregation;
  lines.push('');
  lines.push(
    `rounds ${status.rounds} (skipped ${status.skippedRounds ?? 0})   pending sets ${status.pendingSets}   last aggregation ${status.lastLatencyMs ?? '-'} ms`,
  );
  lines.push(
    `tasks: accepted ${t.accepted}, completed ${t.completed}, failed ${t.failed}, in flight ${t.inFlight}`,
  );
  lines.push(
    `aggregation: completed ${a.completed}, partial ${a.partial}, late ${a.late}, duplicates ${a.duplicates}`,
  );
  lines.push(
    'ACTIVE: tasks the agent has on the collector; QUEUE, SCORE: from its last heartbeat (as reported)',
  );
  return `${lines.join('\n')}\n`;
}
