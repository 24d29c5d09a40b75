import { CollectorClient, isTransportError, RejectedError } from '@daemoneye/ipc-transport';
import { type AgentStatus, CLI_KIND, STATUS_REPLY_TOPIC, STATUS_TOPIC } from './agent.js';

/** Thrown by {@link fetchStatus} with a message meant for the operator. */
export class StatusError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StatusError';
  }
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
  const client = new CollectorClient({
    ...(endpoint ? { endpoint } : {}),
    collectorId: `status-${process.pid}`,
    kind: CLI_KIND,
    reconnect: false,
    connectTimeoutMs: timeoutMs,
  });
  const where = client.endpoint.path;
  try {
    await client.connect();
  } catch (error) {
    if (error instanceof RejectedError && error.rejectCode === 'ERR_AUTH_FAILED') {
      throw new StatusError(
        `the agent at ${where} refused the token in ${client.endpoint.tokenPath} (ERR_AUTH_FAILED): is it the token file of the running agent?`,
        { cause: error },
      );
    }
    if (isTransportError(error, 'ERR_TOKEN_FILE')) {
      throw new StatusError(`cannot use the token file: ${error.message}`, { cause: error });
    }
    const detail = error instanceof Error ? error.message : String(error);
    throw new StatusError(`no agent answers at ${where}: ${detail}`, { cause: error });
  }
  try {
    const answer = new Promise<AgentStatus>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new StatusError(`the agent did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      client.on('message', (message) => {
        if (message.topic !== STATUS_REPLY_TOPIC) return;
        clearTimeout(timer);
        try {
          const parsed: unknown = JSON.parse(Buffer.from(message.payload).toString('utf8'));
          if (isAgentStatus(parsed)) resolve(parsed);
          else reject(new StatusError('the agent sent a malformed status'));
        } catch (error) {
          reject(new StatusError('the agent sent a malformed status', { cause: error }));
        }
      });
    });
    client.publish(STATUS_TOPIC, new Uint8Array([0x7b, 0x7d]));
    return await answer;
  } finally {
    await client.close('status done');
  }
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
  const widths = [12, 9, 8, 11, 7, 6, 8, 9, 9, 10];
  const lines = [header.map((h, i) => cell(h, widths[i] ?? 8)).join(' ')];
  for (const c of status.collectors) {
    const beat = c.lastHeartbeatAgoMs === null ? null : `${c.lastHeartbeatAgoMs} ms`;
    const row = [
      c.id,
      c.kind,
      c.pid,
      c.state,
      c.activeTasks,
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
    `rounds ${status.rounds}   pending sets ${status.pendingSets}   last aggregation ${status.lastLatencyMs ?? '-'} ms`,
  );
  lines.push(
    `tasks: accepted ${t.accepted}, completed ${t.completed}, failed ${t.failed}, in flight ${t.inFlight}`,
  );
  lines.push(
    `aggregation: completed ${a.completed}, partial ${a.partial}, late ${a.late}, duplicates ${a.duplicates}`,
  );
  return `${lines.join('\n')}\n`;
}
