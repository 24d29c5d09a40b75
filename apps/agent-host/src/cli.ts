#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import {
  MAIN_USAGE,
  parseClientArgs,
  parseRunArgs,
  RUN_USAGE,
  STATUS_USAGE,
  STOP_USAGE,
  UsageError,
} from './args.js';
import { ControlError, requestAgent, STOP_TOPIC } from './control.js';
import { run } from './run.js';
import { fetchStatus, formatStatus } from './status.js';

const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

function version(): string {
  const manifest: unknown = JSON.parse(
    readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
  );
  const v =
    typeof manifest === 'object' && manifest !== null && 'version' in manifest
      ? manifest.version
      : '?';
  return `daemoneye-agent ${String(v)}\n`;
}

async function client(command: 'status' | 'stop', argv: string[]): Promise<number> {
  const args = parseClientArgs(argv, command === 'status');
  if (args.help) {
    process.stdout.write(command === 'status' ? STATUS_USAGE : STOP_USAGE);
    return 0;
  }
  try {
    if (command === 'stop') {
      await requestAgent(args.endpoint, STOP_TOPIC, args.timeoutMs);
      process.stdout.write('the agent is stopping\n');
      return 0;
    }
    const answer = await fetchStatus(args.endpoint, args.timeoutMs);
    process.stdout.write(args.json ? `${JSON.stringify(answer, null, 2)}\n` : formatStatus(answer));
    return 0;
  } catch (error) {
    const message = error instanceof ControlError ? error.message : String(error);
    process.stderr.write(`daemoneye-agent ${command}: ${message}\n`);
    return EXIT_FAILURE;
  }
}

const USAGES: Record<string, string> = { run: RUN_USAGE, status: STATUS_USAGE, stop: STOP_USAGE };

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
      case 'stop':
        return await client(command, rest);
      case '--version':
      case '-V':
        process.stdout.write(version());
        return 0;
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
      process.stderr.write(
        `daemoneye-agent: ${error.message}\n\n${USAGES[command ?? ''] ?? MAIN_USAGE}`,
      );
      return EXIT_USAGE;
    }
    throw error;
  }
}

process.exitCode = await main(process.argv.slice(2));
