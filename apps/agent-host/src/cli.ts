#!/usr/bin/env node
import { isTransportError } from '@daemoneye/ipc-transport';
import { Agent } from './agent.js';
import {
  MAIN_USAGE,
  parseRunArgs,
  parseStatusArgs,
  RUN_USAGE,
  type RunArgs,
  STATUS_USAGE,
  UsageError,
} from './args.js';
import { createLogger } from './log.js';
import { nullSink, openFileSink, type Sink, stdoutSink } from './output.js';
import { fetchStatus, formatStatus, StatusError } from './status.js';
import { LiveTable } from './table.js';

/** Exit codes: 0 ok, 1 runtime failure, 2 bad command line, 130 forced by a second signal. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const EXIT_FORCED = 130;

async function run(args: RunArgs): Promise<number> {
  const table = process.stdout.isTTY === true && args.output !== '-';
  const log = createLogger(args.logLevel ?? (table ? 'warn' : 'info'));
  let failure: Error | undefined;
  let agent: Agent | undefined;
  const onOutputError = (error: Error): void => {
    failure = error;
    log.error(`cannot write output: ${error.message}; stopping`);
    agent?.requestStop();
  };
  let sink: Sink;
  if (args.output !== undefined && args.output !== '-') {
    try {
      sink = await openFileSink(args.output, onOutputError);
    } catch (error) {
      log.error(
        `cannot open output file ${args.output}: ${error instanceof Error ? error.message : String(error)}`,
      );
      return EXIT_FAILURE;
    }
  } else if (args.output === '-' || process.stdout.isTTY !== true) {
    sink = stdoutSink(onOutputError);
  } else {
    sink = nullSink;
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
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A closed terminal (SIGHUP) stops the agent cleanly too, rather than leaving its files behind.
  process.on('SIGHUP', onSignal);

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
  return failure ? EXIT_FAILURE : 0;
}

async function status(argv: string[]): Promise<number> {
  const args = parseStatusArgs(argv);
  if (args.help) {
    process.stdout.write(STATUS_USAGE);
    return 0;
  }
  try {
    const answer = await fetchStatus(args.endpoint, args.timeoutMs);
    process.stdout.write(args.json ? `${JSON.stringify(answer, null, 2)}\n` : formatStatus(answer));
    return 0;
  } catch (error) {
    const message = error instanceof StatusError ? error.message : String(error);
    process.stderr.write(`daemoneye-agent status: ${message}\n`);
    return EXIT_FAILURE;
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'run': {
        const args = parseRunArgs(rest);
        if (args.help) {
          process.stdout.write(RUN_USAGE);
          return 0;
        }
        return await run(args);
      }
      case 'status':
        return await status(rest);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(MAIN_USAGE);
        return command === undefined ? EXIT_USAGE : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      const usage =
        command === 'run' ? RUN_USAGE : command === 'status' ? STATUS_USAGE : MAIN_USAGE;
      process.stderr.write(`daemoneye-agent: ${error.message}\n\n${usage}`);
      return EXIT_USAGE;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
