import { describe, expect, it } from 'vitest';
import {
  parseProcStat,
  parseProcStatm,
  parsePsOutput,
  parsePsTime,
  parseWindowsOutput,
  platformSampler,
} from './resource-sampler.js';

// Captured on this machine (Linux 2-core, Node 20.20) while writing the sampler: a `sleep`
// copied to a file named `sl (x) y` (a comm with spaces and parentheses), and a node process that
// had spent 2.48 s of CPU (process.cpuUsage: user 2.308 s + system 0.176 s) with rss 101 294 080.
const SLEEP_STAT =
  '25597 (sl (x) y) S 1 25593 5459 0 -1 4194304 142 0 0 0 0 0 0 0 20 0 1 0 98204 2990080 391 18446744073709551615 94331333615616 94331333633545 140722094514400 0 0 0 0 6 0 1 0 0 17 1 0 0 0 0 0 94331333647632 94331333648896 94331867426816 140722094516768 140722094516782 140722094516782 140722094518253 0\n';
const SLEEP_STATM = '730 434 407 5 0 89 0\n';
const NODE_STAT =
  '25602 (node) R 25593 25593 5459 0 -1 4194304 15652 0 0 0 230 17 0 0 20 0 7 0 98236 1000783872 24442 18446744073709551615 11988992 39846385 140736176793728 0 0 0 0 16781312 17922 0 0 0 17 1 0 0 0 0 0 90418888 90555584 602177536 140736176802072 140736176802344 140736176802344 140736176803818 0\n';
const NODE_STATM = '244332 24747 9722 6802 0 25438 0\n';

describe('Linux /proc parsers (captured output)', () => {
  it('reads utime + stime after the last parenthesis of the comm', () => {
    expect(parseProcStat(SLEEP_STAT)).toBe(0);
    expect(parseProcStat(NODE_STAT)).toBe(247); // 2.47 s at CLK_TCK 100
  });

  it('reads resident pages from statm', () => {
    expect(parseProcStatm(SLEEP_STATM)).toBe(434);
    expect(parseProcStatm(NODE_STATM)).toBe(24_747); // x 4096 = 101 363 712 B
  });

  it('refuses what is not a stat line', () => {
    expect(parseProcStat('garbage')).toBeUndefined();
    expect(parseProcStat('1 (x) S 1 2')).toBeUndefined();
    expect(parseProcStatm('')).toBeUndefined();
  });
});

describe('ps parsers (macOS, FreeBSD, procps)', () => {
  // `time` values as BSD ps prints them, quoted from the Darwin fixture of soyuka/pidusage
  // (test/ps.js: "14:27.26", "0:00.02", "1-02:03:04.07") and the comment in a public Rust
  // sampler quoting `ps -o rss=,time= -p <pid>` on macOS as "  12345  01:23.45"; the procps form
  // from a public benchmark note: `ps -o rss=,time= -p $PID` returned `80648 00:00:00`.
  it('parses the time keyword in its BSD and procps forms', () => {
    expect(parsePsTime('0:00.02')).toBe(20);
    expect(parsePsTime('14:27.26')).toBe((14 * 60 + 27) * 1000 + 260);
    expect(parsePsTime('01:23.45')).toBe(83_450);
    expect(parsePsTime('1-02:03:04.07')).toBe(((26 * 60 + 3) * 60 + 4) * 1000 + 70);
    expect(parsePsTime('00:00:00')).toBe(0);
    expect(parsePsTime('00:01:23')).toBe(83_000);
    expect(parsePsTime('soon')).toBeUndefined();
  });

  it('parses `ps -o rss=,time= -p PID` lines (rss in KiB); empty output means no such pid', () => {
    expect(parsePsOutput('  12345  01:23.45\n')).toEqual({
      rssBytes: 12_345 * 1024,
      cpuTimeMs: 83_450,
    });
    expect(parsePsOutput('80648 00:00:00\n')).toEqual({ rssBytes: 80_648 * 1024, cpuTimeMs: 0 });
    expect(parsePsOutput('')).toBeUndefined();
    expect(() => parsePsOutput('RSS TIME\n')).toThrow(/unexpected ps output/);
  });
});

describe('Windows parser', () => {
  // Our own PowerShell format line: '{0} {1}' -f WorkingSet64 (bytes, Int64),
  // TotalProcessorTime.Ticks (100 ns units, Int64); not captured here (no Windows on this host).
  it('reads working set bytes and processor ticks', () => {
    expect(parseWindowsOutput('101294080 24843750\r\n')).toEqual({
      rssBytes: 101_294_080,
      cpuTimeMs: 2484.375,
    });
    expect(parseWindowsOutput('\r\n')).toBeUndefined();
    expect(() => parseWindowsOutput('Get-Process : Cannot find')).toThrow(/unexpected/);
  });
});

/** Set by scripts/windows-lane.sh: win32 under Wine, which differs from Windows in places. */
const underWine = process.platform === 'win32' && process.env.DAEMONEYE_WINE === '1';
const osSampled = process.platform === 'linux' || (process.platform === 'win32' && !underWine);

describe('platformSampler', () => {
  it('has one sampler per platform family', () => {
    expect(platformSampler('linux')).toBeTypeOf('function');
    expect(platformSampler('darwin')).toBe(platformSampler('freebsd'));
    expect(platformSampler('win32')).toBeTypeOf('function');
    expect(platformSampler('haiku')).toBeUndefined();
  });

  // Linux (/proc) and win32 (PowerShell's Get-Process). Not under Wine: its powershell.exe is a
  // stub that prints nothing and exits 0 (checked), so the sampler sees no process there.
  it.runIf(osSampled)('reads this process as the OS sees it', async () => {
    const sampler = platformSampler(process.platform);
    const sample = await sampler?.(process.pid);
    expect(sample?.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
    const own = process.cpuUsage();
    expect(sample?.cpuTimeMs).toBeGreaterThan(0);
    expect(sample?.cpuTimeMs ?? 0).toBeLessThanOrEqual((own.user + own.system) / 1000 + 50);
    await expect(sampler?.(2 ** 22 + 12_345)).resolves.toBeUndefined();
  });
});
