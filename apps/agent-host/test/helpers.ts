import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { resolveEndpoint } from '@daemoneye/ipc-transport';
import {
  tempDir as makeTempDir,
  type TempDir,
  testEndpoint,
  until as untilDeadline,
} from '@daemoneye/test-utils';
import type { AgentStatus, AgentSummary, EventLine, OutputLine } from '../src/agent.js';

export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const exec = promisify(execFile);

/** A running `daemoneye-agent run` with its stderr collected. */
export class AgentProcess {
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: { pattern: RegExp; resolve: () => void }[] = [];

  constructor(readonly child: ChildProcess) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk;
      this.waiters = this.waiters.filter((w) => {
        if (!w.pattern.test(this.stderr)) return true;
        w.resolve();
        return false;
      });
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  /** Resolves once stderr matches `pattern`. */
  waitLog(pattern: RegExp, timeoutMs = 20_000): Promise<void> {
    if (pattern.test(this.stderr)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${pattern}; stderr:\n${this.stderr}`)),
        timeoutMs,
      );
      this.waiters.push({
        pattern,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** The final summary line the agent prints on stderr. */
  summary(): AgentSummary {
    const match = /daemoneye-agent summary (\{.*\})/.exec(this.stderr);
    if (!match?.[1]) throw new Error(`no summary in stderr:\n${this.stderr}`);
    return JSON.parse(match[1]);
  }
}

/** Starts `daemoneye-agent run`; `detached` puts it in its own process group (a terminal's Ctrl-C). */
export function startAgent(args: string[], detached = false): AgentProcess {
  return new AgentProcess(
    spawn(process.execPath, [CLI, 'run', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached }),
  );
}

/** Runs the CLI to completion. */
export async function cli(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    if (
      typeof error === 'object' &&
      error !== null &&
      'code' in error &&
      'stdout' in error &&
      'stderr' in error
    ) {
      return {
        code: Number(error.code),
        stdout: String(error.stdout),
        stderr: String(error.stderr),
      };
    }
    throw error;
  }
}

/** A private temp dir for one test (test-utils' `tempDir`, named for the agent tests). */
export function tempDir(): Promise<TempDir> {
  return makeTempDir('de-agent-');
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * test-utils' `until` with the agent tests' deadline: 20 s by default (real agent and collector
 * processes on a loaded machine), polling every `everyMs` (100 ms).
 */
export function until<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  everyMs = 100,
): Promise<T> {
  return untilDeadline(check, { timeoutMs, everyMs });
}

/** Set by scripts/windows-lane.sh: win32 under Wine, whose tasklist and netstat list nothing. */
export const underWine = process.platform === 'win32' && process.env.DAEMONEYE_WINE === '1';

/**
 * `--collector-script` arguments for hosts without a real process table (Wine): a procmond with a
 * fixed one. Empty elsewhere, so the real collectors run.
 */
export function fixedCollectorArgs(wine: boolean = underWine): string[] {
  return wine ? ['--collector-script', `procmond=${fixture('fixed-procmond.mjs')}`] : [];
}

export const fixture = (name: string): string =>
  fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

export { testEndpoint };

/**
 * Signals that end a process whatever its state: POSIX resumes a stopped one first (SIGCONT), so it
 * runs its exit; Windows knows no SIGCONT (kill() throws `Unknown signal`) and stops nothing.
 */
export function killSignals(platform: NodeJS.Platform = process.platform): NodeJS.Signals[] {
  return platform === 'win32' ? ['SIGKILL'] : ['SIGCONT', 'SIGKILL'];
}

/** `--collector-command` words of a collector that exits 1 at once, on every platform (no /bin/false on Windows). */
export function exitingCommand(): string {
  return `'${process.execPath}' -e process.exit(1)`;
}

/**
 * Stops an agent and resolves with its exit: SIGTERM on POSIX; on Windows, where SIGTERM from
 * another process is TerminateProcess (no handler runs, no summary), `daemoneye-agent stop` over IPC.
 */
export async function stopAgent(
  agent: AgentProcess,
  endpoint: string,
  platform: NodeJS.Platform = process.platform,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (platform !== 'win32') agent.child.kill('SIGTERM');
  else {
    const answer = await cli(['stop', '--endpoint', endpoint]);
    if (answer.code !== 0) throw new Error(`stop failed (${answer.code}): ${answer.stderr}`);
  }
  return agent.exited;
}

/** The RegExp source that matches `text` literally (endpoints on Windows hold backslashes and dots). */
export function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A fresh temp dir per test, an agent list killed after each test, and a `status --json` helper. */
export function agentTestContext(): {
  dir: () => string;
  endpoint: () => string;
  /** The token file the agent writes for `endpoint()`. */
  tokenPath: () => string;
  run: (args: string[], detached?: boolean) => AgentProcess;
  status: () => Promise<AgentStatus | undefined>;
  setup: () => Promise<void>;
  teardown: () => Promise<void>;
} {
  let dir = '';
  let cleanup: () => Promise<void> = async () => undefined;
  let agents: AgentProcess[] = [];
  const endpoint = (): string => testEndpoint(dir);
  return {
    dir: () => dir,
    endpoint,
    tokenPath: () => resolveEndpoint(endpoint()).tokenPath,
    run(args, detached = false) {
      const agent = startAgent(['--endpoint', endpoint(), ...args], detached);
      agents.push(agent);
      return agent;
    },
    async status() {
      const result = await cli(['status', '--endpoint', endpoint(), '--json']);
      return result.code === 0 ? JSON.parse(result.stdout) : undefined;
    },
    async setup() {
      ({ dir, cleanup } = await tempDir());
    },
    async teardown() {
      for (const agent of agents) {
        if (agent.child.exitCode === null && agent.child.signalCode === null) {
          for (const signal of killSignals()) agent.child.kill(signal);
        }
      }
      await Promise.all(agents.map((a) => a.exited));
      agents = [];
      await cleanup();
    },
  };
}

function isResult(line: OutputLine | EventLine): line is OutputLine {
  return line.type === 'result';
}

async function allLines(path: string): Promise<(OutputLine | EventLine)[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** The result lines of an NDJSON output file (empty when missing); event lines are left out. */
export async function outputLines(path: string): Promise<OutputLine[]> {
  return (await allLines(path)).filter(isResult);
}

/** The event lines (`"type":"event"`) of an NDJSON output file. */
export async function eventLines(path: string): Promise<EventLine[]> {
  return (await allLines(path)).filter((l): l is EventLine => l.type === 'event');
}
