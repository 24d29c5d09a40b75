import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { testEndpoint } from '@daemoneye/test-utils';
import type { Broker, CollectorInfo } from '../src/index.js';

export const fixture = (name: string): string =>
  fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

/** A message a fixture process reports over its IPC channel. */
export interface Report {
  type: string;
  [key: string]: unknown;
}

function isReport(value: unknown): value is Report {
  return (
    typeof value === 'object' && value !== null && 'type' in value && typeof value.type === 'string'
  );
}

/** A fixture child process with a log of everything it reported. */
export class Child {
  readonly reports: Report[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private waiters: { match: (r: Report) => boolean; resolve: (r: Report) => void }[] = [];

  constructor(readonly process: ChildProcess) {
    process.on('message', (message) => {
      if (!isReport(message)) return;
      this.reports.push(message);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(message)) return true;
        w.resolve(message);
        return false;
      });
    });
    this.exited = new Promise((resolve) =>
      process.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  /** Resolves with the first report (past or future) that matches; rejects after `timeoutMs`. */
  waitFor(match: (r: Report) => boolean, timeoutMs = 5000): Promise<Report> {
    const seen = this.reports.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out; reports so far: ${JSON.stringify(this.reports)}`)),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      });
    });
  }

  waitType(type: string, timeoutMs?: number): Promise<Report> {
    return this.waitFor((r) => r.type === type, timeoutMs);
  }

  send(command: Report): void {
    this.process.send(command);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.process.exitCode === null && this.process.signalCode === null)
      this.process.kill(signal);
  }
}

/** Starts a fixture with the given environment. */
export function spawnFixture(name: string, env: Record<string, string>): Child {
  const child = fork(fixture(name), [], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Child(child);
}

export { testEndpoint };

/** Resolves when `id` is connected to `broker` (at once if it already is). */
export function waitConnected(broker: Broker, id: string): Promise<CollectorInfo> {
  const existing = broker.collector(id);
  if (existing) return Promise.resolve(existing);
  return new Promise((resolve) => {
    const on = (info: CollectorInfo): void => {
      if (info.collectorId !== id) return;
      broker.off('collector-connected', on);
      resolve(info);
    };
    broker.on('collector-connected', on);
  });
}
