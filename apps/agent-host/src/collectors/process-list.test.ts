import { describe, expect, it } from 'vitest';
import {
  listProcesses,
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
    ['win32', 'tasklist'],
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
