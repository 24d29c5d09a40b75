import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** The OS's view of one process: resident memory and CPU share of one core since the last sample. */
export interface ResourceSample {
  readonly rssBytes: number;
  /** 0..n (n cores); undefined on the first sample of a pid (no interval yet). */
  readonly cpu: number | undefined;
}

/** Samples a pid; resolves undefined when the platform gives no view of it. Never rejects. */
export type ResourceSampler = (pid: number) => Promise<ResourceSample | undefined>;

const CLOCK_TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;

/** Parses `/proc/<pid>/stat`: utime + stime in ticks and rss in pages (the name may hold spaces). */
export function parseProcStat(text: string): { ticks: number; rssPages: number } | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(' ');
  // After the name: state is field 3 overall (index 0 here), utime 14 (11), stime 15 (12), rss 24 (21).
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const rssPages = Number(fields[21]);
  if (![utime, stime, rssPages].every(Number.isFinite)) return undefined;
  return { ticks: utime + stime, rssPages };
}

/** Parses one line of `ps -o rss=,%cpu=`: RSS in KiB and CPU in percent. */
export function parsePsLine(text: string): ResourceSample | undefined {
  const [rss, cpu] = text.trim().split(/\s+/);
  const kib = Number(rss);
  const percent = Number(cpu);
  if (!Number.isFinite(kib) || !Number.isFinite(percent)) return undefined;
  return { rssBytes: kib * 1024, cpu: percent / 100 };
}

/**
 * The default sampler of a platform: `/proc` on Linux (CPU from tick deltas between samples),
 * `ps` on macOS and the BSDs, none on Windows (the collector's own heartbeat is all there is).
 */
export function osResourceSampler(
  platform: NodeJS.Platform = process.platform,
  now: () => number = () => performance.now(),
): ResourceSampler {
  if (platform === 'linux' || platform === 'android') {
    const last = new Map<number, { ticks: number; at: number }>();
    return async (pid) => {
      const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
      const stat = text === undefined ? undefined : parseProcStat(text);
      if (stat === undefined) {
        last.delete(pid);
        return undefined;
      }
      const at = now();
      const previous = last.get(pid);
      last.set(pid, { ticks: stat.ticks, at });
      if (last.size > 4096) last.delete(last.keys().next().value ?? pid);
      const seconds = previous === undefined ? 0 : (at - previous.at) / 1000;
      const cpu =
        previous === undefined || seconds <= 0
          ? undefined
          : (stat.ticks - previous.ticks) / CLOCK_TICKS_PER_SECOND / seconds;
      return { rssBytes: stat.rssPages * PAGE_BYTES, cpu };
    };
  }
  if (platform === 'win32') return async () => undefined;
  return (pid) =>
    new Promise((resolve) => {
      execFile(
        'ps',
        ['-o', 'rss=,%cpu=', '-p', String(pid)],
        { timeout: 2000 },
        (error, stdout) => {
          resolve(error ? undefined : parsePsLine(stdout));
        },
      );
    });
}
