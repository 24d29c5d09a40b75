import type { Coordinator } from '@daemoneye/coordinator';
import type { Logger } from './log.js';
import { RateLimitedLog } from './rate-limit.js';

/** Stderr lines a collector may print per interval before the rest are counted, not logged. */
const STDERR_LINES_PER_INTERVAL = 50;

/**
 * Turns the coordinator's events into log lines. Repeated refusals, refused results and protocol
 * errors are logged at most once per reason per interval (the coordinator's counters stay exact).
 */
export function logEvents(coordinator: Coordinator, log: Logger, intervalMs = 10_000): void {
  const limited = new RateLimitedLog(intervalMs);
  const stderr = new Map<string, { since: number; lines: number; held: number }>();
  const c = coordinator;
  c.on('listening', (e) => log.info(`listening on ${e.endpoint}`));
  c.on('collector-spawned', (e) =>
    log.info(`started ${e.id} (pid ${e.pid}${e.restarts > 0 ? `, restart ${e.restarts}` : ''})`),
  );
  c.on('collector-ready', (e) => log.info(`${e.id} connected (pid ${e.pid})`));
  c.on('collector-refused', (e) =>
    limited.log(`refused:${e.reason}`, `${e.message}: disconnecting it (${e.reason})`, log.warn),
  );
  c.on('collector-disconnected', (e) => log.info(`${e.id} disconnected: ${e.reason}`));
  c.on('collector-failed', (e) => log.warn(`${e.id} failed (${e.reason})`));
  c.on('collector-exited', (e) =>
    log.warn(`${e.id} exited (code ${String(e.code)}, signal ${String(e.signal)})`),
  );
  c.on('collector-killed', (e) => log.warn(`killing ${e.id} (${e.reason}: ${e.detail})`));
  c.on('restart-scheduled', (e) =>
    log.info(`restarting ${e.id} in ${e.delayMs} ms (attempt ${e.attempt})`),
  );
  c.on('collector-start-timeout', (e) => log.warn(`${e.id} did not connect in time: ${e.message}`));
  c.on('collector-spawn-error', (e) => log.error(`cannot start ${e.id}: ${e.message}`));
  c.on('collector-given-up', (e) =>
    log.error(
      `${e.id} crashed ${e.restarts} times in ${e.windowMs} ms; giving up on it${e.retryInMs === undefined ? '' : ` for ${Math.round(e.retryInMs / 1000)} s`}`,
    ),
  );
  c.on('collector-retry', (e) =>
    log.info(`retrying ${e.id} after its cool-down (attempt ${e.attempt})`),
  );
  c.on('loop-stall', (e) =>
    log.warn(
      `the agent itself stalled ${e.lagMs} ms: no collector is judged stale for the next ${e.holdMs} ms`,
    ),
  );
  c.on('failover', (r) =>
    log.info(
      `failover of ${r.collectorId}: ${r.taken} task(s) taken, ${r.moved} moved, ${r.parked} parked, ${r.failed} failed`,
    ),
  );
  c.on('task-failed', (e) => log.debug(`task ${e.taskId} failed: ${e.reason}`));
  c.on('result-refused', (e) =>
    limited.log(
      `result:${e.reason}`,
      `result from ${e.collectorId} for ${e.correlationId.slice(0, 80)} refused (${e.reason})`,
      e.reason === 'not-admitted' ? log.warn : log.debug,
    ),
  );
  c.on('transport-error', (e) =>
    limited.log(
      `transport:${e.code}`,
      `${e.type === 'protocol-error' ? 'protocol error' : 'connection refused'} from ${e.collectorId ?? 'a client'}: ${e.code}: ${e.message}`,
      log.warn,
    ),
  );
  c.on('collector-stderr', (e) => {
    const now = performance.now();
    let entry = stderr.get(e.id);
    if (entry === undefined || now - entry.since >= intervalMs) {
      if (entry !== undefined && entry.held > 0)
        log.info(`[${e.id}] (${entry.held} more lines not logged)`);
      entry = { since: now, lines: 0, held: 0 };
      stderr.set(e.id, entry);
    }
    if (entry.lines++ < STDERR_LINES_PER_INTERVAL) log.info(`[${e.id}] ${e.line}`);
    else entry.held++;
  });
}
