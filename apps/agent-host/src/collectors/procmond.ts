#!/usr/bin/env node
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { TaskAssignment } from '@daemoneye/proto';
import { listProcesses, type ProcessInfo, processFingerprint } from './process-list.js';
import { detection, ENV_WATCH_INTERVAL, runCollector } from './runtime.js';

/** Payload of an `integrity` task. */
export interface IntegrityPayload {
  pid: number;
  executable: string;
}

function parseIntegrity(payload: Uint8Array): IntegrityPayload {
  const value: unknown = JSON.parse(Buffer.from(payload).toString('utf8'));
  if (
    typeof value === 'object' &&
    value !== null &&
    'pid' in value &&
    typeof value.pid === 'number' &&
    'executable' in value &&
    typeof value.executable === 'string'
  ) {
    return { pid: value.pid, executable: value.executable };
  }
  throw new Error('integrity payload must be {"pid": number, "executable": string}');
}

function sha256File(path: string): Promise<{ hash: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    createReadStream(path)
      .on('data', (chunk) => {
        bytes += chunk.length;
        hash.update(chunk);
      })
      .on('error', reject)
      .on('end', () => resolve({ hash: hash.digest('hex'), bytes }));
  });
}

async function handle(task: TaskAssignment) {
  if (task.taskKind === 'enumerate') {
    const processes = await listProcesses();
    return processes.map((p) =>
      detection(processFingerprint(p), 'process', `${p.name} (${p.pid})`, {
        pid: String(p.pid),
        ppid: String(p.ppid),
        name: p.name,
        commandLine: p.commandLine,
        executable: p.executable,
        uid: String(p.uid),
        // Resident memory moves between two reads: volatile, so never a conflict between collectors.
        'volatile.rss': String(p.rssBytes),
        startTime: p.startTime,
      }),
    );
  }
  if (task.taskKind === 'integrity') {
    const { pid, executable } = parseIntegrity(task.payload);
    // /proc/<pid>/exe still reads the binary the process runs even if the file was replaced.
    const path = process.platform === 'linux' ? `/proc/${pid}/exe` : executable;
    const { hash, bytes } = await sha256File(path);
    return [
      detection(`integrity:${executable}:${hash}`, 'integrity', executable, {
        pid: String(pid),
        executable,
        sha256: hash,
        size: String(bytes),
      }),
    ];
  }
  throw new Error(`procmond does not handle task kind ${task.taskKind}`);
}

/** Most lifecycle events one diff publishes (a fork bomb must not flood the agent). */
const MAX_EVENTS_PER_DIFF = 1000;

/** Diffs the process table every interval and publishes `events.process.lifecycle` (start / exit). */
function watch(publish: (topic: string, event: unknown) => void): void {
  const intervalMs = Number(process.env[ENV_WATCH_INTERVAL] ?? 0);
  if (!Number.isInteger(intervalMs) || intervalMs <= 0) return;
  let known: Map<string, ProcessInfo> | undefined;
  let busy = false;
  const tick = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const now = new Map((await listProcesses()).map((p) => [processFingerprint(p), p]));
      if (known !== undefined) {
        let sent = 0;
        const say = (action: 'start' | 'exit', p: ProcessInfo): void => {
          if (sent++ < MAX_EVENTS_PER_DIFF)
            publish('events.process.lifecycle', {
              action,
              pid: p.pid,
              ppid: p.ppid,
              name: p.name,
              executable: p.executable,
              at: Date.now(),
            });
        };
        for (const [key, p] of now) if (!known.has(key)) say('start', p);
        for (const [key, p] of known) if (!now.has(key)) say('exit', p);
      }
      known = now;
    } catch {
      // A failed listing is retried at the next tick.
    } finally {
      busy = false;
    }
  };
  void tick();
  setInterval(() => void tick(), intervalMs).unref();
}

await runCollector({ kind: 'procmond', taskKinds: ['enumerate', 'integrity'], handle, watch });
