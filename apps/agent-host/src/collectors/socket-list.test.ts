import { describe, expect, it } from 'vitest';
import {
  listSockets,
  parseNetstat,
  parseProcNet,
  socketFingerprint,
  socketSource,
} from './socket-list.js';

describe('socketSource', () => {
  it.each([
    ['linux', 'procfs'],
    ['darwin', 'netstat'],
    ['freebsd', 'netstat'],
    ['win32', 'netstat'],
  ] as const)('%s uses %s', (platform, source) => {
    expect(socketSource(platform)).toBe(source);
  });
});

describe('/proc/net parsing (Linux)', () => {
  it('decodes IPv4 TCP rows', () => {
    const text = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0',
    ].join('\n');
    expect(parseProcNet(text, 'tcp')).toEqual([
      {
        protocol: 'tcp',
        localAddress: '127.0.0.1',
        localPort: 8080,
        remoteAddress: '0.0.0.0',
        remotePort: 0,
        state: 'LISTEN',
        uid: 1000,
        inode: '4242',
      },
    ]);
  });
  it('decodes IPv6 rows', () => {
    const text =
      'header\n   0: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 77 2';
    const [row] = parseProcNet(text, 'udp6');
    expect(row).toMatchObject({
      localAddress: '0:0:0:0:0:0:0:1',
      localPort: 53,
      state: 'UNCONN',
      inode: '77',
    });
  });
  // Linux: listSockets('linux') reads /proc/net, which exists only there (the parsers run everywhere).
  it.skipIf(process.platform !== 'linux')('lists real sockets', async () => {
    const list = await listSockets('linux');
    for (const s of list) expect(socketFingerprint(s)).toMatch(/^sock:(tcp|udp)6?:/);
  });
});

describe('netstat parsing', () => {
  it('parses BSD output (macOS, FreeBSD)', () => {
    const text = [
      'Active Internet connections (including servers)',
      'Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)',
      'tcp4       0      0  127.0.0.1.8080         *.*                    LISTEN',
      'tcp6       0      0  ::1.5432               ::1.60000              ESTABLISHED',
      'udp4       0      0  *.5353                 *.*',
    ].join('\n');
    const list = parseNetstat(text);
    expect(list).toHaveLength(3);
    expect(list[0]).toMatchObject({
      protocol: 'tcp',
      localAddress: '127.0.0.1',
      localPort: 8080,
      state: 'LISTEN',
    });
    expect(list[1]).toMatchObject({
      protocol: 'tcp6',
      localAddress: '::1',
      localPort: 5432,
      remotePort: 60000,
    });
    expect(list[2]).toMatchObject({ protocol: 'udp', localPort: 5353 });
  });
  it('parses Windows output', () => {
    const text = [
      '  Proto  Local Address          Foreign Address        State           PID',
      '  TCP    0.0.0.0:135            0.0.0.0:0              LISTENING       1000',
      '  TCP    [::1]:49664            [::]:0                 LISTENING       700',
      '  UDP    0.0.0.0:5353           *:*                                    2000',
    ].join('\r\n');
    const list = parseNetstat(text);
    expect(list).toHaveLength(3);
    expect(list[0]).toMatchObject({
      protocol: 'tcp',
      localAddress: '0.0.0.0',
      localPort: 135,
      state: 'LISTENING',
    });
    expect(list[1]).toMatchObject({ protocol: 'tcp6', localAddress: '::1', localPort: 49664 });
    expect(list[2]).toMatchObject({ protocol: 'udp', localPort: 5353 });
  });
});
