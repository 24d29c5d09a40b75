import { execFile } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One running process as procmond reports it. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  name: string;
  commandLine: string;
  /** Empty when not known (e.g. Windows, or a process of another user without access). */
  executable: string;
  uid: number;
  rssBytes: number;
  /** Platform-specific start marker (clock ticks since boot on Linux, a date string elsewhere). */
  startTime: string;
}

/**
 * Which enumeration a platform uses: one small function per difference. Windows: PowerShell's
 * `Get-CimInstance Win32_Process` (paths and parent pids), `tasklist` when that gives nothing.
 */
export function processSource(platform: NodeJS.Platform): 'procfs' | 'ps' | 'cim' {
  if (platform === 'linux' || platform === 'android') return 'procfs';
  if (platform === 'win32') return 'cim';
  return 'ps'; // darwin, freebsd, openbsd, ...
}

/** Parses `/proc/<pid>/stat`; the command name may hold spaces and parentheses. */
export function parseProcStat(
  text: string,
): { name: string; ppid: number; startTicks: string; rssPages: number } | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' ');
  // After the name: state(0) ppid(1) ... starttime is field 22 overall -> index 19 here; rss 24 -> 21.
  const ppid = Number(rest[1]);
  const startTicks = rest[19] ?? '';
  const rssPages = Number(rest[21]);
  if (!Number.isFinite(ppid) || startTicks === '') return undefined;
  return {
    name: text.slice(open + 1, close),
    ppid,
    startTicks,
    rssPages: Number.isFinite(rssPages) ? rssPages : 0,
  };
}

/** Parses the `Uid:` line of `/proc/<pid>/status` (real uid). */
export function parseStatusUid(text: string): number {
  const match = /^Uid:\s+(\d+)/m.exec(text);
  return match?.[1] ? Number(match[1]) : -1;
}

async function listProcfs(): Promise<ProcessInfo[]> {
  const pageSize = 4096;
  const out: ProcessInfo[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const base = `/proc/${entry}`;
    try {
      const stat = parseProcStat(await readFile(`${base}/stat`, 'utf8'));
      if (!stat) continue;
      const [status, cmdline, exe] = await Promise.all([
        readFile(`${base}/status`, 'utf8').catch(() => ''),
        readFile(`${base}/cmdline`, 'utf8').catch(() => ''),
        readlink(`${base}/exe`).catch(() => ''),
      ]);
      out.push({
        pid: Number(entry),
        ppid: stat.ppid,
        name: stat.name,
        commandLine: cmdline.split('\0').filter(Boolean).join(' '),
        executable: exe,
        uid: parseStatusUid(status),
        rssBytes: stat.rssPages * pageSize,
        startTime: stat.startTicks,
      });
    } catch {
      // The process exited while we read it.
    }
  }
  return out;
}

/** Parses `ps -axo pid=,ppid=,uid=,rss=,lstart=,comm=,args=` output (macOS, FreeBSD). */
export function parsePsOutput(text: string): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  // lstart is five words, e.g. "Sun Nov 29 17:33:11 2026".
  const line =
    /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\w{3}\s+\w{3}\s+\d+\s+[\d:]+\s+\d{4})\s+(\S+)\s*(.*)$/;
  for (const row of text.split('\n')) {
    const m = line.exec(row);
    if (!m) continue;
    const comm = m[6] ?? '';
    out.push({
      pid: Number(m[1]),
      ppid: Number(m[2]),
      uid: Number(m[3]),
      rssBytes: Number(m[4]) * 1024,
      startTime: (m[5] ?? '').replace(/\s+/g, ' '),
      name: comm.split('/').pop() ?? comm,
      executable: comm.startsWith('/') ? comm : '',
      commandLine: m[7] ?? '',
    });
  }
  return out;
}

function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  const re = /"((?:[^"]|"")*)"/g;
  for (let m = re.exec(line); m; m = re.exec(line)) cells.push((m[1] ?? '').replace(/""/g, '"'));
  return cells;
}

/** Parses `tasklist /fo csv /nh` output (Windows). */
export function parseTasklistCsv(text: string): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const row of text.split(/\r?\n/)) {
    const cells = splitCsvLine(row);
    if (cells.length < 5) continue;
    const pid = Number(cells[1]);
    if (!Number.isInteger(pid)) continue;
    const kb = Number((cells[4] ?? '').replace(/[^\d]/g, ''));
    out.push({
      pid,
      ppid: -1,
      name: cells[0] ?? '',
      commandLine: cells[0] ?? '',
      executable: '',
      uid: -1,
      rssBytes: Number.isFinite(kb) ? kb * 1024 : 0,
      startTime: '',
    });
  }
  return out;
}

/**
 * The PowerShell script for Windows: UTF-8 output without a BOM (the console code page would mangle
 * names otherwise), always a JSON array (`-InputObject @(...)`), dates as UTC ISO strings.
 */
export const CIM_PROCESS_SCRIPT = [
  '[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false',
  "$p = Get-CimInstance Win32_Process | Select-Object ProcessId,ParentProcessId,Name,ExecutablePath,CommandLine,WorkingSetSize,@{Name='CreationDate';Expression={if ($_.CreationDate) { $_.CreationDate.ToUniversalTime().ToString('o') } else { '' }}}",
  'ConvertTo-Json -Compress -Depth 2 -InputObject @($p)',
].join('; ');

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function integer(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined;
}

/** A CIM date as PowerShell 5.1 serialises a bare DateTime (`/Date(ms)/`), or an ISO string. */
function cimDate(value: unknown): string {
  const raw = text(value);
  const legacy = /^\/Date\((-?\d+)\)\/$/.exec(raw);
  if (legacy?.[1] === undefined) return raw;
  const date = new Date(Number(legacy[1]));
  return Number.isFinite(date.getTime()) ? date.toISOString() : raw;
}

/**
 * Parses `Get-CimInstance Win32_Process | Select-Object ... | ConvertTo-Json` output (Windows):
 * an array, or a single object when there is one process; a leading BOM is ignored. Rows without a
 * numeric ProcessId are skipped; anything that is not JSON throws (the caller falls back).
 */
export function parseCimProcessJson(output: string): ProcessInfo[] {
  const body = output.trim(); // trim() also drops a BOM (U+FEFF)
  if (body === '') return [];
  const parsed: unknown = JSON.parse(body);
  const rows = Array.isArray(parsed) ? parsed : [parsed];
  const out: ProcessInfo[] = [];
  for (const row of rows) {
    if (!isRecord(row)) continue;
    const pid = integer(row.ProcessId);
    if (pid === undefined) continue;
    const name = text(row.Name);
    const commandLine = text(row.CommandLine);
    out.push({
      pid,
      ppid: integer(row.ParentProcessId) ?? -1,
      name,
      commandLine: commandLine || name,
      executable: text(row.ExecutablePath),
      uid: -1,
      rssBytes: integer(row.WorkingSetSize) ?? 0,
      startTime: cimDate(row.CreationDate),
    });
  }
  return out;
}

/**
 * Decodes a Windows tool's output, forced to UTF-8 (PowerShell's OutputEncoding, `chcp 65001`);
 * a BOM is dropped, invalid bytes become U+FFFD.
 */
export function decodeUtf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8').decode(bytes);
}

async function runWindows(command: string, args: string[]): Promise<string> {
  const { stdout } = await run(command, args, {
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
    windowsHide: true,
    timeout: 60_000,
  });
  return decodeUtf8(stdout);
}

/**
 * Windows: CIM through PowerShell first; `tasklist` (no paths, no parent pids) when PowerShell is
 * missing, fails or lists nothing (a real system always has processes; Wine's PowerShell is a stub).
 */
async function listWindows(): Promise<ProcessInfo[]> {
  try {
    const output = await runWindows('powershell.exe', [
      '-NoProfile',
      '-NonInteractive',
      '-ExecutionPolicy',
      'Bypass',
      // Base64 of UTF-16LE: no quoting rules of cmd, Node or PowerShell apply to the script.
      '-EncodedCommand',
      Buffer.from(CIM_PROCESS_SCRIPT, 'utf16le').toString('base64'),
    ]);
    const list = parseCimProcessJson(output);
    if (list.length > 0) return list;
  } catch {
    // Fall through to tasklist.
  }
  // chcp 65001: tasklist writes in the console code page (OEM), which TextDecoder cannot decode.
  const output = await runWindows('cmd.exe', [
    '/d',
    '/s',
    '/c',
    'chcp 65001 >NUL && tasklist /fo csv /nh',
  ]);
  return parseTasklistCsv(output);
}

/** Enumerates the real processes of this machine. */
export async function listProcesses(
  platform: NodeJS.Platform = process.platform,
): Promise<ProcessInfo[]> {
  switch (processSource(platform)) {
    case 'procfs':
      return listProcfs();
    case 'cim':
      return listWindows();
    case 'ps': {
      const { stdout } = await run('ps', ['-axo', 'pid=,ppid=,uid=,rss=,lstart=,comm=,args='], {
        maxBuffer: 32 * 1024 * 1024,
        env: { ...process.env, LC_ALL: 'C' },
      });
      return parsePsOutput(stdout);
    }
  }
}

/** Stable identity of a process: pid + start time + executable. */
export function processFingerprint(p: ProcessInfo): string {
  return `proc:${p.pid}:${p.startTime}:${p.executable || p.name}`;
}
