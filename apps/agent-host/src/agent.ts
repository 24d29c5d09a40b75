import { fileURLToPath } from 'node:url';
import { type CollectorSpec, type Coordinator, createCoordinator } from '@daemoneye/coordinator';
import type { RunArgs } from './args.js';
import { ENV_WATCH_INTERVAL } from './collectors/runtime.js';
import { CLI_KIND, STATUS_TOPIC, STOP_TOPIC } from './control.js';
import type { Logger } from './log.js';
import { logEvents } from './log-events.js';
import type { Sink } from './output.js';
import { eventLine, resultLine } from './output-line.js';
import { RateLimitedLog, WindowLimit } from './rate-limit.js';
import { RoundPolicy } from './rounds.js';
import type { AgentStatus, AgentSummary } from './status.js';

export { CLI_KIND, STATUS_TOPIC, STOP_TOPIC } from './control.js';
export type { EventLine, OutputLine } from './output-line.js';
export type { AgentStatus, AgentSummary } from './status.js';

/** Everything `run` needs: the parsed flags that shape the agent, where results go, the logger. */
export type AgentOptions = Omit<RunArgs, 'output' | 'logLevel' | 'help'> & {
  sink: Sink;
  log: Logger;
};

/** Events one collector may write to the sink per second; the rest are counted in `eventsDropped`. */
export const MAX_EVENTS_PER_SECOND = 1000;

/** Exit code when no collector of a kind is left and `--on-give-up exit` was asked for. */
export const EXIT_NO_COLLECTOR = 3;

function builtIn(kind: string): string[] {
  return [process.execPath, fileURLToPath(new URL(`./collectors/${kind}.js`, import.meta.url))];
}

/** The collector specs of the run: `<kind>-<n>` ids, the built-in collector unless a command is given. */
export function collectorSpecs(options: AgentOptions): CollectorSpec[] {
  const specs: CollectorSpec[] = [];
  for (const plan of options.collectors) {
    const [command = process.execPath, ...args] = plan.command ?? builtIn(plan.kind);
    for (let i = 1; i <= plan.count; i++) {
      specs.push({
        id: `${plan.kind}-${i}`,
        kind: plan.kind,
        command,
        args,
        env: { ...plan.env, [ENV_WATCH_INTERVAL]: String(options.watchIntervalMs) },
        ...(plan.maxRssBytes === undefined ? {} : { maxRssBytes: plan.maxRssBytes }),
        ...(plan.maxCpu === undefined ? {} : { maxCpu: plan.maxCpu }),
      });
    }
  }
  return specs;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The reference agent: a coordinator, the round policy, the sink and the logs. */
export class Agent {
  readonly coordinator: Coordinator;
  readonly #options: AgentOptions;
  readonly #log: Logger;
  readonly #stopping = new AbortController();
  readonly #policy: RoundPolicy;
  readonly #skipLog = new RateLimitedLog(30_000);
  #rounds = 0;
  #skipped = 0;
  #events = 0;
  #eventsDropped = 0;
  readonly #eventLimit = new WindowLimit(MAX_EVENTS_PER_SECOND);
  #lastLatencyMs: number | undefined;
  /** Set when the agent must end with a non-zero exit code of its own. */
  exitCode: number | undefined;

  constructor(options: AgentOptions) {
    this.#options = options;
    this.#log = options.log;
    this.coordinator = createCoordinator({
      collectors: collectorSpecs(options),
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      taskTimeoutMs: options.timeoutMs,
      controlKind: CLI_KIND,
      // --on-give-up exit: a given-up collector stays given up (no cool-down retry); the agent
      // reacts to collector-given-up below.
      ...(options.onGiveUp === 'exit' ? { giveUpCooldownMs: 0 } : {}),
      failover: { placementTimeoutMs: Math.max(options.timeoutMs, 1000) },
      onCallbackError: (error) => this.#log.error(error.message),
      ...(options.stateDir === undefined
        ? {}
        : { journal: { dir: options.stateDir, fsync: options.fsync } }),
    });
    this.#policy = new RoundPolicy(this.coordinator, this.#log, options);
    logEvents(this.coordinator, this.#log);
    this.#wire();
  }

  #wire(): void {
    const c = this.coordinator;
    c.subscribe('results.#', (message) => {
      if (message.type !== 'result') return;
      const line = resultLine(message.result);
      this.#lastLatencyMs = line.latencyMs;
      // A round skipped for want of collectors began no set: it is counted, not written.
      const skipped = message.result.mode === 'fan-out' && message.result.expected.length === 0;
      if (!skipped) this.#options.sink.write(line);
    });
    c.subscribe('events.#', (message) => {
      if (message.type !== 'event') return;
      if (!this.#eventLimit.take(message.collectorId)) {
        this.#eventsDropped++;
        this.#skipLog.log(
          `events:${message.collectorId}`,
          `${message.collectorId} publishes more than ${MAX_EVENTS_PER_SECOND} events/s: the excess is counted, not written (${this.#eventsDropped} so far)`,
          this.#log.warn,
        );
        return;
      }
      this.#events++;
      this.#options.sink.write(eventLine(message));
    });
    const json = (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value));
    c.handleControl(STATUS_TOPIC, () => json(this.status()));
    c.handleControl(STOP_TOPIC, (request) => {
      this.#log.info(
        `stop requested by ${request.clientId}: finishing the round in flight, then stopping`,
      );
      this.requestStop();
      return json({ stopping: true });
    });
    c.on('journal-error', (e) => this.#log.error(`${e.code}: ${e.message}`));
    c.on('collector-given-up', (e) => {
      if (this.#options.onGiveUp !== 'exit') return;
      const kind = c.status().collectors.find((x) => x.id === e.id)?.kind;
      const left = c.status().collectors.filter((x) => x.kind === kind && x.state !== 'given-up');
      if (left.length > 0) return;
      this.#log.error(`no ${kind ?? 'such'} collector is left and --on-give-up is exit: stopping`);
      this.exitCode = EXIT_NO_COLLECTOR;
      this.requestStop();
    });
  }

  /** Listens, starts the collectors and waits until each said Hello (or its start timeout passed). */
  async start(): Promise<{ ready: readonly string[]; missing: readonly string[] }> {
    const report = await this.coordinator.start({ signal: this.#stopping.signal });
    const journal = this.coordinator.status().journal;
    if (journal !== undefined) {
      const r = journal.recovery;
      this.#log.info(
        `journal ${journal.dir} (fsync ${journal.fsync}${journal.state === 'ok' ? '' : `, ${journal.state}: ${journal.lastError ?? ''}`}): ${journal.opened.records} records replayed, ${journal.opened.cutBytes} bytes cut; ${r.rewritten} sets written again, ${r.resumed} resumed, ${r.closed} closed, ${r.completedFromJournal} completed from the journal`,
      );
    }
    if (report.missing.length > 0) {
      this.#log.warn(
        `${report.missing.length} collector(s) did not connect in time (${report.missing.join(', ')}); going on without them`,
      );
    }
    return report;
  }

  /** Runs rounds until `rounds` were tried or {@link requestStop} is called. */
  async run(): Promise<void> {
    const { rounds, intervalMs } = this.#options;
    const signal = this.#stopping.signal;
    for (let n = 1; rounds === 0 || n <= rounds; n++) {
      if (signal.aborted) break;
      const outcome = await this.#policy.round(this.#rounds + 1);
      if (outcome === 'ran') this.#rounds++;
      else {
        this.#skipped++;
        this.#skipLog.log(
          'skip',
          `round skipped: no collector is connected (${this.#skipped} so far)`,
          this.#log.warn,
        );
      }
      if (rounds !== 0 && n === rounds) break;
      await sleep(intervalMs, signal);
    }
  }

  /** True once a stop was asked for (signal, `stop`, broken output). */
  get stopRequested(): boolean {
    return this.#stopping.signal.aborted;
  }

  /** Stops scheduling new rounds; the round in flight still finishes or times out. */
  requestStop(): void {
    this.#stopping.abort();
  }

  /** Completes what is pending, stops the collectors and removes the endpoint files. Same promise every call. */
  shutdown(): Promise<void> {
    this.#stopping.abort();
    return this.coordinator.close();
  }

  /** SIGKILLs every collector process now (second signal). */
  forceKill(): void {
    this.coordinator.forceKill();
  }

  /** The state shown by `status`. */
  status(): AgentStatus {
    const memory = process.memoryUsage();
    return {
      ...this.coordinator.status(),
      rounds: this.#rounds,
      skippedRounds: this.#skipped,
      lastLatencyMs: this.#lastLatencyMs ?? null,
      memory: {
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        arrayBuffersBytes: memory.arrayBuffers,
      },
      output: { ...this.#options.sink.stats },
    };
  }

  /** The counters of {@link status}, folded for the exit summary. */
  summary(): AgentSummary {
    const s = this.status();
    return {
      rounds: s.rounds,
      skippedRounds: s.skippedRounds,
      tasks: s.tasks,
      aggregation: s.aggregation,
      rejectedResults: s.rejectedResults,
      refusedCollectors: s.refusedCollectors,
      refusals: s.refusals,
      transportErrors: s.transportErrors,
      restarts: s.collectors.reduce((n, c) => n + c.restarts, 0),
      results: s.collectors.reduce((n, c) => n + c.results, 0),
      events: this.#events,
      eventsDropped: this.#eventsDropped,
      output: s.output,
    };
  }
}
