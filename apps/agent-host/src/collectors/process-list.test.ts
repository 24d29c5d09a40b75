import { describe, expect, it } from 'vitest';
import {
  CIM_PROCESS_SCRIPT,
  decodeUtf8,
  listProcesses,
  parseCimProcessJson,
  parseProcStat,
  parsePsOutput,
  parseStatusUid,
  parseTasklistCsv,
  processFingerprint,
  processSource,
} from './process-list.js';

describe('processSource', () => {
  it.each([
    ['linux', 'procfs'],
    ['darwin', 'ps'],
    ['freebsd', 'ps'],
    ['win32', 'cim'],
  ] as const)('%s uses %s', (platform, source) => {
    expect(processSource(platform)).toBe(source);
  });
});

describe('linux /proc parsing', () => {
  it('parses a stat line whose name holds spaces and parentheses', () => {
    const stat =
      '4242 (my (weird) proc) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 12345678 321 18446744073709551615';
    expect(parseProcStat(stat)).toEqual({
      name: 'my (weird) proc',
      ppid: 1,
      startTicks: '987654',
      rssPages: 321,
    });
    expect(parseProcStat('garbage')).toBeUndefined();
  });
  it('reads the real uid', () => {
    expect(parseStatusUid('Name:\tbash\nUid:\t1000\t1000\t1000\t1000\n')).toBe(1000);
    expect(parseStatusUid('')).toBe(-1);
  });
  // Linux: listProcesses('linux') reads /proc, which exists only there (the parsers above run everywhere).
  it.skipIf(process.platform !== 'linux')('lists real processes including this one', async () => {
    const list = await listProcesses('linux');
    const me = list.find((p) => p.pid === process.pid);
    expect(me?.executable).toBe(process.execPath);
    expect(me).toBeDefined();
    if (me) expect(processFingerprint(me)).toMatch(/^proc:\d+:\d+:/);
  });
});

describe('ps parsing (macOS, FreeBSD)', () => {
  it('parses pid, ppid, uid, rss, lstart, comm and args', () => {
    const text = [
      '    1     0     0  12552 Sun Nov 29 17:33:11 2026 /sbin/launchd    /sbin/launchd',
      '  501     1   501   2048 Mon Jan  5 09:01:02 2026 /usr/bin/ssh-agent /usr/bin/ssh-agent -l',
      'not a process line',
    ].join('\n');
    const list = parsePsOutput(text);
    expect(list).toHaveLength(2);
    expect(list[1]).toMatchObject({
      pid: 501,
      ppid: 1,
      uid: 501,
      rssBytes: 2048 * 1024,
      startTime: 'Mon Jan 5 09:01:02 2026',
      name: 'ssh-agent',
      executable: '/usr/bin/ssh-agent',
      commandLine: '/usr/bin/ssh-agent -l',
    });
  });
});

describe('tasklist parsing (Windows)', () => {
  it('parses CSV rows with quoted, comma-grouped memory', () => {
    const text =
      '"System Idle Process","0","Services","0","8 K"\r\n"node.exe","1234","Console","1","45,312 K"\r\n';
    const list = parseTasklistCsv(text);
    expect(list).toHaveLength(2);
    expect(list[1]).toMatchObject({ pid: 1234, name: 'node.exe', rssBytes: 45_312 * 1024 });
  });
});

// Shaped like the output of CIM_PROCESS_SCRIPT on Windows 10 (PowerShell 5.1, -Compress): the Idle
// and System processes have no path or command line, a service host has both, a user program has
// a non-ASCII name; the whole output starts with the UTF-8 BOM some hosts still write.
const CIM_FIXTURE =
  '\uFEFF[{"ProcessId":0,"ParentProcessId":0,"Name":"System Idle Process","ExecutablePath":null,"CommandLine":null,"WorkingSetSize":8192,"CreationDate":""},' +
  '{"ProcessId":4,"ParentProcessId":0,"Name":"System","ExecutablePath":null,"CommandLine":null,"WorkingSetSize":155648,"CreationDate":"2026-11-30T07:12:03.5000000Z"},' +
  '{"ProcessId":1044,"ParentProcessId":712,"Name":"svchost.exe","ExecutablePath":"C:\\\\WINDOWS\\\\system32\\\\svchost.exe","CommandLine":"C:\\\\WINDOWS\\\\system32\\\\svchost.exe -k DcomLaunch -p","WorkingSetSize":27742208,"CreationDate":"2026-11-30T07:12:05.1875000Z"},' +
  '{"ProcessId":9876,"ParentProcessId":5320,"Name":"Übersicht-Prüfer.exe","ExecutablePath":"C:\\\\Users\\\\Jürgen\\\\AppData\\\\Local\\\\Prüfer\\\\Übersicht-Prüfer.exe","CommandLine":"\\"C:\\\\Users\\\\Jürgen\\\\AppData\\\\Local\\\\Prüfer\\\\Übersicht-Prüfer.exe\\" --tray","WorkingSetSize":52428800,"CreationDate":"2026-12-01T08:00:00.0000000Z"}]\r\n';

describe('CIM parsing (Windows, PowerShell Get-CimInstance Win32_Process)', () => {
  it('asks for pid, parent, name, path, command line, memory and start, as UTF-8 JSON', () => {
    for (const field of ['ProcessId', 'ParentProcessId', 'ExecutablePath', 'CommandLine']) {
      expect(CIM_PROCESS_SCRIPT).toContain(field);
    }
    expect(CIM_PROCESS_SCRIPT).toContain('[Console]::OutputEncoding');
    expect(CIM_PROCESS_SCRIPT).toContain('ConvertTo-Json');
  });
  it('parses an array with executable paths and parent pids, from UTF-8 bytes with a BOM', () => {
    const list = parseCimProcessJson(decodeUtf8(Buffer.from(CIM_FIXTURE, 'utf8')));
    expect(list).toHaveLength(4);
    expect(list[0]).toEqual({
      pid: 0,
      ppid: 0,
      name: 'System Idle Process',
      commandLine: 'System Idle Process',
      executable: '',
      uid: -1,
      rssBytes: 8192,
      startTime: '',
    });
    expect(list[2]).toMatchObject({
      pid: 1044,
      ppid: 712,
      executable: 'C:\\WINDOWS\\system32\\svchost.exe',
      commandLine: 'C:\\WINDOWS\\system32\\svchost.exe -k DcomLaunch -p',
      rssBytes: 27_742_208,
      startTime: '2026-11-30T07:12:05.1875000Z',
    });
    expect(list[3]?.name).toBe('Übersicht-Prüfer.exe');
    expect(list[3]?.executable).toBe(
      'C:\\Users\\Jürgen\\AppData\\Local\\Prüfer\\Übersicht-Prüfer.exe',
    );
    expect(list[3]?.commandLine).toMatch(/^"C:.*" --tray$/);
  });
  it('parses a single object (what ConvertTo-Json gives for one process without -InputObject)', () => {
    const one =
      '{"ProcessId":4,"ParentProcessId":0,"Name":"System","ExecutablePath":null,"CommandLine":null}';
    expect(parseCimProcessJson(one)).toMatchObject([{ pid: 4, ppid: 0, name: 'System' }]);
  });
  it('reads PowerShell 5.1 /Date(ms)/ dates, skips rows without a pid, gives [] for no output', () => {
    const rows =
      '[{"ProcessId":8,"ParentProcessId":4,"Name":"a.exe","CreationDate":"/Date(1764576000000)/"},{"Name":"no pid"},42,null]';
    expect(parseCimProcessJson(rows)).toMatchObject([
      { pid: 8, ppid: 4, startTime: '2025-12-01T08:00:00.000Z' },
    ]);
    expect(parseCimProcessJson('')).toEqual([]);
    expect(parseCimProcessJson('\uFEFF \r\n')).toEqual([]);
  });
  it('throws on output that is not JSON (the caller falls back to tasklist)', () => {
    expect(() => parseCimProcessJson('Get-CimInstance : Access denied')).toThrow(SyntaxError);
  });
  it('decodes UTF-8 and drops a BOM; legacy OEM bytes are not silently mistaken for text', () => {
    expect(decodeUtf8(Buffer.from('\uFEFF"Prüfer.exe"', 'utf8'))).toBe('"Prüfer.exe"');
    // "ü" in code page 850 is 0x81: invalid UTF-8, shown as U+FFFD rather than as another letter.
    expect(decodeUtf8(Uint8Array.from([0x50, 0x72, 0x81, 0x66]))).toBe('Pr\uFFFDf');
  });
});

// Real Windows only: under Wine (DAEMONEYE_WINE=1, set by scripts/windows-lane.sh) PowerShell and
// tasklist are stubs that list nothing.
it.skipIf(process.platform !== 'win32' || process.env.DAEMONEYE_WINE === '1')(
  'Windows: lists real processes with executable paths and parent pids',
  async () => {
    const list = await listProcesses('win32');
    const me = list.find((p) => p.pid === process.pid);
    expect(me?.executable.toLowerCase()).toBe(process.execPath.toLowerCase());
    expect(me?.ppid).toBe(process.ppid);
  },
);

describe('tasklist parsing, localised (Windows fallback)', () => {
  it('parses German rows (dot-grouped memory) after chcp 65001', () => {
    const text = decodeUtf8(
      Buffer.from(
        '"System Idle Process","0","Services","0","8 K"\r\n"Übersicht-Prüfer.exe","9876","Console","1","51.200 K"\r\n',
        'utf8',
      ),
    );
    expect(parseTasklistCsv(text)).toMatchObject([
      { pid: 0, ppid: -1, executable: '' },
      { pid: 9876, name: 'Übersicht-Prüfer.exe', rssBytes: 51_200 * 1024 },
    ]);
  });
});
