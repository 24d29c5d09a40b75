import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One TCP or UDP socket as netmond reports it. */
export interface SocketInfo {
  protocol: 'tcp' | 'tcp6' | 'udp' | 'udp6';
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: string;
  uid: number;
  inode: string;
}

/** Which source a platform uses. */
export function socketSource(platform: NodeJS.Platform): 'procfs' | 'netstat' {
  return platform === 'linux' || platform === 'android' ? 'procfs' : 'netstat';
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED',
  '02': 'SYN_SENT',
  '03': 'SYN_RECV',
  '04': 'FIN_WAIT1',
  '05': 'FIN_WAIT2',
  '06': 'TIME_WAIT',
  '07': 'CLOSE',
  '08': 'CLOSE_WAIT',
  '09': 'LAST_ACK',
  '0A': 'LISTEN',
  '0B': 'CLOSING',
};

function hexToIpv4(hex: string): string {
  const bytes = [hex.slice(6, 8), hex.slice(4, 6), hex.slice(2, 4), hex.slice(0, 2)];
  return bytes.map((b) => Number.parseInt(b, 16)).join('.');
}

function hexToIpv6(hex: string): string {
  // Four little-endian 32-bit words.
  const groups: string[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    const le = (word.match(/../g) ?? []).reverse().join('');
    groups.push(le.slice(0, 4), le.slice(4, 8));
  }
  return groups.map((g) => g.replace(/^0+(?=.)/, '').toLowerCase()).join(':');
}

/** Parses one `/proc/net/{tcp,tcp6,udp,udp6}` table. */
export function parseProcNet(text: string, protocol: SocketInfo['protocol']): SocketInfo[] {
  const out: SocketInfo[] = [];
  const v6 = protocol.endsWith('6');
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [local = '', remote = ''] = [f[1], f[2]];
    const [lAddr = '', lPort = '0'] = local.split(':');
    const [rAddr = '', rPort = '0'] = remote.split(':');
    const decode = v6 ? hexToIpv6 : hexToIpv4;
    const st = f[3] ?? '';
    out.push({
      protocol,
      localAddress: decode(lAddr),
      localPort: Number.parseInt(lPort, 16),
      remoteAddress: decode(rAddr),
      remotePort: Number.parseInt(rPort, 16),
      state: protocol.startsWith('tcp') ? (TCP_STATES[st] ?? st) : st === '07' ? 'UNCONN' : st,
      uid: Number(f[7]),
      inode: f[9] ?? '',
    });
  }
  return out;
}

function splitHostPort(value: string): [string, number] {
  // netstat prints 127.0.0.1.8080 (BSD), 127.0.0.1:8080 or [::1]:8080 (Windows), *.* for wildcards.
  const bracket = /^\[(.*)\]:(\d+|\*)$/.exec(value);
  if (bracket) return [bracket[1] ?? '', Number(bracket[2]) || 0];
  const sep = Math.max(value.lastIndexOf(':'), value.lastIndexOf('.'));
  if (sep < 0) return [value, 0];
  return [value.slice(0, sep), Number(value.slice(sep + 1)) || 0];
}

/** Parses `netstat -an` (macOS, FreeBSD) or `netstat -ano` (Windows) output. */
export function parseNetstat(text: string): SocketInfo[] {
  const out: SocketInfo[] = [];
  for (const line of text.split(/\r?\n/)) {
    const f = line.trim().split(/\s+/);
    const proto = (f[0] ?? '').toLowerCase();
    const known = ['tcp4', 'tcp6', 'tcp46', 'udp4', 'udp6', 'udp46', 'tcp', 'udp'];
    if (!known.includes(proto)) continue;
    const isTcp = proto.startsWith('tcp');
    // BSD: proto recv-q send-q local foreign (state); Windows: proto local foreign (state) pid.
    const bsd = /^\d+$/.test(f[1] ?? '') && /^\d+$/.test(f[2] ?? '');
    const local = bsd ? f[3] : f[1];
    const remote = bsd ? f[4] : f[2];
    const state = isTcp ? ((bsd ? f[5] : f[3]) ?? '') : '';
    if (!local || !remote) continue;
    const [la, lp] = splitHostPort(local);
    const [ra, rp] = splitHostPort(remote);
    const v6 = proto.endsWith('6') || la.includes(':');
    out.push({
      protocol: isTcp ? (v6 ? 'tcp6' : 'tcp') : v6 ? 'udp6' : 'udp',
      localAddress: la,
      localPort: lp,
      remoteAddress: ra,
      remotePort: rp,
      state,
      uid: -1,
      inode: '',
    });
  }
  return out;
}

/** Lists the real TCP and UDP sockets of this machine. */
export async function listSockets(
  platform: NodeJS.Platform = process.platform,
): Promise<SocketInfo[]> {
  if (socketSource(platform) === 'procfs') {
    const tables: SocketInfo['protocol'][] = ['tcp', 'tcp6', 'udp', 'udp6'];
    const parts = await Promise.all(
      tables.map(async (t) =>
        parseProcNet(await readFile(`/proc/net/${t}`, 'utf8').catch(() => ''), t),
      ),
    );
    return parts.flat();
  }
  const args = platform === 'win32' ? ['-ano'] : ['-an'];
  const { stdout } = await run('netstat', args, { maxBuffer: 32 * 1024 * 1024, windowsHide: true });
  return parseNetstat(stdout);
}

/** Stable identity of a socket. */
export function socketFingerprint(s: SocketInfo): string {
  return `sock:${s.protocol}:${s.localAddress}:${s.localPort}:${s.remoteAddress}:${s.remotePort}:${s.inode}`;
}
