import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** The OS's view of one process: resident memory and cumulative CPU time (user + system). */
export interface ResourceSample {
  readonly rssBytes: number;
  readonly cpuTimeMs: number;
}

/** Reads one pid's usage; resolves undefined when the process is gone, rejects on other errors. */
export type ResourceSampler = (pid: number) => Promise<ResourceSample | undefined>;

// Parsers (exported for their unit tests only; not part of the package API).

/** `/proc/<pid>/stat` -> utime + stime in clock ticks. The comm field may hold spaces and ')'. */
export function parseProcStat(text: string): number | undefined {
  const close = text.lastIndexOf(')');
  if (close === -1) return undefined;
  // After the comm: field 3 (state) first; utime and stime are fields 14 and 15 of proc(5).
  const fields = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime) || fields.length < 13) return undefined;
  return utime + stime;
}

/** `/proc/<pid>/statm` -> resident pages (second field of proc(5)). */
export function parseProcStatm(text: string): number | undefined {
  const resident = Number(text.trim().split(/\s+/)[1]);
  return Number.isInteger(resident) && resident >= 0 ? resident : undefined;
}

/**
 * ps(1) `time` (alias `cputime`) -> ms. BSD/macOS print `[[dd-]hh:]mm:ss.cc` (e.g. `0:00.02`,
 * `14:27.26`); procps prints `[dd-]hh:mm:ss` (e.g. `00:01:23`).
 */
export function parsePsTime(text: string): number | undefined {
  const match = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)(?:[.,](\d+))?$/.exec(text.trim());
  if (match === null) return undefined;
  const [, days = '0', hours = '0', minutes = '0', seconds = '0', fraction = ''] = match;
  const fractionMs = fraction === '' ? 0 : Math.round(Number(`0.${fraction}`) * 1000);
  return (
    ((Number(days) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 +
    Number(seconds) * 1000 +
    fractionMs
  );
}

/** `ps -o rss=,time= -p PID` -> sample (rss in KiB); undefined for empty output (no such pid). */
export function parsePsOutput(text: string): ResourceSample | undefined {
  const line = text.trim().split('\n')[0]?.trim() ?? '';
  if (line === '') return undefined;
  const [rss = '', time = ''] = line.split(/\s+/);
  const kib = Number(rss);
  const cpuTimeMs = parsePsTime(time);
  if (!Number.isInteger(kib) || kib < 0 || cpuTimeMs === undefined) {
    throw new Error(`unexpected ps output: ${JSON.stringify(line.slice(0, 80))}`);
  }
  return { rssBytes: kib * 1024, cpuTimeMs };
}

/** Our PowerShell line `<WorkingSet64> <TotalProcessorTime.Ticks>` (ticks of 100 ns). */
export function parseWindowsOutput(text: string): ResourceSample | undefined {
  const line = text.trim();
  if (line === '') return undefined;
  const match = /^(\d+)\s+(\d+)$/.exec(line);
  if (match === null) {
    throw new Error(`unexpected Get-Process output: ${JSON.stringify(line.slice(0, 80))}`);
  }
  return { rssBytes: Number(match[1]), cpuTimeMs: Number(match[2]) / 10_000 };
}

function run(command: string, args: readonly string[]): Promise<{ stdout: string; code: number }> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      [...args],
      { timeout: 5000, windowsHide: true, maxBuffer: 64 * 1024, encoding: 'utf8' },
      (error, stdout) => {
        if (error === null) {
          resolve({ stdout, code: 0 });
          return;
        }
        // A non-zero exit (e.g. ps for a pid that is gone) is an answer; no binary is not.
        if (typeof error.code === 'number') resolve({ stdout, code: error.code });
        else reject(error);
      },
    );
  });
}

interface ProcConstants {
  readonly ticksPerSecond: number;
  readonly pageBytes: number;
}

// Documented defaults (USER_HZ is 100 on every mainstream Linux; 4 KiB pages on x86-64), used
// when `getconf` is missing or says something unexpected.
const PROC_FALLBACK: ProcConstants = { ticksPerSecond: 100, pageBytes: 4096 };
let procConstants: Promise<ProcConstants> | undefined;

async function getconf(name: string): Promise<number | undefined> {
  try {
    const { stdout, code } = await run('getconf', [name]);
    const value = Number(stdout.trim());
    return code === 0 && Number.isInteger(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

function readProcConstants(): Promise<ProcConstants> {
  procConstants ??= Promise.all([getconf('CLK_TCK'), getconf('PAGESIZE')]).then(
    ([ticks, page]) => ({
      ticksPerSecond: ticks ?? PROC_FALLBACK.ticksPerSecond,
      pageBytes: page ?? PROC_FALLBACK.pageBytes,
    }),
  );
  return procConstants;
}

function isMissing(error: unknown): boolean {
  return (
    error instanceof Error && 'code' in error && (error.code === 'ENOENT' || error.code === 'ESRCH')
  );
}

const linuxSampler: ResourceSampler = async (pid) => {
  const constants = await readProcConstants();
  let stat: string;
  let statm: string;
  try {
    [stat, statm] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/statm`, 'utf8'),
    ]);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  const ticks = parseProcStat(stat);
  const pages = parseProcStatm(statm);
  if (ticks === undefined || pages === undefined) {
    throw new Error(`unexpected /proc/${pid} contents`);
  }
  return {
    rssBytes: pages * constants.pageBytes,
    cpuTimeMs: (ticks * 1000) / constants.ticksPerSecond,
  };
};

const psSampler: ResourceSampler = async (pid) => {
  const { stdout } = await run('ps', ['-o', 'rss=,time=', '-p', String(pid)]);
  return parsePsOutput(stdout);
};

const windowsSampler: ResourceSampler = async (pid) => {
  const script =
    `$p = Get-Process -Id ${pid} -ErrorAction SilentlyContinue; ` +
    `if ($p) { '{0} {1}' -f $p.WorkingSet64, $p.TotalProcessorTime.Ticks }`;
  const { stdout } = await run('powershell.exe', [
    '-NoProfile',
    '-NonInteractive',
    '-Command',
    script,
  ]);
  return parseWindowsOutput(stdout);
};

/**
 * The OS's own view of a pid, per platform: Linux `/proc/<pid>/stat` + `statm`; macOS, FreeBSD,
 * OpenBSD, NetBSD `ps -o rss=,time= -p PID`; Windows PowerShell `Get-Process -Id`. Undefined on
 * a platform without one.
 */
export function platformSampler(
  platform: NodeJS.Platform = process.platform,
): ResourceSampler | undefined {
  switch (platform) {
    case 'linux':
    case 'android':
      return linuxSampler;
    case 'darwin':
    case 'freebsd':
    case 'openbsd':
    case 'netbsd':
    case 'sunos':
    case 'aix':
      return psSampler;
    case 'win32':
      return windowsSampler;
    default:
      return undefined;
  }
}
