import { isTransportError } from '@daemoneye/ipc-transport';
import { Agent } from './agent.js';
import type { RunArgs } from './args.js';
import { checkCommands } from './commands.js';
import { createLogger } from './log.js';
import { nullSink, openOutput, type Sink, stdoutSink } from './output.js';
import { LiveTable } from './table.js';

/** Exit codes: 0 ok, 1 runtime failure, 130 forced by a second signal (3: see EXIT_NO_COLLECTOR). */
const EXIT_FAILURE = 1;
const EXIT_FORCED = 130;

/** Signals that stop the agent gracefully; SIGBREAK is Ctrl-Break in a Windows console. */
function stopSignals(): NodeJS.Signals[] {
  return process.platform === 'win32'
    ? ['SIGINT', 'SIGBREAK', 'SIGTERM']
    : ['SIGINT', 'SIGTERM', 'SIGHUP'];
}

/** `daemoneye-agent run`: the agent with its sink, live table, signals and exit summary. */
export async function run(args: RunArgs): Promise<number> {
  checkCommands(args.collectors);
  const table = process.stdout.isTTY === true && args.output !== '-';
  const log = createLogger(args.logLevel ?? (table ? 'warn' : 'info'));
  let failure: Error | undefined;
  let agent: Agent | undefined;
  const onOutputError = (error: Error): void => {
    failure = error;
    log.error(`cannot write output: ${error.message}; stopping`);
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
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      log.info(`${signal}: finishing the round in flight, then stopping (send again to force)`);
      current.requestStop();
      return;
    }
    log.warn(`${signal} again: forcing shutdown`);
    current.forceKill();
    // The collectors are dead now, so shutdown finishes fast; it still removes the socket and
    // token files. Give it a moment, never forever.
    const giveUp = new Promise((resolve) => setTimeout(resolve, 2000).unref());
    void Promise.race([current.shutdown(), giveUp]).finally(() => process.exit(EXIT_FORCED));
  };
  for (const signal of stopSignals()) process.on(signal, onSignal);

  const live = table ? new LiveTable(process.stdout, () => current.status()) : undefined;
  const started = performance.now();
  try {
    await current.start();
    live?.start();
    await current.run();
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    const code = isTransportError(failure) ? `${failure.code}: ` : '';
    log.error(`agent failed: ${code}${failure.message}`);
  } finally {
    live?.stop();
    await current.shutdown();
    await sink.close();
  }
  const summary = { ...current.summary(), durationMs: Math.round(performance.now() - started) };
  process.stderr.write(`daemoneye-agent summary ${JSON.stringify(summary)}\n`);
  if (failure) return EXIT_FAILURE;
  return current.exitCode ?? 0;
}
