import { isTransportError } from '@daemoneye/ipc-transport';
import { Agent, EXIT_NO_COLLECTOR } from './agent.js';
import type { RunArgs } from './args.js';
import { checkCommands } from './commands.js';
import { createLogger } from './log.js';
import { nullSink, openOutput, type Sink, stdoutSink } from './output.js';
import { LiveTable } from './table.js';

/** Exit codes: 0 ok, 1 runtime failure, 2 usage, 3 no collector (EXIT_NO_COLLECTOR), 130 forced. */
const EXIT_FAILURE = 1;
const EXIT_FORCED = 130;

/** Signals that stop the agent gracefully; SIGBREAK is Ctrl-Break in a Windows console. */
function stopSignals(): NodeJS.Signals[] {
  return process.platform === 'win32'
    ? ['SIGINT', 'SIGBREAK', 'SIGTERM']
    : ['SIGINT', 'SIGTERM', 'SIGHUP'];
}

function isBrokenPipe(error: Error): boolean {
  return 'code' in error && (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED');
}

/** `daemoneye-agent run`: the agent with its sink, live table, signals and exit summary. */
export async function run(args: RunArgs): Promise<number> {
  checkCommands(args.collectors);
  const table = process.stdout.isTTY === true && args.output !== '-';
  const discarded = table && args.output === undefined;
  let live: LiveTable | undefined;
  // A closed stderr (`2>&1 | head`) must not kill the agent before it removed its files: the
  // log lines are dropped from then on.
  let stderrOpen = true;
  process.stderr.on('error', () => {
    stderrOpen = false;
  });
  const toStderr = (text: string): void => {
    if (stderrOpen) process.stderr.write(text);
  };
  const log = createLogger(args.logLevel ?? (table ? 'warn' : 'info'), (line) => {
    // On one terminal the log lines go above the live table and stay there.
    if (live !== undefined && process.stderr.isTTY === true) live.print(line, toStderr);
    else toStderr(line);
  });
  let failure: Error | undefined;
  let agent: Agent | undefined;
  const onOutputError = (error: Error): void => {
    if (isBrokenPipe(error) && args.output === undefined) {
      // `daemoneye-agent run | head -1`: the reader is done; stop cleanly, exit 0.
      log.info('stdout was closed: stopping');
    } else {
      failure = error;
      log.error(`cannot write output: ${error.message}; stopping`);
    }
    agent?.requestStop();
  };
  // Signal handlers exist before the output is opened: opening a FIFO waits for its reader, and
  // a signal during that wait stops the agent instead of leaving it stuck.
  const opening = new AbortController();
  const onEarlySignal = (signal: NodeJS.Signals): void => {
    opening.abort(new Error(`${signal} while opening the output`));
  };
  for (const signal of stopSignals()) process.on(signal, onEarlySignal);
  let sink: Sink;
  try {
    if (args.output !== undefined && args.output !== '-') {
      try {
        sink = await openOutput(args.output, onOutputError, {
          signal: opening.signal,
          maxLineBytes: args.maxLineBytes,
          onWaiting: (what) => log.warn(what),
        });
      } catch (error) {
        log.error(
          `cannot open output file ${args.output}: ${error instanceof Error ? error.message : String(error)}`,
        );
        return EXIT_FAILURE;
      }
    } else if (args.output === '-' || process.stdout.isTTY !== true) {
      sink = stdoutSink(onOutputError, { maxLineBytes: args.maxLineBytes });
    } else {
      sink = nullSink;
    }
  } finally {
    for (const signal of stopSignals()) process.off(signal, onEarlySignal);
  }

  agent = new Agent({ ...args, sink, log });
  const current = agent;
  /** Ends the process after a bounded shutdown that still removes the socket and token files. */
  const exitAfterShutdown = (code: number): void => {
    const giveUp = new Promise((resolve) => setTimeout(resolve, 2000).unref());
    void Promise.race([current.shutdown(), giveUp]).finally(() => process.exit(code));
  };
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      log.info(`${signal}: finishing the round in flight, then stopping (send again to force)`);
      current.requestStop();
      return;
    }
    log.warn(`${signal} again: forcing shutdown`);
    // The collectors are dead now, so shutdown finishes fast; it still removes the endpoint files.
    current.forceKill();
    exitAfterShutdown(EXIT_FORCED);
  };
  for (const signal of stopSignals()) process.on(signal, onSignal);
  // A bug anywhere must still leave no socket or token file behind.
  let crashed = false;
  const onCrash = (error: unknown): void => {
    if (crashed) return;
    crashed = true;
    log.error(
      `agent crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    exitAfterShutdown(EXIT_FAILURE);
  };
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);

  if (table) {
    const where = discarded
      ? 'results DISCARDED (no --output)'
      : `results to ${args.output ?? '-'}`;
    live = new LiveTable(
      process.stdout,
      () => current.status(),
      `daemoneye-agent: ${where} (Ctrl-C to stop)`,
    );
    const c = current.coordinator;
    const shown = live;
    c.on('collector-failed', (e) => shown.mark(e.id, 'failed'));
    c.on('collector-exited', (e) => shown.mark(e.id, 'exited'));
    c.on('collector-killed', (e) => shown.mark(e.id, 'killed'));
    c.on('restart-scheduled', (e) => shown.mark(e.id, 'restarting'));
    c.on('collector-given-up', (e) => shown.mark(e.id, 'given-up'));
  }
  if (discarded) {
    log.warn('results DISCARDED: use --output FILE to keep them');
  }
  const started = performance.now();
  let code = 0;
  try {
    const report = await current.start();
    if (report.ready.length === 0 && report.missing.length > 0 && !current.stopRequested) {
      log.error(`no collector could start (${report.missing.join(', ')}): stopping`);
      code = EXIT_NO_COLLECTOR;
    } else {
      live?.start();
      await current.run();
    }
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    const detail = isTransportError(failure) ? `${failure.code}: ` : '';
    log.error(`agent failed: ${detail}${failure.message}`);
  } finally {
    live?.stop();
    await current.shutdown();
    await sink.close();
  }
  const summary = { ...current.summary(), durationMs: Math.round(performance.now() - started) };
  toStderr(`daemoneye-agent summary ${JSON.stringify(summary)}\n`);
  const exit = failure ? EXIT_FAILURE : code || (current.exitCode ?? 0);
  // A stdout nobody reads holds its last write, and with it the process, forever: the sink gave up
  // on it (the lost lines are counted above), so there is nothing left to wait for.
  if (sink.error && process.stdout.writableLength > 0) process.exit(exit);
  return exit;
}
